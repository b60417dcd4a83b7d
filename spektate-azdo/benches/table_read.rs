//! Peak memory of reading a large partition from the Azure table store: a tracker's first
//! read (`query_shared` of the whole partition) over records shaped like a real history
//! (every column set, 40-character commits, repository URLs), from a real Azurite.
//!
//! `cargo bench -p spektate-azdo --bench table_read -- 100000`
//!
//! The bench starts Azurite (`npm ci --prefix tools/azurite`; or uses the emulator at
//! `SPEKTATE_TABLE_READ_ENDPOINT`, e.g. `http://127.0.0.1:10002/devstoreaccount1`), writes
//! the records in entity group transactions of 100, then reads them in a fresh process of
//! its own and prints that process's peak resident set (`VmHWM`), the time the read took,
//! and the peak of a process that only started its runtime, so the difference is what the
//! read itself holds. With `SPEKTATE_TABLE_READ_FILLED=1` the records already there are read.
//!
//! `-- 1000000 --generated` reads from pages the bench makes itself instead, as Azurite 3.35
//! answers this query (the same entities, properties, `odata.etag`, `Timestamp` and
//! continuation headers, 1,000 rows a page, a kept-alive connection and 64 KiB chunks;
//! `tests/table_generated_pages.rs` compares them with Azurite's answers), for
//! counts an in-memory Azurite cannot be filled with in reasonable time (its writes slow down
//! as the table grows). The pages are made in the parent, so the reading child's peak is the
//! client's alone.

#[allow(dead_code)]
#[path = "../tests/common/azurite.rs"]
mod azurite;
#[path = "../tests/common/history_table.rs"]
mod history_table;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use history_table::{PARTITION, Pages, fill};
use spektate_azdo::AzureTableStore;
use spektate_azdo::table::{DEV_ACCOUNT, TableAccount};
use spektate_core::{RecordQuery, RecordStore};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TABLE: &str = "readbench";
/// Set in the reading child: `endpoint records` (or `endpoint 0` to only start the runtime).
const CHILD: &str = "SPEKTATE_TABLE_READ_CHILD";

/// This process's peak resident set in KiB (`VmHWM` of `/proc/self/status`).
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn store(endpoint: &str) -> Arc<AzureTableStore> {
    let account = TableAccount::development(Some(endpoint)).expect("the emulator account");
    Arc::new(AzureTableStore::new(account, TABLE).expect("store"))
}

/// The reading child: reads the partition once and prints `records peak_kib millis`.
fn child(spec: &str) {
    let (endpoint, n) = spec.split_once(' ').expect("endpoint and count");
    let n: usize = n.parse().expect("a count");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let read = if n == 0 {
        0
    } else {
        let records = rt
            .block_on(store(endpoint).query_shared(PARTITION, &RecordQuery::all()))
            .expect("read");
        assert_eq!(records.len(), n, "every record read");
        assert!(
            records
                .iter()
                .all(|r| r.commit_id.as_deref().is_some_and(|c| c.len() == 40)),
            "every record complete"
        );
        records.len()
    };
    println!("{read} {} {}", peak_kib(), started.elapsed().as_millis());
}

fn run_child(endpoint: &str, n: usize) -> (u64, u128) {
    let out = Command::new(std::env::current_exe().expect("this bench"))
        .env(CHILD, format!("{endpoint} {n}"))
        .output()
        .expect("the reading child");
    assert!(
        out.status.success(),
        "the reading child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default().to_string();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 3, "the child's answer: {line:?}");
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

/// Serves the generated pages over HTTP/1.1 on a free port of 127.0.0.1, keeping connections
/// open as Azurite does; returns the endpoint.
async fn generated(n: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let base = format!(
        "http://{}/{DEV_ACCOUNT}",
        listener.local_addr().expect("its address")
    );
    let pages = Arc::new(Pages { n });
    let endpoint = base.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (pages, base) = (pages.clone(), base.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // A request is its head alone: the query sends no body.
                    let end = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        let mut more = [0u8; 4096];
                        match socket.read(&mut more).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buf.extend_from_slice(&more[..read]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end);
                    let target = head.split(' ').nth(1).unwrap_or_default();
                    let answer = pages.answer(target, &base);
                    if socket.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    endpoint
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.replace(['_', ','], "").parse().ok())
        .unwrap_or(100_000);
    if std::env::args().any(|a| a == "--generated") {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let endpoint = rt.block_on(generated(n));
        let (base, _) = run_child(&endpoint, 0);
        let (peak, millis) = run_child(&endpoint, n);
        return report(n, "generated Azurite pages", base, peak, millis);
    }
    let (_azurite, endpoint) = match std::env::var("SPEKTATE_TABLE_READ_ENDPOINT") {
        Ok(endpoint) => (None, endpoint),
        Err(_) => {
            let az = azurite::Azurite::start();
            let endpoint = az.endpoint();
            (Some(az), endpoint)
        }
    };
    if std::env::var_os("SPEKTATE_TABLE_READ_FILLED").is_none() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let started = Instant::now();
        rt.block_on(fill(&endpoint, TABLE, n));
        eprintln!(
            "wrote {n} records in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let (base, _) = run_child(&endpoint, 0);
    let (peak, millis) = run_child(&endpoint, n);
    report(n, "Azurite", base, peak, millis);
}

/// Prints the figures of a read of `n` records from `source`.
fn report(n: usize, source: &str, base: u64, peak: u64, millis: u128) {
    println!(
        "read {n} records from {source}: peak RSS {:.1} MiB ({:.1} MiB over a process that read nothing, {:.0} bytes a record), {:.2} s",
        peak as f64 / 1024.0,
        peak.saturating_sub(base) as f64 / 1024.0,
        peak.saturating_sub(base) as f64 * 1024.0 / n as f64,
        millis as f64 / 1000.0
    );
}
