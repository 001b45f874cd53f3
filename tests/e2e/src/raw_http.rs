//! A minimal HTTP/1.1 client over a plain TCP socket, so hostile requests reach the host exactly as written
//! (HTTP client libraries normalise `..`, `%2e%2e` and odd methods away before sending).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// One request, sent byte for byte: `target` is the raw request-target.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub label: String,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Names lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How long [`send`] waits for the answer before it reports the request as hung.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(90);

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
pub fn send(addr: SocketAddr, req: &RawRequest) -> RawResponse {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the host");
    stream
        .set_read_timeout(Some(ANSWER_WITHIN))
        .expect("set a read timeout");
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", req.method, req.target);
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    stream.write_all(head.as_bytes()).expect("send the head");
    // The host may answer (and close) before reading a large body; that is an answer too.
    let _ = stream.write_all(&req.body);
    let mut bytes = Vec::new();
    if let Err(error) = stream.read_to_end(&mut bytes) {
        let hung = matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        assert!(
            !bytes.is_empty(),
            "{}",
            if hung {
                format!(
                    "{}: {} {}: the request hung (no answer in {} s); the host has no request deadline, as Spin has none",
                    req.label,
                    req.method,
                    req.target,
                    ANSWER_WITHIN.as_secs()
                )
            } else {
                format!("{}: no answer from the host: {error}", req.label)
            }
        );
    }
    parse(&bytes, req.method == "HEAD")
        .unwrap_or_else(|| panic!("{}: not an HTTP answer: {:?}", req.label, lossy(&bytes)))
}

/// How [`send_generated`] frames its body on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: <size>` up front.
    ContentLength,
    /// `Transfer-Encoding: chunked`: the server learns the size only by reading.
    Chunked,
}

/// Sends a body of `size` bytes of `fill`, generated while it is written (never held in memory here), and
/// reads the answer while the body is still going out: a server that refuses early answers and closes
/// before the body ends, and that answer must not be lost to the connection reset that follows.
pub fn send_generated(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    size: u64,
    framing: Framing,
) -> RawResponse {
    const CHUNK: usize = 64 * 1024;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the host");
    stream
        .set_read_timeout(Some(ANSWER_WITHIN))
        .expect("set a read timeout");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&match framing {
        Framing::ContentLength => format!("Content-Length: {size}\r\n"),
        Framing::Chunked => "Transfer-Encoding: chunked\r\n".to_string(),
    });
    head.push_str("Connection: close\r\n\r\n");
    let mut writer = stream.try_clone().expect("clone the socket");
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(head.as_bytes())?;
        let block = vec![b'a'; CHUNK];
        let mut left = size;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            if framing == Framing::Chunked {
                writer.write_all(format!("{n:x}\r\n").as_bytes())?;
            }
            writer.write_all(&block[..n])?;
            if framing == Framing::Chunked {
                writer.write_all(b"\r\n")?;
            }
            left -= n as u64;
        }
        if framing == Framing::Chunked {
            writer.write_all(b"0\r\n\r\n")?;
        }
        Ok(())
    });
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let answer = loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break parse(&bytes, method == "HEAD"),
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if let Some(answer) = parse(&bytes, method == "HEAD").filter(complete) {
                    break Some(answer);
                }
            }
        }
    };
    // Stop the sender if the server stopped reading.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    answer.unwrap_or_else(|| {
        panic!(
            "{method} {target} with {size} body bytes: no complete HTTP answer: {:?}",
            lossy(&bytes)
        )
    })
}

/// Whether a parsed answer has all the body its `Content-Length` announces (chunked answers parse only once
/// complete).
fn complete(answer: &RawResponse) -> bool {
    answer
        .header("content-length")
        .and_then(|n| n.parse::<usize>().ok())
        .is_none_or(|n| answer.body.len() >= n)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned()
}

fn parse(bytes: &[u8], head_only: bool) -> Option<RawResponse> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &bytes[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if head_only {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\r\n{\"a\":1}";
        let r = parse(plain, false).unwrap();
        assert_eq!((r.status, r.text().as_str()), (404, "{\"a\":1}"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let chunked =
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false).unwrap().text(), "{\"a\":1}");
        assert!(parse(b"garbage", false).is_none());
    }
}
