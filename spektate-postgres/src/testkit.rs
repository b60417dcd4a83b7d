//! A private PostgreSQL server for tests: `initdb` into a temporary folder and `pg_ctl start`
//! on a free loopback port, run as the `postgres` user when the test runs as root (initdb
//! refuses root), stopped with `pg_ctl stop -m immediate` when dropped, also when a test
//! panics. A watchdog stops it too if the test process dies without dropping it.
//!
//! The binaries come from `SPEKTATE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package, which `scripts/test.sh` installs). Without them
//! [`TestServer::start`] panics saying so: tests that need a server never skip silently.

use std::fs;
use std::hash::BuildHasher;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The superuser the server is initialised with.
pub const SUPERUSER: &str = "postgres";

/// TLS for the test server: its certificate and key (PEM files), and whether TCP clients
/// must use TLS (a `hostnossl` connection is rejected).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The certificate's private key.
    pub key: PathBuf,
    /// Whether connections without TLS are refused.
    pub required: bool,
}

/// How to start the server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// TLS, when the server offers it.
    pub tls: Option<ServerTls>,
    /// More `postgresql.conf` settings, as `(name, value)`; values are written as given.
    pub settings: Vec<(String, String)>,
}

/// A running private server; stopped when dropped.
pub struct TestServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    password: String,
    as_root: bool,
    watchdog: Option<Child>,
}

/// The folder of `initdb`, `pg_ctl` and `psql`; panics with the way to install them.
pub fn bin_dir() -> PathBuf {
    find_bin_dir(
        std::env::var_os("SPEKTATE_PG_BIN").map(PathBuf::from),
        Path::new("/usr/lib/postgresql"),
    )
    .unwrap_or_else(|reason| panic!("{reason}"))
}

/// `given` if it holds the binaries, else the newest `<versions>/*/bin` that does.
fn find_bin_dir(given: Option<PathBuf>, versions: &Path) -> Result<PathBuf, String> {
    let complete = |bin: &Path| bin.join("initdb").exists() && bin.join("pg_ctl").exists();
    if let Some(bin) = given {
        return if complete(&bin) {
            Ok(bin)
        } else {
            Err(format!(
                "PostgreSQL server binaries not found: SPEKTATE_PG_BIN={} has no initdb and pg_ctl",
                bin.display()
            ))
        };
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(versions)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        format!(
            "PostgreSQL server binaries not found: no initdb and pg_ctl in {}/*/bin and \
             SPEKTATE_PG_BIN is not set. Run scripts/test.sh, which installs Debian's postgresql \
             package, or `apt-get update && apt-get install -y postgresql`",
            versions.display()
        )
    })
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn runuser() -> PathBuf {
    ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A password no other test server has (hex, so it needs no escaping in a URL).
fn new_password() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let a = std::hash::RandomState::new().hash_one((std::process::id(), nanos));
    let b = std::hash::RandomState::new().hash_one(a);
    format!("pw{a:016x}{b:016x}")
}

impl TestServer {
    /// Starts a server without TLS.
    pub fn start() -> TestServer {
        TestServer::start_with(&ServerOptions::default())
    }

