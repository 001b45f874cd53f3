//! Issue 19 item 7: a user's filter text reaches the screener's log through error reasons (an unknown field
//! of a declarative filter, a code trader's exception). It must stay on its own log line, escaped, so nobody
//! can forge a log line (e.g. a fake "signal" or "database" event) with a newline in a filter.

mod common;

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

/// The real binary on the replay sample: a JavaScript trader throws an error whose message carries a newline
/// and a forged log line, and a declarative trader's unknown field does the same. Every forged line stays
/// inside its event's line, escaped.
#[test]
fn code_trader_exception_with_a_newline_cannot_forge_a_log_line_in_the_binary() {
    let path = common::migrated_sqlite("log-injection");
    let db = rusqlite::Connection::open(&path).unwrap();
    let code = format!("throw new Error(\"boom\\n{FORGED}\");");
    let insert = "INSERT INTO traders (id, is_built_in, enabled, name, filter, language) \
                  VALUES (?1, 1, 1, 'forger', ?2, ?3)";
    let code_filter = serde_json::json!({"code": code, "requiredTimeframes": ["1m"], "description": [], "indicators": []});
    db.execute(
        insert,
        rusqlite::params![
            Uuid::new_v4().to_string(),
            code_filter.to_string(),
            "javascript"
        ],
    )
    .unwrap();
    let declarative = serde_json::json!({"version": 1, format!("x\n{FORGED}"): 1});
    db.execute(
        insert,
        rusqlite::params![
            Uuid::new_v4().to_string(),
            declarative.to_string(),
            "javascript"
        ],
    )
    .unwrap();
    let s = common::Screener::start(&common::replay_env(&format!("sqlite://{}", path.display())));
    common::wait_for(
        "the code trader fails and the bad filter is disabled",
        std::time::Duration::from_secs(60),
        || {
            let log = s.log_text();
            (log.contains("code trader failed") && log.contains("trader disabled")).then_some(())
        },
    );
    let log = s.log_text();
    s.stop();
    let forged_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.trim_start().starts_with("2026-01-01T00:00:00"))
        .collect();
    assert!(
        forged_lines.is_empty(),
        "forged log lines: {forged_lines:?}\n{log}"
    );
    assert!(
        log.contains(FORGED),
        "the reasons are logged (escaped): {log}"
    );
}
