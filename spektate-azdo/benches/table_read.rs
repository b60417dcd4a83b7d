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
//! continuation headers, 1,000 rows a page, a kept-alive connection and 64 KiB chunks), for
//! counts an in-memory Azurite cannot be filled with in reasonable time (its writes slow down
//! as the table grows). The pages are made in the parent, so the reading child's peak is the
//! client's alone.

#[allow(dead_code)]
#[path = "../tests/common/azurite.rs"]
mod azurite;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use spektate_azdo::AzureTableStore;
use spektate_azdo::table::batch::{self, Batch};
use spektate_azdo::table::signing::{authorization, canonical_resource, http_date};
use spektate_azdo::table::{DEV_ACCOUNT, DEV_KEY, TableAccount};
use spektate_core::http::{Auth, HttpClient, Method, Request};
use spektate_core::{Record, RecordQuery, RecordStore};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITION: &str = "fabrikam";
const TABLE: &str = "readbench";
/// Set in the reading child: `endpoint records` (or `endpoint 0` to only start the runtime).
const CHILD: &str = "SPEKTATE_TABLE_READ_CHILD";

/// The `i`th deployment: one of 10 services, one of 3 rings, every column set.
fn record(i: usize) -> Record {
    let service = i % 10;
    let hex = |seed: usize| {
        format!(
            "{:040x}",
            (seed as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    };
    let mut r = Record::new(PARTITION);
    let set = |r: &mut Record, c: &str, v: String| {
        r.set_column(c, Some(v));
    };
    set(&mut r, "service", format!("fabrikam/service-{service}"));
    set(&mut r, "commitId", hex(i));
    set(
        &mut r,
        "imageTag",
        format!("service-{service}-{}", 1000 + i),
    );
    set(&mut r, "p1", format!("{}", 100_000 + i));
    set(&mut r, "p2", format!("{}", 300_000 + i));
    set(&mut r, "p3", format!("{}", 500_000 + i));
    set(&mut r, "env", ["dev", "qa", "prod"][i % 3].to_string());
    set(&mut r, "hldCommitId", hex(i + 7_000_000));
    set(&mut r, "manifestCommitId", hex(i + 9_000_000));
    set(&mut r, "pr", format!("{}", 2000 + i));
    set(
        &mut r,
        "sourceRepo",
        format!("https://dev.azure.com/fabrikam/fabrikam-project/_git/service-{service}"),
    );
    set(
        &mut r,
        "hldRepo",
        "https://dev.azure.com/fabrikam/fabrikam-project/_git/hld".into(),
    );
    set(
        &mut r,
        "manifestRepo",
        "https://dev.azure.com/fabrikam/fabrikam-project/_git/manifests".into(),
    );
    r
}

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

/// The `i`th record as the entity the store writes: keys and the non-empty columns.
fn entity(i: usize) -> Value {
    let r = record(i);
    let mut m = Map::new();
    m.insert("PartitionKey".into(), json!(r.partition_key));
    m.insert("RowKey".into(), json!(format!("{i:012x}")));
    for (column, value) in r.columns() {
        if let Some(v) = value {
            m.insert(column.into(), json!(v));
        }
    }
    Value::Object(m)
}

/// Writes records `from..to` in one entity group transaction, signed with the emulator's key.
async fn write_batch(http: &HttpClient, endpoint: &str, from: usize, to: usize) {
    let mut b = Batch::new();
    for i in from..to {
        let url = format!("{endpoint}/{TABLE}(PartitionKey='{PARTITION}',RowKey='{i:012x}')");
        b.upsert(&url, &batch::entity_json(&entity(i)));
    }
    let content_type = b.content_type();
    let date = http_date(Utc::now());
    let path = format!("/{DEV_ACCOUNT}/$batch");
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap()
    };
    let auth = authorization(
        DEV_ACCOUNT,
        &key,
        "POST",
        &content_type,
        &date,
        &canonical_resource(DEV_ACCOUNT, &path),
    );
    let req = Request::new(Method::POST, format!("{endpoint}/$batch"), "fill", TABLE)
        .header("x-ms-date", &date)
        .header("x-ms-version", "2019-02-02")
        .header("dataserviceversion", "3.0")
        .header("content-type", &content_type)
        .header("authorization", &auth)
        .body(b.finish());
    let resp = http.send(req).await.expect("a transaction");
    batch::outcome(&resp.body, to - from).expect("every record written");
}

/// Creates the table (once) and writes `n` records, 100 to a transaction.
async fn fill(endpoint: &str, n: usize) {
    store(endpoint).ensure_table().await.expect("the table");
    let http = HttpClient::new("fill", Auth::None).expect("client");
    futures::stream::iter((0..n).step_by(batch::MAX_OPERATIONS))
        .map(|from| {
            let http = &http;
            async move { write_batch(http, endpoint, from, (from + batch::MAX_OPERATIONS).min(n)).await }
        })
        .buffer_unordered(4)
        .for_each(|_| async {})
        .await;
}

/// Rows in a page of a Query Entities answer, as the service and Azurite send them.
const PAGE_ROWS: usize = 1000;

/// Answers Query Entities on the partition's `n` records with pages made on request, as
/// Azurite answers them.
struct Pages {
    n: usize,
}

impl Pages {
    /// The body of the page of rows `from..to`.
    fn body(&self, base: &str, from: usize, to: usize) -> String {
        let stamp = "2026-11-30T13:06:26.1691382Z";
        let etag = format!("W/\"datetime'{}'\"", stamp.replace(':', "%3A"));
        let mut out = format!(
            "{{\"odata.metadata\":{},\"value\":[",
            json!(format!("{base}/$metadata#Tables/@Element"))
        );
        for i in from..to {
            if i > from {
                out.push(',');
            }
            let Value::Object(e) = entity(i) else {
                unreachable!("an entity is an object")
            };
            out.push_str(&format!("{{\"odata.etag\":{}", json!(etag)));
            for key in ["PartitionKey", "RowKey"] {
                out.push_str(&format!(",{}:{}", json!(key), e[key]));
            }
            // Then the properties by name, as Azurite orders them.
            let mut properties: Vec<(&String, &Value)> = e
                .iter()
                .filter(|(k, _)| !k.starts_with(char::is_uppercase))
                .collect();
            properties.sort_by_key(|(k, _)| k.as_str());
            for (key, value) in properties {
                out.push_str(&format!(",{}:{value}", json!(key)));
            }
            out.push_str(&format!(",\"Timestamp\":{}}}", json!(stamp)));
        }
        out.push_str("]}");
        out
    }

    /// The answer to the request for `target` (path and query): the page the query's
    /// `NextRowKey` asks for, with the continuation headers of the next one, if any.
    fn answer(&self, target: &str, base: &str) -> Vec<u8> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let from = target
            .split_once('?')
            .map_or("", |(_, q)| q)
            .split('&')
            .find_map(|pair| pair.strip_prefix("NextRowKey="))
            .and_then(|v| percent_encoding::percent_decode_str(v).decode_utf8().ok())
            .and_then(|v| b64.decode(v.as_bytes()).ok())
            .and_then(|key| usize::from_str_radix(&String::from_utf8_lossy(&key), 16).ok())
            .unwrap_or(0)
            .min(self.n);
        let to = (from + PAGE_ROWS).min(self.n);
        let mut head = String::from(
            "HTTP/1.1 200 OK\r\nServer: Azurite-Table/3.35.0\r\n\
             content-type: application/json;odata=minimalmetadata\r\nx-ms-version: 2025-11-05\r\n",
        );
        if to < self.n {
            head.push_str(&format!(
                "x-ms-continuation-nextpartitionkey: {}\r\nx-ms-continuation-nextrowkey: {}\r\n",
                b64.encode(PARTITION),
                b64.encode(format!("{to:012x}"))
            ));
        }
        head.push_str("Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut out = head.into_bytes();
        // Azurite writes its body in chunks of 64 KiB.
        for chunk in self.body(base, from, to).as_bytes().chunks(64 << 10) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }
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
        rt.block_on(fill(&endpoint, n));
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
