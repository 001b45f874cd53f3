//! Component stdout/stderr: split into lines and prefixed with the component id, e.g. `[api] hello`.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where prefixed component output lines go.
#[derive(Clone, Default)]
pub enum OutputSink {
    /// The host process's own stdout/stderr.
    #[default]
    Process,
    /// Collected in memory (for tests), as `(stream, "[id] line")`.
    Memory(Arc<Mutex<Vec<(Stream, String)>>>),
}

impl OutputSink {
    pub(crate) fn emit(&self, stream: Stream, line: String) {
        match self {
            OutputSink::Process => {
                // Whole lines in one write so concurrent requests do not interleave mid-line.
                let _ = match stream {
                    Stream::Stdout => std::io::stdout()
                        .lock()
                        .write_all(format!("{line}\n").as_bytes()),
                    Stream::Stderr => std::io::stderr()
                        .lock()
                        .write_all(format!("{line}\n").as_bytes()),
                };
            }
            OutputSink::Memory(lines) => lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((stream, line)),
        }
    }
}

/// Buffers bytes and yields complete lines.
#[derive(Debug, Default)]
struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            lines.push(
                String::from_utf8_lossy(&line[..end])
                    .trim_end_matches('\r')
                    .to_string(),
            );
        }
        lines
    }

    fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
    }
}

/// A `StdoutStream` for one component instance.
#[derive(Clone)]
pub struct ComponentOutput {
    component_id: Arc<str>,
    stream: Stream,
    sink: OutputSink,
}

impl ComponentOutput {
    pub fn new(component_id: Arc<str>, stream: Stream, sink: OutputSink) -> Self {
        ComponentOutput {
            component_id,
            stream,
            sink,
        }
    }
}

impl IsTerminal for ComponentOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ComponentOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(PrefixedWriter {
            output: self.clone(),
            lines: LineSplitter::default(),
        })
    }
}

struct PrefixedWriter {
    output: ComponentOutput,
    lines: LineSplitter,
}

impl PrefixedWriter {
    fn emit(&self, line: String) {
        let prefixed = format!("[{}] {line}", self.output.component_id);
        self.output.sink.emit(self.output.stream, prefixed);
    }
}

impl AsyncWrite for PrefixedWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        for line in self.lines.push(buf) {
            self.emit(line);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(rest) = self.lines.finish() {
            self.emit(rest);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for PrefixedWriter {
    fn drop(&mut self) {
        if let Some(rest) = self.lines.finish() {
            self.emit(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_writes() {
        let mut splitter = LineSplitter::default();
        assert!(splitter.push(b"hel").is_empty());
        assert_eq!(splitter.push(b"lo\r\nwor"), vec!["hello"]);
        assert_eq!(splitter.push(b"ld\n\n"), vec!["world", ""]);
        assert_eq!(splitter.finish(), None);
        splitter.push(b"tail");
        assert_eq!(splitter.finish().as_deref(), Some("tail"));
    }

    #[test]
    fn prefixes_with_component_id() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let output = ComponentOutput::new(
            "api".into(),
            Stream::Stderr,
            OutputSink::Memory(lines.clone()),
        );
        let mut writer = PrefixedWriter {
            output,
            lines: LineSplitter::default(),
        };
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let _ = Pin::new(&mut writer).poll_write(&mut cx, b"one\ntwo");
        drop(writer);
        let lines = lines.lock().unwrap();
        assert_eq!(
            *lines,
            vec![
                (Stream::Stderr, "[api] one".to_string()),
                (Stream::Stderr, "[api] two".to_string())
            ]
        );
    }
}
