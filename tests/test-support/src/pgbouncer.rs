//! A throwaway PgBouncer (Debian's `pgbouncer`) in front of a test cluster, standing in for Supabase's pooler
//! (Supavisor) in tests: transaction mode by default, listening on 127.0.0.1 on a free port.
//!
//! * Clients log in with their PostgreSQL role and password: PgBouncer looks the role up through `auth_query`
//!   (the default `pg_shadow` query, run as the cluster superuser, which is the only entry of its `auth_file`)
//!   and passes SCRAM through to the server. So a role created or dropped in the cluster is seen at once, as
//!   through Supavisor.
//! * Named (server-side) prepared statements are not supported: PgBouncer >= 1.21 runs with
//!   `max_prepared_statements = 0`; older versions have no such support at all. With
//!   [`PgBouncerOptions::transaction_mode`] a pool keeps two server connections handed out round-robin, so a
//!   statement prepared in one transaction is missing in the next, as on a busy production pooler.
//! * The process is killed when the value is dropped, and dies with the test process otherwise
//!   (parent-death signal).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::postgres::{
    describe, drop_privileges, run_as_owner, spawn_for_process_lifetime, unique_suffix, PgCluster,
};

/// How long PgBouncer may take to accept a first connection.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// PgBouncer settings a test may choose.
#[derive(Clone, Debug)]
pub struct PgBouncerOptions {
    /// `session`, `transaction` or `statement`.
    pub pool_mode: String,
    /// Server connections per (database, user) pool.
    pub default_pool_size: u32,
    /// Server connections PgBouncer keeps open per pool once the pool exists.
    pub min_pool_size: u32,
    /// Hand idle server connections out in turn (FIFO) rather than reusing the last one.
    pub server_round_robin: bool,
    /// Seconds PgBouncer waits after a failed server login before trying again.
    pub server_login_retry_secs: u32,
}

impl PgBouncerOptions {
    /// Supavisor's transaction mode (port 6543): a server connection per transaction, nothing kept between
    /// them; two connections per pool, handed out in turn.
    pub fn transaction_mode() -> PgBouncerOptions {
        PgBouncerOptions {
            pool_mode: "transaction".into(),
            default_pool_size: 2,
            min_pool_size: 2,
            server_round_robin: true,
            server_login_retry_secs: 1,
        }
    }
}

/// A running PgBouncer.
pub struct PgBouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
    version: (u32, u32),
}

