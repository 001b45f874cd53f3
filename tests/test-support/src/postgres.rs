//! Throwaway PostgreSQL clusters started from the system binaries, or the server named by `DATABASE_URL`,
//! made to look like a Supabase project (see `tests/platform-fixture/README.md`).
//!
//! * The cluster superuser is `supabase_admin`; `postgres` is a LOGIN role without SUPERUSER (CREATEDB,
//!   CREATEROLE, BYPASSRLS), with the admin's password; `anon`, `authenticated`, `service_role`, `authenticator`
//!   and `supabase_auth_admin` exist as on Supabase (`tests/platform-fixture/roles.sql`).
//! * Two template databases are built once per cluster (and kept across runs on a `DATABASE_URL` server, named
//!   by a hash of the fixture SQL): Supabase's own schemas (`supabase.sql`, as the superuser) and, on top, the
//!   platform's production schema (`platform.sql`, as `postgres`).
//! * [`PgCluster::fresh_database`] (the default for every Fleet test) copies the platform template and returns a
//!   URL for the `postgres` role; [`PgCluster::fresh_supabase_database`] copies the Supabase-only template;
//!   [`PgCluster::fresh_vanilla_database`] is an empty database with a superuser URL (Fleet's "vanilla
//!   PostgreSQL" mode).
//!
//! A cluster's postmaster is started from a dedicated thread that never exits and carries a parent-death
//! signal, so it dies with the test process even when the process is killed; leftover data directories of
//! dead test processes are removed the next time a cluster starts.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SUPERUSER: &str = "supabase_admin";
/// The role a Supabase customer (and so Fleet's migrations and tests) connects as.
pub const CUSTOMER_ROLE: &str = "postgres";
const DIR_PREFIX: &str = "fleet-pg-";
/// Serialises role creation and template builds across processes sharing one server (`DATABASE_URL`).
const FIXTURE_LOCK: i64 = 0x666c_6565_745f_7478;

/// Extra settings for a dedicated cluster, e.g. `("shared_preload_libraries", "pg_cron")`.
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    pub settings: Vec<(String, String)>,
}

/// A PostgreSQL server that tests may create databases in.
pub struct PgCluster {
    admin_url: String,
    process: Option<Mutex<ClusterProcess>>,
    templates: OnceLock<Result<Templates, String>>,
}

/// The names of the two template databases and how long building them took (zero when they already existed).
#[derive(Clone, Debug)]
pub struct Templates {
    pub supabase: String,
    pub platform: String,
    pub build_time: Duration,
}

struct ClusterProcess {
    postmaster: Child,
    data_root: PathBuf,
}

/// The cluster shared by every test in this process: started on first use, or `DATABASE_URL` when set.
pub fn cluster() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => PgCluster::from_superuser_url(url)
            .unwrap_or_else(|e| panic!("preparing the DATABASE_URL server: {e}")),
        _ => PgCluster::start_dedicated(PgOptions::default())
            .unwrap_or_else(|e| panic!("starting a throwaway PostgreSQL cluster: {e}")),
    })
}

impl PgCluster {
    /// Uses an existing server through a superuser URL (as `DATABASE_URL` gives): creates the Supabase roles
    /// that are missing and sets the `postgres` and `authenticator` passwords to the URL's password. The URL's
    /// user must not be `postgres` (that role has to be a non-superuser here).
    pub fn from_superuser_url(url: String) -> Result<PgCluster, String> {
        prepare_roles(&url)?;
        Ok(PgCluster {
            admin_url: url,
            process: None,
            templates: OnceLock::new(),
        })
    }

