//! Tokens go only to the hosts they were configured for, and credentials written into a
//! URL are never stored or shown, whatever a record says.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const AZDO_PAT: &str = "azdo-pat-scope-71c2";
const GITHUB_TOKEN: &str = "ghp_scope0000000000000000000000000000";

/// A listener that counts the connections it is sent and whether any carried a token.
struct Trap {
    port: u16,
    connections: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let authorized = Arc::new(AtomicUsize::new(0));
        let (c, a) = (connections.clone(), authorized.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                c.fetch_add(1, Ordering::SeqCst);
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 8192];
                let n = stream.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n])
                    .to_ascii_lowercase()
                    .contains("authorization:")
                {
                    a.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Trap {
            port,
            connections,
            authorized,
        }
    }
}

fn spektate(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_AZDO_TOKEN", AZDO_PAT)
        .env("SPEKTATE_GITHUB_TOKEN", GITHUB_TOKEN)
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_SOURCE_REPO")
        .env_remove("SPEKTATE_HLD_REPO")
        .env_remove("SPEKTATE_AZDO_URL")
        .env_remove("SPEKTATE_GITHUB_URL")
        .output()
        .expect("run spektate")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn a_record_naming_an_unconfigured_host_never_receives_a_token() {
    let trap = Trap::start();
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let github_url = format!("http://{}", unused.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let azure_like = format!(
        "http://127.0.0.1:{}/fabrikam/hello/_git/frontend",
        trap.port
    );
    let github_like = format!("http://127.0.0.1:{}/fabrikam/backend", trap.port);
    // Three images from each repository.
    for n in 1..=3 {
        for (p1, tag, repo) in [
            (format!("10{n}"), format!("frontend-10{n}"), &azure_like),
            (format!("20{n}"), format!("backend-20{n}"), &github_like),
        ] {
            ok(&spektate(
                &db,
                &[
                    "record",
                    "--p1",
                    &p1,
                    "--image-tag",
                    &tag,
                    "--commit-id",
                    &format!("a1b2c3d4e5f6a7b{n}"),
                    "--service",
                    "fabrikam/app",
                    "--repository",
                    repo,
                ],
            ));
        }
    }
    let out = spektate(
        &db,
        &["get", "--github", "--github-url", &github_url, "-o", "json"],
    );
    let text = ok(&out);
    let shown: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown.as_array().map(Vec::len), Some(6), "{text}");
    assert_eq!(
        trap.connections.load(Ordering::SeqCst),
        0,
        "a host nobody configured was contacted"
    );
    assert_eq!(trap.authorized.load(Ordering::SeqCst), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not contacted") && stderr.contains(&format!("127.0.0.1:{}", trap.port)),
        "one warning names the unconfigured host: {stderr}"
    );
    // Once per host and kind of lookup, not once per deployment.
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not contacted"))
        .collect();
    let host = format!("127.0.0.1:{}", trap.port);
    assert_eq!(
        warned,
        [
            format!(
                "warning: azure-devops {host}: author of 3 commits: not contacted: host not configured"
            ),
            format!(
                "warning: github {host}: author of 3 commits: not contacted: host not configured"
            ),
        ],
        "{stderr}"
    );
    for secret in [AZDO_PAT, GITHUB_TOKEN] {
        assert!(!text.contains(secret) && !stderr.contains(secret));
    }
}

#[test]
fn credentials_inside_urls_are_never_stored_or_shown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    ok(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "7",
            "--image-tag",
            "frontend-7",
            "--commit-id",
            "c0ffee00",
            "--service",
            "frontend",
            "--repository",
            "https://builder:Sup3rS3cret@dev.azure.com/fabrikam/hello/_git/frontend",
        ],
    ));
    ok(&spektate(
        &db,
        &[
            "record",
            "run",
            "--id",
            "7",
            "--status",
            "completed",
            "--url",
            "https://ci:Sup3rS3cret@ci.example.com/job/7",
        ],
    ));
    let bad = spektate(
        &db,
        &[
            "record",
            "--p1",
            "8",
            "--image-tag",
            "x-8",
            "--commit-id",
            "c0ffee01",
            "--service",
            "x",
            "--repository",
            "https://me:Sup3rS3cret@host.example/only",
        ],
    );
    assert!(!bad.status.success());
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("Sup3rS3cret"));
    let raw = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.path().join("spektate.db-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        assert!(
            !String::from_utf8_lossy(bytes)
                .to_lowercase()
                .contains("sup3rs3cret"),
            "the secret reached the store file"
        );
    }
    let text = ok(&spektate(&db, &["get", "-o", "json"]));
    assert!(
        text.contains("dev.azure.com/fabrikam/hello/_git/frontend"),
        "{text}"
    );
    assert!(text.contains("ci.example.com/job/7"), "{text}");
    assert!(!text.to_lowercase().contains("sup3rs3cret"), "{text}");
}