/// `(major, minor)` of the installed PgBouncer, from `pgbouncer --version`.
pub fn installed_version() -> Result<(u32, u32), String> {
    let binary = binary()?;
    let out = Command::new(&binary)
        .arg("--version")
        .output()
        .map_err(|e| format!("running {} --version: {e}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text)
        .ok_or_else(|| format!("unrecognised `pgbouncer --version` output: {text:?}"))
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().next()?;
    let number = line.strip_prefix("PgBouncer ")?.trim();
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn binary() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("pgbouncer"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/pgbouncer")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "pgbouncer is not installed: `apt-get install pgbouncer` (tests/fleet test installs it)"
                .to_string()
        })
}

impl PgBouncer {
    /// Starts PgBouncer in front of `cluster` (every database of the cluster, under the same name).
    pub fn start(cluster: &PgCluster, options: &PgBouncerOptions) -> Result<PgBouncer, String> {
        let binary = binary()?;
        let version = installed_version()?;
        let admin: postgres::Config = cluster
            .admin_url()
            .parse()
            .map_err(|e| format!("the cluster's admin URL: {e}"))?;
        let admin_user = admin
            .get_user()
            .ok_or("the cluster's admin URL has no user")?
            .to_string();
        let admin_password = admin
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .ok_or("the cluster's admin URL has no password")?;
        let server_host = match admin.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let server_port = cluster.port();

        let dir = std::env::temp_dir().join(format!(
            "fleet-pgbouncer-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let owner = run_as_owner();
        let userlist = dir.join("userlist.txt");
        fs::write(
            &userlist,
            format!("{} {}\n", quoted(&admin_user), quoted(&admin_password)),
        )
        .map_err(|e| e.to_string())?;
        fs::set_permissions(&userlist, fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;

        let mut last_error = String::new();
        for _ in 0..5 {
            let port = crate::free_port();
            let ini = dir.join("pgbouncer.ini");
            let log = dir.join("pgbouncer.log");
            let _ = fs::remove_file(&log);
            fs::write(
                &ini,
                config(
                    options,
                    version,
                    port,
                    &server_host,
                    server_port,
                    &admin_user,
                    &userlist,
                    &log,
                ),
            )
            .map_err(|e| e.to_string())?;
            if let Some((uid, gid)) = owner {
                fs::File::create(&log).map_err(|e| e.to_string())?;
                for path in [dir.as_path(), &ini, &userlist, &log] {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid))
                        .map_err(|e| e.to_string())?;
                }
            }
            let mut command = Command::new(&binary);
            command
                .arg(&ini)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            drop_privileges(&mut command, owner);
            let child = spawn_for_process_lifetime(command, "pgbouncer")?;
            let mut bouncer = PgBouncer {
                child,
                port,
                dir: dir.clone(),
                version,
            };
            let probe = bouncer.url(&cluster.admin_url());
            match bouncer.wait_until_ready(&probe) {
                Ok(()) => return Ok(bouncer),
                Err(e) => {
                    last_error = format!("{e}\n--- pgbouncer.log ---\n{}", bouncer.log());
                    bouncer.stop();
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        Err(last_error)
    }

    /// The port PgBouncer listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `(major, minor)` of this PgBouncer.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// `database_url` (a URL of the cluster) pointed at PgBouncer: same user, password, database and
    /// parameters; host and port replaced.
    pub fn url(&self, database_url: &str) -> String {
        let (scheme, rest) = database_url
            .split_once("://")
            .expect("a postgres URL of the form postgres://user:password@host:port/database");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let userinfo = authority
            .rsplit_once('@')
            .map(|(info, _)| format!("{info}@"))
            .unwrap_or_default();
        format!("{scheme}://{userinfo}127.0.0.1:{}{tail}", self.port)
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    fn wait_until_ready(&mut self, probe_url: &str) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("pgbouncer exited during start-up ({status})"));
            }
            match postgres::Client::connect(probe_url, postgres::NoTls)
                .and_then(|mut c| c.simple_query("SELECT 1").map(|_| ()))
            {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "pgbouncer did not answer within {READY_WITHIN:?}: {}",
                        describe(&e)
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A double-quoted `auth_file` field.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[allow(clippy::too_many_arguments)]
fn config(
    options: &PgBouncerOptions,
    version: (u32, u32),
    port: u16,
    server_host: &str,
    server_port: u16,
    auth_user: &str,
    userlist: &Path,
    log: &Path,
) -> String {
    let mut ini = format!(
        "[databases]\n\
         * = host={server_host} port={server_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         logfile = {log}\n\
         pidfile =\n\
         auth_type = scram-sha-256\n\
         auth_file = {userlist}\n\
         auth_user = {auth_user}\n\
         pool_mode = {pool_mode}\n\
         default_pool_size = {pool_size}\n\
         min_pool_size = {min_pool}\n\
         server_round_robin = {round_robin}\n\
         server_login_retry = {login_retry}\n\
         max_client_conn = 200\n\
         ignore_startup_parameters = extra_float_digits\n",
        log = log.display(),
        userlist = userlist.display(),
        pool_mode = options.pool_mode,
        pool_size = options.default_pool_size,
        min_pool = options.min_pool_size,
        round_robin = u8::from(options.server_round_robin),
        login_retry = options.server_login_retry_secs,
    );
    // 1.21 added protocol-level prepared statement support (on by default from 1.22); 0 turns it off, as a
    // pooler without it behaves.
    if version >= (1, 21) {
        ini.push_str("max_prepared_statements = 0\n");
    }
    ini
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("PgBouncer 1.18.0\nlibevent 2.1.12-stable\n"),
            Some((1, 18))
        );
        assert_eq!(parse_version("PgBouncer 1.23.1"), Some((1, 23)));
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn prepared_statement_support_is_off_where_it_exists() {
        let options = PgBouncerOptions::transaction_mode();
        let at = |v| {
            config(
                &options,
                v,
                1,
                "127.0.0.1",
                2,
                "admin",
                Path::new("/u"),
                Path::new("/l"),
            )
        };
        assert!(!at((1, 18)).contains("max_prepared_statements"));
        assert!(at((1, 22)).contains("max_prepared_statements = 0\n"));
        assert!(at((1, 18)).contains("pool_mode = transaction\n"));
    }

    #[test]
    fn transaction_mode_refuses_statements_prepared_in_another_transaction() {
        let cluster = crate::postgres::cluster();
        let bouncer = PgBouncer::start(cluster, &PgBouncerOptions::transaction_mode())
            .unwrap_or_else(|e| panic!("{e}"));
        let url = bouncer.url(&cluster.url_for("postgres"));
        // Two transactions at once: the pool opens its two server connections.
        let mut first = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut second = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        first.batch_execute("BEGIN").unwrap();
        second.batch_execute("BEGIN").unwrap();
        first.batch_execute("COMMIT").unwrap();
        second.batch_execute("COMMIT").unwrap();
        drop(second);
        // Unnamed statements (parse, bind and execute in one transaction) work.
        let row = first
            .query_typed_one(
                "SELECT $1::int4 + 1",
                &[(&41i32, postgres::types::Type::INT4)],
            )
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
        // A named statement is prepared on one server connection and executed on the other.
        let err = first
            .prepare("SELECT 1")
            .and_then(|statement| first.query(&statement, &[]))
            .expect_err("a named prepared statement works through transaction pooling");
        assert!(
            describe(&err).contains("prepared statement"),
            "{}",
            describe(&err)
        );
    }
}
