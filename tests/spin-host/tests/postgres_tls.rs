//! Postgres over TLS (sslmode=require) with rustls, against a real PostgreSQL server with ssl=on and a test CA.

mod common;

use common::{post_json, TestApp};
use fleet_test_support::postgres::{PgCluster, PgOptions};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct TestCa {
    _dir: tempfile::TempDir,
    ca_pem: PathBuf,
    server_crt: PathBuf,
    server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A throwaway CA and a server certificate for 127.0.0.1, readable by the PostgreSQL server's user.
fn test_ca() -> TestCa {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    openssl(
        path,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=fleet test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        path,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        path.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        path,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    let server_key = path.join("server.key");
    std::fs::set_permissions(&server_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(
        path.join("server.crt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    if let Some((uid, gid)) = postgres_user_when_root() {
        std::os::unix::fs::chown(&server_key, Some(uid), Some(gid)).unwrap();
    }
    TestCa {
        ca_pem: path.join("ca.pem"),
        server_crt: path.join("server.crt"),
        server_key,
        _dir: dir,
    }
}

/// The server runs as `postgres` when the tests run as root; its key must then belong to that user.
fn postgres_user_when_root() -> Option<(u32, u32)> {
    let id = |args: &[&str]| -> u32 {
        let output = Command::new("id").args(args).output().expect("running id");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id(&["-u"]) == 0).then(|| (id(&["-u", "postgres"]), id(&["-g", "postgres"])))
}

fn tls_cluster(ca: &TestCa) -> PgCluster {
    let settings = vec![
        ("ssl".to_string(), "on".to_string()),
        (
            "ssl_cert_file".to_string(),
            ca.server_crt.display().to_string(),
        ),
        (
            "ssl_key_file".to_string(),
            ca.server_key.display().to_string(),
        ),
    ];
    PgCluster::start_dedicated(PgOptions { settings }).expect("TLS cluster starts")
}

#[test]
fn sslmode_require_connects_over_verified_tls() {
    let ca = test_ca();
    let cluster = tls_cluster(&ca);
    let url = format!("{}?sslmode=require", cluster.fresh_database());
    let app = TestApp::new();
    let query = json!({ "statement": "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" });

    let host = app
        .config()
        .variable("pg_url", &url)
        .variable("pg_port", cluster.port().to_string())
        .postgres_ca_file(&ca.ca_pem)
        .start()
        .unwrap();
    let (status, body) = post_json(&common::client(), &host.url("/api/pg/query"), &query);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rows"],
        json!([[{ "type": "boolean", "value": true }]])
    );
    host.shutdown();

    // Without the test CA the server's certificate is not trusted: a connection error, not a trap or plaintext.
    let host = app
        .config()
        .variable("pg_url", &url)
        .variable("pg_port", cluster.port().to_string())
        .start()
        .unwrap();
    let (status, body) = post_json(&common::client(), &host.url("/api/pg/query"), &query);
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("ConnectionFailed"), "{error}");
}
