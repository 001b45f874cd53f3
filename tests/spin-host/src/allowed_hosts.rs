//! `allowed_outbound_hosts` rules (after template rendering): `scheme://host[:port]` where scheme, host and port may
//! be `*`, host may be `*.domain` (subdomains only), port may be a range `a..b`; a missing port means the scheme's
//! default. `insecure:allow-all` allows everything.

use anyhow::{anyhow, bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    /// Inclusive range; a single port is `(p, p)`.
    Range(u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None` = any scheme.
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    allow_all: bool,
    rules: Vec<Rule>,
}

impl AllowedHosts {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let mut allowed = AllowedHosts::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry == "insecure:allow-all" {
                allowed.allow_all = true;
                continue;
            }
            let rule = parse_rule(entry)
                .with_context(|| format!("invalid allowed_outbound_hosts entry `{entry}`"))?;
            allowed.rules.push(rule);
        }
        Ok(allowed)
    }

    /// Whether a connection to `scheme://host:port` is allowed; `port: None` means the scheme's default port.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if self.allow_all {
            return true;
        }
        let scheme = scheme.to_ascii_lowercase();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let Some(port) = port.or_else(|| default_port(&scheme)) else {
            return false;
        };
        self.rules.iter().any(|rule| {
            rule.scheme.as_deref().is_none_or(|s| s == scheme)
                && match &rule.host {
                    HostPattern::Any => true,
                    HostPattern::Subdomain(suffix) => host.ends_with(suffix.as_str()),
                    HostPattern::Exact(exact) => *exact == host,
                }
                && match rule.port {
                    PortPattern::Any => true,
                    PortPattern::Range(low, high) => (low..=high).contains(&port),
                }
        })
    }

    /// Checks an absolute URL such as an outbound HTTP request's URI.
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => self.allows(scheme, host, uri.port_u16()),
            _ => self.allow_all,
        }
    }
}

fn parse_rule(entry: &str) -> Result<Rule> {
    let (scheme, rest) = entry
        .split_once("://")
        .ok_or_else(|| anyhow!("expected scheme://host[:port]"))?;
    let rest = match rest.split_once('/') {
        Some((authority, "")) => authority,
        Some(_) => bail!("paths are not allowed"),
        None => rest,
    };
    let scheme = match scheme {
        "*" => None,
        s if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            Some(s.to_ascii_lowercase())
        }
        _ => bail!("bad scheme `{scheme}`"),
    };
    let (host, port) = split_host_port(rest)?;
    let host = match host.as_str() {
        "" => bail!("missing host"),
        "*" => HostPattern::Any,
        h if h.starts_with("*.") => HostPattern::Subdomain(h[1..].to_string()),
        h if h.contains('*') => bail!("`*` is only allowed as the whole host or a leading `*.`"),
        h => HostPattern::Exact(h.to_string()),
    };
    let port = match port.as_deref() {
        Some("*") => PortPattern::Any,
        Some(port) => parse_port_range(port)?,
        None => {
            let default = scheme
                .as_deref()
                .and_then(default_port)
                .ok_or_else(|| anyhow!("a port is required for this scheme"))?;
            PortPattern::Range(default, default)
        }
    };
    Ok(Rule { scheme, host, port })
}

fn split_host_port(authority: &str) -> Result<(String, Option<String>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("unterminated IPv6 address"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    Ok((host.to_ascii_lowercase(), port.map(str::to_string)))
}

fn parse_port_range(port: &str) -> Result<PortPattern> {
    let parse = |p: &str| p.parse::<u16>().map_err(|_| anyhow!("bad port `{p}`"));
    Ok(match port.split_once("..") {
        Some((low, high)) => PortPattern::Range(parse(low)?, parse(high)?),
        None => {
            let port = parse(port)?;
            PortPattern::Range(port, port)
        }
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "postgres" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "mqtt" => 1883,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).unwrap()
    }

    #[test]
    fn exact_hosts_use_default_ports() {
        let a = allowed(&["https://api.example.com", "http://127.0.0.1:8080"]);
        assert!(a.allows("https", "api.example.com", None));
        assert!(a.allows("https", "API.example.com", Some(443)));
        assert!(!a.allows("https", "api.example.com", Some(8443)));
        assert!(!a.allows("http", "api.example.com", None));
        assert!(a.allows("http", "127.0.0.1", Some(8080)));
        assert!(!a.allows("http", "127.0.0.1", Some(8081)));
        assert!(!a.allows("https", "evil.com", None));
    }

    #[test]
    fn wildcards_and_ranges() {
        let a = allowed(&[
            "https://*.example.com",
            "*://*:*",
            "postgres://db:5000..5010",
        ]);
        assert!(a.allows("ftp", "anything", Some(1)));
        let b = allowed(&["https://*.example.com", "postgres://db:5000..5010"]);
        assert!(b.allows("https", "a.b.example.com", None));
        assert!(!b.allows("https", "example.com", None));
        assert!(!b.allows("https", "badexample.com", None));
        assert!(b.allows("postgres", "db", Some(5005)));
        assert!(!b.allows("postgres", "db", Some(5432)));
        let c = allowed(&["postgres://localhost"]);
        assert!(c.allows("postgres", "localhost", None));
        assert!(c.allows("postgres", "localhost", Some(5432)));
    }

    #[test]
    fn uris_and_allow_all() {
        let a = allowed(&["http://127.0.0.1:9000"]);
        assert!(a.allows_uri(&"http://127.0.0.1:9000/x?y".parse().unwrap()));
        assert!(!a.allows_uri(&"http://127.0.0.1:9001/x".parse().unwrap()));
        assert!(allowed(&["insecure:allow-all"]).allows("https", "x.y", None));
        assert!(!AllowedHosts::default().allows("https", "x.y", None));
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "example.com",
            "https://ex*ample.com",
            "https://a.com/path",
            "custom://host",
            "https://h:99999",
        ] {
            assert!(AllowedHosts::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
