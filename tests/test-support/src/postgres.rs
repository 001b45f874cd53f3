//! Throwaway PostgreSQL clusters started from the system binaries, or the server named by `DATABASE_URL`.
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

const SUPERUSER: &str = "postgres";
const DIR_PREFIX: &str = "fleet-pg-";

/// Extra settings for a dedicated cluster, e.g. `("shared_preload_libraries", "pg_cron")`.
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    pub settings: Vec<(String, String)>,
}

/// A PostgreSQL server that tests may create databases in.
pub struct PgCluster {
    admin_url: String,
    process: Option<Mutex<ClusterProcess>>,
}

struct ClusterProcess {
    postmaster: Child,
    data_root: PathBuf,
}

/// The cluster shared by every test in this process: started on first use, or `DATABASE_URL` when set.
pub fn cluster() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => PgCluster {
            admin_url: url,
            process: None,
        },
        _ => PgCluster::start_dedicated(PgOptions::default())
            .unwrap_or_else(|e| panic!("starting a throwaway PostgreSQL cluster: {e}")),
    })
}

impl PgCluster {
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
                    return Ok(PgCluster {
                        admin_url,
                        process: Some(Mutex::new(process)),
                    })
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

    /// A superuser URL for the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.admin_url.clone()
    }

    /// Creates a new, uniquely named, empty database and returns its URL (same credentials as the admin URL).
    pub fn fresh_database(&self) -> String {
        let name = format!("t_{}_{}", std::process::id(), unique_suffix());
        let mut client = postgres::Client::connect(&self.admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to the test cluster: {}", describe(&e)));
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating test database {name}: {}", describe(&e)));
        self.url_for(&name)
    }

    /// The admin URL pointed at another database of this cluster.
    pub fn url_for(&self, database: &str) -> String {
        let (base, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("a postgres URL has a /database part");
        let query = self
            .admin_url
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        format!("{base}/{database}{query}")
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
fn run_as_owner() -> Option<(u32, u32)> {
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
    // Spawned from a thread that never exits: the parent-death signal fires when the whole process ends.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(
            command
                .spawn()
                .map_err(|e| format!("starting postgres: {e}")),
        );
        loop {
            std::thread::park();
        }
    });
    receiver
        .recv()
        .map_err(|_| "postgres launcher thread died".to_string())?
}

fn drop_privileges(command: &mut Command, owner: Option<(u32, u32)>) {
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

fn unique_suffix() -> String {
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
    fn dedicated_cluster_applies_settings_and_stops_on_drop() {
        let options = PgOptions {
            settings: vec![("work_mem".into(), "7MB".into())],
        };
        let dedicated = PgCluster::start_dedicated(options).unwrap();
        let url = dedicated.admin_url();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let row = client.query_one("SHOW work_mem", &[]).unwrap();
        assert_eq!(row.get::<_, String>(0), "7MB");
        drop(client);
        drop(dedicated);
        assert!(postgres::Client::connect(&url, postgres::NoTls).is_err());
    }
}
