//! Issue 19 item 5, against a real PostgreSQL server with ssl=on and a private CA (as Supabase's pooler has):
//! with `DATABASE_CA_CERT` the screener reaches it at `sslmode=verify-full`; without it the server's
//! certificate is refused, so `sslmode` never has to be lowered to make the connection work.

use fleet_test_support::postgres::{PgCluster, PgOptions};
use screener::config::Config;
use screener::store::{Scope, Store};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

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

/// A throwaway CA and a certificate for `localhost` signed by it, readable by the PostgreSQL server's user.
fn private_ca(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=private-pooler-CA \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
                -keyout ca.key -out ca.pem";
    openssl(dir, &args.split(' ').collect::<Vec<_>>());
    let args = "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr";
    openssl(dir, &args.split(' ').collect::<Vec<_>>());
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let args = "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
                -extfile server.ext -out server.crt";
    openssl(dir, &args.split(' ').collect::<Vec<_>>());
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(
        dir.join("server.crt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    if let Some((uid, gid)) = postgres_user_when_root() {
        std::os::unix::fs::chown(&key, Some(uid), Some(gid)).unwrap();
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

async fn fingerprint(url: &str, ca: Option<&str>) -> Result<String, String> {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATABASE_URL".into(), url.into());
    if let Some(ca) = ca {
        env.insert("DATABASE_CA_CERT".into(), ca.into());
    }
    let config = Config::from_map(&env).map_err(|e| e.to_string())?;
    let store = Store::open(&config).map_err(|e| e.to_string())?;
    store
        .traders_fingerprint(Scope::BuiltIn)
        .await
        .map_err(|e| e.to_string())
}

#[test]
fn private_ca_server_is_reached_at_verify_full_with_database_ca_cert_and_refused_without_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    private_ca(dir.path());
    let cluster = PgCluster::start_dedicated(PgOptions {
        settings: vec![
            ("ssl".into(), "on".into()),
            (
                "ssl_cert_file".into(),
                dir.path().join("server.crt").display().to_string(),
            ),
            (
                "ssl_key_file".into(),
                dir.path().join("server.key").display().to_string(),
            ),
        ],
    })
    .expect("TLS cluster starts");
    let url = cluster
        .fresh_database()
        .replace("@127.0.0.1:", "@localhost:");
    let url = format!("{url}?sslmode=verify-full");
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(fingerprint(&url, Some(&ca)))
        .expect("verify-full with the private CA connects");
    let refused = runtime
        .block_on(fingerprint(&url, None))
        .expect_err("an untrusted certificate is refused");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user_info, _)| user_info.split_once(':'))
        .map(|(_, password)| password)
        .expect("the URL has a password");
    assert!(
        !refused.contains(password),
        "the password leaked: {refused}"
    );
}
