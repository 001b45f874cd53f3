//! The address a request came from, for throttling failed logins per source.
//!
//! Spin sets `spin-client-addr` (`ip:port`) on every request, appended after any header of that name the client
//! sent, so the last value is the runtime's. Behind a proxy that is the proxy's address (Fly's edge, a load
//! balancer): an operator names the header that proxy overwrites with the real client (`client_ip_header`,
//! e.g. `fly-client-ip`); the last value of that header is used. Without a header the source is `unknown`,
//! which still counts towards the global limit.

/// The source of a request whose headers are `headers` (any case). `trusted_header` is empty to use Spin's
/// `spin-client-addr`.
pub fn client_source<'a>(
    headers: impl DoubleEndedIterator<Item = (&'a str, &'a str)>,
    trusted_header: &str,
) -> String {
    let name = if trusted_header.trim().is_empty() {
        "spin-client-addr"
    } else {
        trusted_header.trim()
    };
    let Some(value) = headers
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
    else {
        return "unknown".into();
    };
    // A forwarded list ("client, proxy"): the left-most entry is the client as the trusted proxy saw it.
    let first = value.split(',').next().unwrap_or("").trim();
    let host = host_of(first);
    if host.is_empty()
        || host.len() > 64
        || !host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
    {
        return "unknown".into();
    }
    host.to_ascii_lowercase()
}

/// `1.2.3.4:5` -> `1.2.3.4`, `[::1]:5` -> `::1`; a bare address stays as it is.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(headers: &[(&str, &str)], trusted: &str) -> String {
        client_source(headers.iter().copied(), trusted)
    }

    #[test]
    fn spins_client_address_without_its_port() {
        assert_eq!(
            source(&[("spin-client-addr", "10.1.2.3:55001")], ""),
            "10.1.2.3"
        );
        assert_eq!(source(&[("spin-client-addr", "[::1]:55001")], ""), "::1");
        assert_eq!(source(&[("Spin-Client-Addr", "fe80::1")], ""), "fe80::1");
    }

    #[test]
    fn a_forged_header_before_spins_own_is_ignored() {
        let headers = [
            ("spin-client-addr", "6.6.6.6:1"),
            ("spin-client-addr", "10.1.2.3:9"),
        ];
        assert_eq!(source(&headers, ""), "10.1.2.3");
    }

    #[test]
    fn a_trusted_proxy_header_names_the_client() {
        let headers = [
            ("spin-client-addr", "172.16.0.1:9"),
            ("fly-client-ip", "203.0.113.7"),
        ];
        assert_eq!(source(&headers, "fly-client-ip"), "203.0.113.7");
        let forwarded = [("x-forwarded-for", "203.0.113.7, 172.16.0.1")];
        assert_eq!(source(&forwarded, "x-forwarded-for"), "203.0.113.7");
    }

    #[test]
    fn missing_or_garbage_addresses_are_unknown() {
        assert_eq!(source(&[], ""), "unknown");
        assert_eq!(
            source(&[("spin-client-addr", "' OR 1=1 --")], ""),
            "unknown"
        );
        assert_eq!(source(&[("fly-client-ip", "")], "fly-client-ip"), "unknown");
    }
}
