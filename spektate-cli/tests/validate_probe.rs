//! `spektate validate` leaves nothing a dashboard could show: its probe record goes to the
//! partition `<partition>~probe`, never to the partition itself, and is deleted by the ETag
//! its insert returned. Against Azurite behind a proxy that keeps what was sent (and can
//! refuse deletes, as a key without delete permission does), and against SQLite.

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use azurite::Azurite;
use spektate::{RecordQuery, RecordStore, SqliteStore};
use spektate_azdo::AzureTableStore;
use spektate_azdo::table::DEV_KEY;

/// A TCP proxy in front of Azurite that keeps the bytes each side sent.
struct Proxy {
    port: u16,
    requests: Arc<Mutex<Vec<u8>>>,
    responses: Arc<Mutex<Vec<u8>>>,
}

/// The answer of a key that may not delete.
const REFUSED: &[u8] = b"HTTP/1.1 403 Forbidden\r\nx-ms-error-code: AuthorizationPermissionMismatch\r\ncontent-length: 0\r\n\r\n";

impl Proxy {
    /// Listens on a free port and forwards every connection to `upstream`; with
    /// `refuse_deletes`, answers each DELETE with 403 instead of forwarding it.
    fn start(upstream: u16, refuse_deletes: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responses = Arc::new(Mutex::new(Vec::new()));
        let (rq, rs) = (requests.clone(), responses.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    break;
                };
                let (c2, c3, s2) = (
                    client.try_clone().unwrap(),
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                );
                let (rq, rs) = (rq.clone(), rs.clone());
                std::thread::spawn(move || {
                    forward_requests(client, server, c3, &rq, refuse_deletes)
                });
                std::thread::spawn(move || copy(s2, c2, &rs));
            }
        });
        Proxy {
            port,
            requests,
            responses,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    fn requests(&self) -> String {
        String::from_utf8_lossy(&self.requests.lock().unwrap()).into_owned()
    }

    fn responses(&self) -> String {
        String::from_utf8_lossy(&self.responses.lock().unwrap()).into_owned()
    }
}

/// Copies `from` to `to`, keeping a copy in `log`.
fn copy(mut from: TcpStream, mut to: TcpStream, log: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        log.lock().unwrap().extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Forwards a client's requests, or with `refuse_deletes` answers a DELETE (a request with
/// no body) itself once its headers are complete.
fn forward_requests(
    mut client: TcpStream,
    mut server: TcpStream,
    mut answer: TcpStream,
    log: &Mutex<Vec<u8>>,
    refuse_deletes: bool,
) {
    let mut buf = [0u8; 64 * 1024];
    let mut held: Vec<u8> = Vec::new();
    while let Ok(n @ 1..) = client.read(&mut buf) {
        let chunk = &buf[..n];
        log.lock().unwrap().extend_from_slice(chunk);
        if refuse_deletes && (!held.is_empty() || chunk.starts_with(b"DELETE ")) {
            held.extend_from_slice(chunk);
            if held.windows(4).any(|w| w == b"\r\n\r\n") {
                held.clear();
                if answer.write_all(REFUSED).is_err() {
                    break;
                }
            }
            continue;
        }
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}

/// The value of header `name` in the first request that starts with `start`.
fn header_of(requests: &str, start: &str, name: &str) -> Option<String> {
    let at = requests.find(start)?;
    let head = &requests[at..];
    let head = &head[..head.find("\r\n\r\n")?];
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn spektate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env_remove("SPEKTATE_STORE")
        .env_remove("SPEKTATE_PARTITION_KEY")
        .env_remove("SPEKTATE_STORAGE_ACCOUNT")
        .env_remove("SPEKTATE_STORAGE_KEY")
        .env_remove("SPEKTATE_TABLE_NAME")
        .env_remove("SPEKTATE_TABLE_ENDPOINT")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_AZDO_TOKEN")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .output()
        .expect("run spektate")
}

/// `spektate validate` on the table `deployments`, partition `demo`, through `proxy`.
fn validate(proxy: &Proxy) -> Output {
    let endpoint = proxy.endpoint();
    spektate(&[
        "validate",
        "-n",
        "devstoreaccount1",
        "--access-key",
        DEV_KEY,
        "-t",
        "deployments",
        "-p",
        "demo",
        "--table-endpoint",
        &endpoint,
    ])
}

async fn records(store: &dyn RecordStore, partition: &str) -> usize {
    store
        .query(partition, &RecordQuery::all())
        .await
        .unwrap()
        .len()
}

fn port_of(az: &Azurite) -> u16 {
    let endpoint = az.endpoint();
    let rest = endpoint.strip_prefix("http://127.0.0.1:").unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_is_written_beside_the_partition_and_deleted_by_its_etag() {
    let az = Azurite::start();
    let proxy = Proxy::start(port_of(&az), false);
    let out = validate(&proxy);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("demo~probe"), "{stdout}");

    let sent = proxy.requests();
    assert!(
        sent.contains(r#""PartitionKey":"demo~probe""#),
        "the probe is inserted in demo~probe: {sent}"
    );
    assert!(
        !sent.contains(r#""PartitionKey":"demo""#) && !sent.contains("PartitionKey='demo'"),
        "nothing is written to the partition itself"
    );
    let delete = "DELETE /devstoreaccount1/deployments(PartitionKey='demo~probe',RowKey='";
    let if_match = header_of(&sent, delete, "if-match").expect("the probe is deleted");
    assert_ne!(if_match, "*", "the delete is conditional");
    let returned = proxy.responses().to_lowercase();
    assert!(
        returned.contains(&format!("etag: {}", if_match.to_lowercase())),
        "the delete holds the ETag the insert returned ({if_match})"
    );

    let store = AzureTableStore::new(az.account(), "deployments").unwrap();
    assert_eq!(records(&store, "demo").await, 0, "no phantom deployment");
    assert_eq!(records(&store, "demo~probe").await, 0, "the probe is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_that_cannot_be_deleted_never_shows_as_a_deployment() {
    let az = Azurite::start();
    let proxy = Proxy::start(port_of(&az), true);
    let out = validate(&proxy);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.starts_with("store: failed"), "{stdout}");
    assert!(!stdout.contains(DEV_KEY), "{stdout}");

    let store = AzureTableStore::new(az.account(), "deployments").unwrap();
    assert_eq!(
        records(&store, "demo").await,
        0,
        "a dashboard reading demo shows no probe"
    );
    assert_eq!(
        records(&store, "demo~probe").await,
        1,
        "the probe left behind is in demo~probe"
    );
}

#[tokio::test]
async fn validate_leaves_no_record_in_a_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let store_flag = format!("sqlite:{}", db.display());
    let out = spektate(&["validate", "--store", &store_flag, "-p", "fabrikam"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("store: ok") && stdout.contains("fabrikam~probe"),
        "{stdout}"
    );
    let store = SqliteStore::open_existing(&db).unwrap();
    assert_eq!(
        records(&store, "fabrikam").await,
        0,
        "no phantom deployment"
    );
    assert_eq!(
        records(&store, "fabrikam~probe").await,
        0,
        "the probe is gone"
    );
}
