//! Issue 19 item 7: a user's filter text reaches the screener's log through error reasons (an unknown field
//! of a declarative filter, a code trader's exception). It must stay on its own log line, escaped, so nobody
//! can forge a log line (e.g. a fake "signal" or "database" event) with a newline in a filter.

use screener::code::CodeCache;
use screener::store::TraderRow;
use screener::traders::compile_rows;
use std::io::Write;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const FORGED: &str =
    "2026-01-01T00:00:00.000000Z  INFO signal trader=00000000-0000-0000-0000-000000000000 FORGED";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn logged(run: impl FnOnce()) -> String {
    let out = Captured::default();
    tracing::subscriber::with_default(screener::logging::subscriber(out.clone()), run);
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn filter_error_reason_with_a_newline_cannot_forge_a_log_line() {
    let row = TraderRow {
        id: Uuid::new_v4(),
        user_id: Some(Uuid::new_v4()),
        name: "mine".into(),
        filter: serde_json::json!({"version": 1, format!("x\n{FORGED}\r\u{1b}[2K"): 1}),
        language: None,
    };
    let mut cache = CodeCache::default();
    let log = logged(|| {
        let set = compile_rows(vec![row], &mut cache);
        assert_eq!(set.invalid.len(), 1, "the filter is refused");
        assert!(
            set.invalid[0].reason.contains(FORGED),
            "the reason echoes the filter"
        );
    });
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "one event, one line: {log:?}");
    assert!(lines[0].contains("trader disabled"), "{log:?}");
    assert!(
        lines[0].contains("\\n2026-01-01") && !log.contains('\r') && !log.contains("\u{1b}[2K"),
        "escaped: {log:?}"
    );
}