    /// Starts a private cluster with `options`; it is shut down when the value is dropped.
    pub fn start_dedicated(options: PgOptions) -> Result<PgCluster, String> {
        remove_stale_data_dirs();
        let bindir = postgres_bindir()?;
        let data_root = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        let password = format!("pw{:016x}", random_u64());
        let owner = run_as_owner();
        init_cluster(&bindir, &data_root, &password, owner)?;
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = crate::free_port();
            let postmaster = spawn_postmaster(&bindir, &data_root, port, &options, owner)?;
            let mut process = ClusterProcess {
                postmaster,
                data_root: data_root.clone(),
            };
            let admin_url = format!("postgres://{SUPERUSER}:{password}@127.0.0.1:{port}/postgres");
            match wait_until_ready(&admin_url, &mut process.postmaster) {
                Ok(()) => {
                    let cluster = PgCluster {
                        admin_url,
                        process: Some(Mutex::new(process)),
                        templates: OnceLock::new(),
                    };
                    prepare_roles(&cluster.admin_url)?;
                    return Ok(cluster);
                }
                Err(e) => {
                    last_error = e;
                    process.stop_postmaster();
                }
            }
        }
        let log = fs::read_to_string(data_root.join("postgres.log")).unwrap_or_default();
        let _ = fs::remove_dir_all(&data_root);
        Err(format!("{last_error}\n--- postgres.log ---\n{log}"))
    }

    /// A superuser URL (`supabase_admin` on a throwaway cluster) for the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.admin_url.clone()
    }

    /// A new database copied from the platform template: Supabase's schemas plus the platform's production
    /// schema (`tests/platform-fixture`). The URL is for the `postgres` role, which is NOT a superuser, as on
    /// Supabase. The default for every Fleet test.
    pub fn fresh_database(&self) -> String {
        let template = self.templates().platform.clone();
        let name = self.create_database(Some(&template), Some(CUSTOMER_ROLE));
        self.url_for(&name)
    }

    /// A new database copied from the Supabase template only (auth, extensions, vault, net, cron, the API roles'
    /// grants; no platform tables), for tests that apply the platform's schema themselves. URL for `postgres`.
    pub fn fresh_supabase_database(&self) -> String {
        let template = self.templates().supabase.clone();
        let name = self.create_database(Some(&template), Some(CUSTOMER_ROLE));
        self.url_for(&name)
    }

    /// A new, empty database owned by the superuser, and a superuser URL for it: plain PostgreSQL with nothing
    /// of Supabase (Fleet's "vanilla PostgreSQL" mode).
    pub fn fresh_vanilla_database(&self) -> String {
        let name = self.create_database(None, None);
        self.superuser_url_for(&name)
    }

    /// A URL for the `postgres` role (not a superuser; the admin's password) on `database`.
    pub fn url_for(&self, database: &str) -> String {
        rewrite_url(&self.admin_url, Some(CUSTOMER_ROLE), database)
    }

    /// The superuser URL pointed at `database`.
    pub fn superuser_url_for(&self, database: &str) -> String {
        rewrite_url(&self.admin_url, None, database)
    }

    /// The template databases, built on first use (once per cluster; on a shared server, once per fixture
    /// version). Panics with the failing statement's error when the fixture SQL does not apply.
    pub fn templates(&self) -> &Templates {
        match self.templates.get_or_init(|| build_templates(self)) {
            Ok(templates) => templates,
            Err(e) => panic!("building the platform fixture templates: {e}"),
        }
    }

    fn create_database(&self, template: Option<&str>, owner: Option<&str>) -> String {
        let name = format!("t_{}_{}", std::process::id(), unique_suffix());
        let mut sql = format!("CREATE DATABASE \"{name}\"");
        if let Some(template) = template {
            sql.push_str(&format!(" TEMPLATE \"{template}\""));
        }
        if let Some(owner) = owner {
            sql.push_str(&format!(" OWNER \"{owner}\""));
        }
        let mut client = postgres::Client::connect(&self.admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to the test cluster: {}", describe(&e)));
        client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("creating test database {name}: {}", describe(&e)));
        name
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        let config: postgres::Config = self.admin_url.parse().expect("admin URL parses");
        config.get_ports().first().copied().unwrap_or(5432)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(process) = &self.process {
            let mut process = process.lock().unwrap_or_else(|p| p.into_inner());
            process.stop_postmaster();
            let _ = fs::remove_dir_all(&process.data_root);
        }
    }
}

impl ClusterProcess {
    fn stop_postmaster(&mut self) {
        // SIGQUIT is PostgreSQL's immediate shutdown: fine for throwaway data.
        unsafe { libc::kill(self.postmaster.id() as i32, libc::SIGQUIT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.postmaster.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.postmaster.kill();
        let _ = self.postmaster.wait();
    }
}

/// The directory holding `initdb` and `postgres`.
fn postgres_bindir() -> Result<PathBuf, String> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut candidates: Vec<PathBuf> = from_pg_config.into_iter().collect();
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
        .ok_or_else(|| {
            "no PostgreSQL server binaries found (looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin); \
             install postgresql-15 or set DATABASE_URL"
                .to_string()
        })
}

/// The uid/gid to run the server as: the `postgres` user when we are root (PostgreSQL refuses root).
pub(crate) fn run_as_owner() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(
        !passwd.is_null(),
        "running as root but there is no `postgres` user to run PostgreSQL as"
    );
    let passwd = unsafe { &*passwd };
    Some((passwd.pw_uid, passwd.pw_gid))
}

