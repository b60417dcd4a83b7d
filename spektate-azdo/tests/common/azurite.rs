//! Starts Azurite's Table service on a free port for a test and stops it on drop.

use std::io::{Read, Write};
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
        // A free port may be taken by another test's process before Azurite binds it:
        // then Azurite exits, and another port is tried.
        let mut exits = Vec::new();
        for _ in 0..5 {
            match launch(&script) {
                Ok(azurite) => return azurite,
                Err(exit) => exits.push(exit),
            }
        }
        panic!("Azurite did not start: {}", exits.join("; "));
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

/// Starts Azurite on a port free a moment ago and waits until it answers as Azurite; an
/// exit before that is an `Err` saying how it ended.
fn launch(script: &std::path::Path) -> Result<Azurite, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("node")
        .arg(script)
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
        if let Ok(Some(status)) = azurite.child.try_wait() {
            return Err(format!(
                "it exited before answering on port {port}: {status}"
            ));
        }
        if answers_as_azurite(port) {
            return Ok(azurite);
        }
        assert!(
            Instant::now() < deadline,
            "Azurite did not answer on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the server on `port` answers a request with Azurite's `Server` header, not only
/// accepts a connection (another process may hold the port).
fn answers_as_azurite(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        "GET /devstoreaccount1/Tables HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 512];
    let n = s.read(&mut head).unwrap_or(0);
    String::from_utf8_lossy(&head[..n])
        .to_ascii_lowercase()
        .contains("\r\nserver: azurite-table/")
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
