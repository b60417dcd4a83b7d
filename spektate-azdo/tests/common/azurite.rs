//! Starts Azurite's Table service on a free port for a test and stops it on drop.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spektate_azdo::TableAccount;

/// A running Azurite Table service; killed when dropped, also when a test panics.
pub struct Azurite {
    child: Child,
    port: u16,
}

fn script() -> PathBuf {
    if let Some(path) = std::env::var_os("SPEKTATE_AZURITE_TABLE") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/azurite/node_modules/.bin/azurite-table")
}

impl Azurite {
    /// Starts Azurite; panics with the install command when it is not installed.
    pub fn start() -> Azurite {
        let script = script();
        assert!(
            script.exists(),
            "Azurite is not installed at {}: run `npm ci --prefix tools/azurite` in the repository root \
             (or set SPEKTATE_AZURITE_TABLE to an azurite-table script)",
            script.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("node")
            .arg(&script)
            .args(["--tableHost", "127.0.0.1", "--tablePort", &port.to_string()])
            .args(["--inMemoryPersistence", "--disableTelemetry", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start node {}: {e}; is Node.js installed?",
                    script.display()
                )
            });
        let mut azurite = Azurite { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return azurite;
            }
            if let Ok(Some(status)) = azurite.child.try_wait() {
                panic!("Azurite exited before answering on port {port}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "Azurite did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The path-style table endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    /// The emulator account at this endpoint.
    pub fn account(&self) -> TableAccount {
        TableAccount::development(Some(&self.endpoint())).expect("the emulator account")
    }

    /// A connection string for this endpoint.
    #[allow(dead_code)]
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};TableEndpoint={}",
            spektate_azdo::table::DEV_KEY,
            self.endpoint()
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