fn init_cluster(
    bindir: &Path,
    data_root: &Path,
    password: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    fs::create_dir_all(data_root.join("socket")).map_err(|e| e.to_string())?;
    let pwfile = data_root.join("pwfile");
    fs::File::create(&pwfile)
        .and_then(|mut f| f.write_all(password.as_bytes()))
        .map_err(|e| e.to_string())?;
    fs::set_permissions(data_root, fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    if let Some((uid, gid)) = owner {
        for path in [data_root, &data_root.join("socket"), &pwfile] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
    }
    let mut initdb = Command::new(bindir.join("initdb"));
    initdb
        .arg("-D")
        .arg(data_root.join("data"))
        .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()));
    drop_privileges(&mut initdb, owner);
    let output = initdb
        .output()
        .map_err(|e| format!("running initdb: {e}"))?;
    let _ = fs::remove_file(&pwfile);
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

fn spawn_postmaster(
    bindir: &Path,
    data_root: &Path,
    port: u16,
    options: &PgOptions,
    owner: Option<(u32, u32)>,
) -> Result<Child, String> {
    let log = fs::File::create(data_root.join("postgres.log")).map_err(|e| e.to_string())?;
    let mut command = Command::new(bindir.join("postgres"));
    command
        .arg("-D")
        .arg(data_root.join("data"))
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(data_root.join("socket"))
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=400"]);
    for (key, value) in &options.settings {
        command.arg("-c").arg(format!("{key}={value}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    drop_privileges(&mut command, owner);
    spawn_for_process_lifetime(command, "postgres")
}

/// Spawns `command` from a thread that never exits, so the parent-death signal set by [`drop_privileges`]
/// fires only when the whole test process ends (not when the spawning thread does).
pub(crate) fn spawn_for_process_lifetime(
    mut command: Command,
    what: &str,
) -> Result<Child, String> {
    let (sender, receiver) = mpsc::channel();
    let what = what.to_string();
    let thread_what = what.clone();
    std::thread::spawn(move || {
        let _ = sender.send(
            command
                .spawn()
                .map_err(|e| format!("starting {thread_what}: {e}")),
        );
        loop {
            std::thread::park();
        }
    });
    receiver
        .recv()
        .map_err(|_| format!("{what} launcher thread died"))?
}

/// Runs the child as `owner` (uid, gid) when given, and has it signalled when the test process dies.
pub(crate) fn drop_privileges(command: &mut Command, owner: Option<(u32, u32)>) {
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = owner {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Set after setuid: changing credentials clears the parent-death signal.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
            Ok(())
        });
    }
}

fn wait_until_ready(admin_url: &str, postmaster: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = postmaster.try_wait() {
            return Err(format!("postgres exited during start-up ({status})"));
        }
        match postgres::Client::connect(admin_url, postgres::NoTls) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "postgres did not accept connections within 30 s: {}",
                    describe(&e)
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// An error's full text: `postgres::Error`'s Display alone says only "db error".
pub fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

/// `url` with its user replaced by `user` (password kept) when given, and its database replaced by `database`.
fn rewrite_url(url: &str, user: Option<&str>, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .expect("a postgres URL of the form postgres://user:password@host:port/database");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let userinfo = match (userinfo, user) {
        (Some(info), Some(user)) => match info.split_once(':') {
            Some((_, password)) => format!("{user}:{password}@"),
            None => format!("{user}@"),
        },
        (None, Some(user)) => format!("{user}@"),
        (Some(info), None) => format!("{info}@"),
        (None, None) => String::new(),
    };
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{hostport}/{database}{query}")
}

/// The single-quoted SQL literal for `value`.
fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// An error's text with the detail, hint and context PostgreSQL gave (for fixture SQL that fails to apply).
fn describe_fully(error: &postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut text = format!("{}: {}", db.code().code(), db.message());
    for (label, part) in [
        ("detail", db.detail()),
        ("hint", db.hint()),
        ("where", db.where_()),
    ] {
        if let Some(part) = part {
            text.push_str(&format!("\n  {label}: {part}"));
        }
    }
    text
}

/// Creates the Supabase roles that are missing (tests/platform-fixture/roles.sql) and gives `postgres` and
/// `authenticator` the admin URL's password. Refuses a server where `postgres` is (or is the URL's) superuser.
fn prepare_roles(admin_url: &str) -> Result<(), String> {
    let config: postgres::Config = admin_url
        .parse()
        .map_err(|e| format!("the superuser URL does not parse: {e}"))?;
    if config.get_user() == Some(CUSTOMER_ROLE) {
        return Err(format!(
            "the superuser URL logs in as `{CUSTOMER_ROLE}`, but on the Supabase-like fixture `{CUSTOMER_ROLE}` \
             is not a superuser; give a URL for another superuser (e.g. supabase_admin)"
        ));
    }
    let mut client = postgres::Client::connect(admin_url, postgres::NoTls)
        .map_err(|e| format!("connecting as the superuser: {}", describe(&e)))?;
    let is_superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .map_err(|e| describe(&e))?
        .get(0);
    if !is_superuser {
        return Err("the admin URL's user is not a superuser".into());
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&FIXTURE_LOCK])
        .map_err(|e| describe(&e))?;
    let customer_is_superuser = client
        .query_opt(
            "SELECT rolsuper FROM pg_roles WHERE rolname = $1",
            &[&CUSTOMER_ROLE],
        )
        .map_err(|e| describe(&e))?
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false);
    if customer_is_superuser {
        return Err(format!(
            "role `{CUSTOMER_ROLE}` is a superuser on this server; the Supabase-like fixture needs it without \
             SUPERUSER (use a throwaway server, or unset DATABASE_URL)"
        ));
    }
    client
        .batch_execute(crate::platform::ROLES_SQL)
        .map_err(|e| format!("roles.sql: {}", describe_fully(&e)))?;
    if let Some(password) = config.get_password() {
        let password = sql_literal(&String::from_utf8_lossy(password));
        // Keep the password out of a server log that records statements (log_statement = all): the setting
        // must be in effect before the statement carrying the password arrives, so it is a message of its own.
        client
            .batch_execute("SET log_statement = 'none'")
            .map_err(|e| describe(&e))?;
        client
            .batch_execute(&format!(
                "ALTER ROLE {CUSTOMER_ROLE} PASSWORD {password}; ALTER ROLE authenticator PASSWORD {password};"
            ))
            .map_err(|e| describe(&e))?;
        client
            .batch_execute("RESET log_statement")
            .map_err(|e| describe(&e))?;
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&FIXTURE_LOCK])
        .map_err(|e| describe(&e))?;
    Ok(())
}