    /// Starts a server with `options`.
    pub fn start_with(options: &ServerOptions) -> TestServer {
        let bin = bin_dir();
        // As root, the server runs as `postgres`, which must reach the folder: /tmp.
        let as_root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let builder = tempfile::Builder::new()
            .prefix("spektate-pg-")
            .tempdir_in("/tmp");
        let dir = if as_root {
            builder
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary folder");
        let mut server = TestServer {
            dir,
            bin,
            port: 0,
            password: new_password(),
            as_root,
            watchdog: None,
        };
        server.init(options);
        server.watchdog = server.spawn_watchdog();
        server.launch();
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command that runs `program` as the server's user.
    fn as_server_user(&self, program: &Path) -> Command {
        if self.as_root {
            let mut cmd = Command::new(runuser());
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn init(&self, options: &ServerOptions) {
        let pwfile = self.path("pwfile");
        fs::write(&pwfile, &self.password).expect("write the password file");
        if let Some(tls) = &options.tls {
            fs::copy(&tls.cert, self.path("server.crt")).expect("copy the server certificate");
            fs::copy(&tls.key, self.path("server.key")).expect("copy the server key");
            fs::set_permissions(
                self.path("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .expect("restrict the server key");
        }
        if self.as_root {
            run(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(self.dir.path()),
            );
        }
        run(
            "initdb",
            self.as_server_user(&self.bin.join("initdb"))
                .arg("-D")
                .arg(self.path("data"))
                .args([
                    "-U",
                    SUPERUSER,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .args(["-E", "UTF8", "--no-locale", "--no-sync"]),
        );
        fs::remove_file(&pwfile).expect("remove the password file");
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            self.dir.path().display()
        );
        if options.tls.is_some() {
            conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                self.path("server.crt").display(),
                self.path("server.key").display()
            ));
        }
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        append(&self.path("data/postgresql.conf"), &conf);
        if options.tls.as_ref().is_some_and(|t| t.required) {
            fs::write(
                self.path("data/pg_hba.conf"),
                "local all all trust\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 hostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("write pg_hba.conf");
        }
    }

    /// Starts the server on a free port, taking another if that one was taken meanwhile.
    fn launch(&mut self) {
        for _ in 0..5 {
            self.port = free_port();
            let out = self
                .as_server_user(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.path("data"))
                .arg("-l")
                .arg(self.path("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!("-p {}", self.port))
                .arg("start")
                .stdin(Stdio::null())
                .output()
                .expect("run pg_ctl start");
            if out.status.success() {
                return;
            }
            let log = self.log();
            if !log.contains("could not bind") && !log.contains("already in use") {
                panic!(
                    "pg_ctl start failed: {}{}\nserver log:\n{log}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        panic!(
            "the test server found no free port in 5 tries:\n{}",
            self.log()
        );
    }

    /// A shell that stops the server and removes its folder once this process is gone.
    fn spawn_watchdog(&self) -> Option<Child> {
        let stop = if self.as_root {
            format!("'{}' -u postgres -- ", runuser().display())
        } else {
            String::new()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.path("data").display(),
            dir = self.dir.path().display(),
        );
        // A process group of its own: killing the test's group leaves the watchdog running.
        Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder of the server's data, socket and log; removed when the server stops.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A URL of `database` for the superuser, over TCP, with the password.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// A URL of the `postgres` database for the superuser.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// Runs `sql` with psql in `database` as the superuser (over the Unix socket) and
    /// returns its unaligned output; panics with psql's message on an error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = run(
            "psql",
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(self.dir.path())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    SUPERUSER,
                    "-d",
                    database,
                    "-c",
                    sql,
                ])
                .env_remove("PGPASSWORD")
                .env_remove("PGSERVICE"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url_for(name)
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot append to {}: {e}", path.display()));
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self
            .as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.path("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(root: &Path, version: &str) -> PathBuf {
        let bin = root.join(version).join("bin");
        fs::create_dir_all(&bin).unwrap();
        for name in ["initdb", "pg_ctl"] {
            fs::write(bin.join(name), "").unwrap();
        }
        bin
    }

    #[test]
    fn missing_binaries_are_an_error_saying_how_to_install_them() {
        let root = tempfile::tempdir().unwrap();
        let e = find_bin_dir(None, root.path()).unwrap_err();
        assert!(
            e.contains("not found") && e.contains("apt-get install -y postgresql"),
            "{e}"
        );
        let e = find_bin_dir(Some(root.path().join("nowhere")), root.path()).unwrap_err();
        assert!(
            e.contains("SPEKTATE_PG_BIN") && e.contains("nowhere"),
            "{e}"
        );
    }

    #[test]
    fn the_newest_version_is_taken() {
        let root = tempfile::tempdir().unwrap();
        fake_bin(root.path(), "9");
        let newest = fake_bin(root.path(), "15");
        fs::create_dir_all(root.path().join("16/bin")).unwrap();
        assert_eq!(find_bin_dir(None, root.path()).unwrap(), newest);
    }
}
