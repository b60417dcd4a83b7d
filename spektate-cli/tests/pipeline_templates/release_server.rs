//! This build served on 127.0.0.1 as a release: the archive, its `.sha256` and `install.sh`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tempfile::TempDir;

use crate::release::{archive_name, repo, strip_build, version};

/// This build's release served from a temporary folder, which holds the job's folder too.
pub struct ServedRelease {
    pub version: String,
    pub server: Server,
    /// Where the job keeps its files: its store, home, temporary folder and caches.
    pub job_root: PathBuf,
    _dir: TempDir,
}

impl ServedRelease {
    /// Makes the release and serves it on 127.0.0.1.
    pub fn start() -> ServedRelease {
        let version = version();
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        release_site(&site, &version);
        ServedRelease {
            server: Server::start(&site),
            job_root: dir.path().join("job"),
            version,
            _dir: dir,
        }
    }

    /// The paths an install asks for: the archive, then its `.sha256`.
    pub fn archive_paths(&self) -> [String; 2] {
        let archive = format!(
            "/releases/download/v{}/{}.tar.gz",
            self.version,
            archive_name(&self.version)
        );
        [archive.clone(), format!("{archive}.sha256")]
    }
}

/// This build as a GitHub release under `root`: `releases/download/vX.Y.Z/` holding
/// `spektate-X.Y.Z-TARGET.tar.gz` and its `.sha256`, and the repository's `install.sh` at its
/// raw.githubusercontent.com path for the tag.
fn release_site(root: &Path, version: &str) {
    let name = archive_name(version);
    let staging = root.join("staging");
    let download = root.join(format!("releases/download/v{version}"));
    std::fs::create_dir_all(staging.join(&name)).unwrap();
    std::fs::create_dir_all(&download).unwrap();
    strip_build(&staging.join(&name).join("spektate"));
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("sh")
        .args([
            "-c",
            r#"tar -cf - -C "$1" "$2" | gzip -1 >"$3/$2.tar.gz""#,
            "sh",
        ])
        .arg(&staging)
        .arg(&name)
        .arg(&download));
    ok(Command::new("sh")
        .args([
            "-c",
            r#"sha256sum "$1.tar.gz" >"$1.tar.gz.sha256""#,
            "sh",
            name.as_str(),
        ])
        .current_dir(&download));
    let raw = root.join(format!(
        "raw.githubusercontent.com/spektate/spektate-rs/v{version}/scripts"
    ));
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::copy(repo().join("scripts/install.sh"), raw.join("install.sh")).unwrap();
}

/// A file server for a folder on 127.0.0.1, stopped when dropped (a failing test too).
pub struct Server {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, asked2, stop2) = (root.to_path_buf(), asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve_file(&root, stream, &asked2);
                }
            }
        });
        Server {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The paths asked for since the last call.
    pub fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one GET with the file at its path under `root`, or 404.
fn serve_file(root: &Path, mut stream: TcpStream, asked: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap().to_string();
    let body = if path.contains("..") {
        None
    } else {
        std::fs::read(root.join(path.trim_start_matches('/'))).ok()
    };
    asked.lock().unwrap().push(path);
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}