/// Builds (or finds) the Supabase and platform templates. Each is built under a unique name and renamed when
/// complete, under an advisory lock, so a template that exists by its final name is whole.
fn build_templates(cluster: &PgCluster) -> Result<Templates, String> {
    use crate::platform::{PLATFORM_SQL, ROLES_SQL, SUPABASE_SQL};
    let started = Instant::now();
    let supabase = format!(
        "fleet_tpl_supabase_{:016x}",
        fnv1a(&[ROLES_SQL, SUPABASE_SQL])
    );
    let platform = format!(
        "fleet_tpl_platform_{:016x}",
        fnv1a(&[ROLES_SQL, SUPABASE_SQL, PLATFORM_SQL])
    );
    let mut admin = postgres::Client::connect(&cluster.admin_url, postgres::NoTls)
        .map_err(|e| format!("connecting as the superuser: {}", describe(&e)))?;
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&FIXTURE_LOCK])
        .map_err(|e| describe(&e))?;
    let mut built = false;
    if !database_exists(&mut admin, &supabase)? {
        let step = (
            PgCluster::superuser_url_for as UrlFor,
            SUPABASE_SQL,
            "supabase.sql",
        );
        build_template(cluster, &mut admin, &supabase, "template0", step)?;
        built = true;
    }
    if !database_exists(&mut admin, &platform)? {
        let step = (PgCluster::url_for as UrlFor, PLATFORM_SQL, "platform.sql");
        build_template(cluster, &mut admin, &platform, &supabase, step)?;
        built = true;
    }
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&FIXTURE_LOCK])
        .map_err(|e| describe(&e))?;
    let build_time = if built {
        started.elapsed()
    } else {
        Duration::ZERO
    };
    Ok(Templates {
        supabase,
        platform,
        build_time,
    })
}

/// Which URL to apply a template's SQL with (superuser or `postgres`).
type UrlFor = fn(&PgCluster, &str) -> String;

fn build_template(
    cluster: &PgCluster,
    admin: &mut postgres::Client,
    final_name: &str,
    from: &str,
    (url_for, sql, file): (UrlFor, &str, &str),
) -> Result<(), String> {
    let building = format!(
        "fleet_tpl_building_{}_{}",
        std::process::id(),
        unique_suffix()
    );
    admin
        .batch_execute(&format!(
            "CREATE DATABASE \"{building}\" TEMPLATE \"{from}\" OWNER \"{CUSTOMER_ROLE}\""
        ))
        .map_err(|e| format!("creating {building}: {}", describe(&e)))?;
    let applied = postgres::Client::connect(&url_for(cluster, &building), postgres::NoTls)
        .map_err(|e| format!("connecting to {building}: {}", describe(&e)))
        .and_then(|mut client| {
            client
                .batch_execute(sql)
                .map_err(|e| format!("{file} does not apply: {}", describe_fully(&e)))
        });
    if let Err(e) = applied {
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ));
        return Err(e);
    }
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{final_name}\";
             ALTER DATABASE \"{final_name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;"
        ))
        .map_err(|e| format!("finishing template {final_name}: {}", describe(&e)))
}

fn database_exists(client: &mut postgres::Client, name: &str) -> Result<bool, String> {
    client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .map(|row| row.is_some())
        .map_err(|e| describe(&e))
}

/// FNV-1a over the parts: a stable name for a fixture version (std's hashers are randomly seeded).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Removes data directories left by test processes that no longer exist.
fn remove_stale_data_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}_{:08x}",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_u64() as u32
    )
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_databases_are_separate_and_reachable() {
        let cluster = cluster();
        let first = cluster.fresh_database();
        let second = cluster.fresh_database();
        assert_ne!(first, second);
        let mut a = postgres::Client::connect(&first, postgres::NoTls).unwrap();
        a.batch_execute("CREATE TABLE only_in_first (x int)")
            .unwrap();
        let mut b = postgres::Client::connect(&second, postgres::NoTls).unwrap();
        let err = b.batch_execute("SELECT * FROM only_in_first").unwrap_err();
        assert!(describe(&err).contains("does not exist"), "{err:?}");
    }

    #[test]
    fn wrong_password_is_rejected() {
        let url = cluster().admin_url();
        let Some((prefix, rest)) = url.split_once(":pw") else {
            return; // DATABASE_URL with another password scheme: nothing to check here.
        };
        let (_, host_part) = rest.split_once('@').unwrap();
        let wrong = format!("{prefix}:wrong@{host_part}");
        match postgres::Client::connect(&wrong, postgres::NoTls) {
            Ok(_) => panic!("a wrong password was accepted"),
            Err(err) => assert!(describe(&err).contains("password"), "{err:?}"),
        }
    }

    #[test]
    fn urls_switch_user_and_database_and_keep_the_rest() {
        let admin = "postgres://supabase_admin:pw%21x@127.0.0.1:5555/postgres?sslmode=disable";
        assert_eq!(
            rewrite_url(admin, Some("postgres"), "t_1"),
            "postgres://postgres:pw%21x@127.0.0.1:5555/t_1?sslmode=disable"
        );
        assert_eq!(
            rewrite_url(admin, None, "t_2"),
            "postgres://supabase_admin:pw%21x@127.0.0.1:5555/t_2?sslmode=disable"
        );
        assert_eq!(
            rewrite_url("postgresql://me@localhost", Some("postgres"), "db"),
            "postgresql://postgres@localhost/db"
        );
    }

    #[test]
    fn admin_is_a_superuser_and_url_for_is_postgres() {
        let cluster = cluster();
        let mut admin = postgres::Client::connect(&cluster.admin_url(), postgres::NoTls).unwrap();
        let superuser: bool = admin
            .query_one(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(superuser);
        let mut customer =
            postgres::Client::connect(&cluster.url_for("postgres"), postgres::NoTls).unwrap();
        let who: String = customer
            .query_one("SELECT current_user::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(who, CUSTOMER_ROLE);
    }

    #[test]
    fn dedicated_cluster_applies_settings_and_stops_on_drop() {
        let options = PgOptions {
            settings: vec![
                ("work_mem".into(), "7MB".into()),
                ("log_statement".into(), "all".into()),
            ],
        };
        let dedicated = PgCluster::start_dedicated(options).unwrap();
        let url = dedicated.admin_url();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let row = client.query_one("SHOW work_mem", &[]).unwrap();
        assert_eq!(row.get::<_, String>(0), "7MB");
        // Setting the roles' passwords leaves no trace in a log that records every statement.
        let data: String = client.query_one("SHOW data_directory", &[]).unwrap().get(0);
        let log =
            fs::read_to_string(Path::new(&data).parent().unwrap().join("postgres.log")).unwrap();
        let config: postgres::Config = url.parse().unwrap();
        let password = String::from_utf8_lossy(config.get_password().unwrap()).into_owned();
        assert!(
            log.contains("CREATE ROLE postgres"),
            "statement logging is on"
        );
        assert!(
            !log.contains(&password),
            "the password is in the server log"
        );
        drop(client);
        drop(dedicated);
        assert!(postgres::Client::connect(&url, postgres::NoTls).is_err());
    }
}
