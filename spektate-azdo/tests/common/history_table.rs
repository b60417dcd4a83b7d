//! A partition of deployment records shaped like a real history (every column set,
//! 40-character commits, repository URLs), written to Azurite as entities, and the pages of a
//! Query Entities answer Azurite 3.35 gives for them, made without Azurite: for the table read
//! bench, which needs more rows than an in-memory Azurite takes in reasonable time.

use chrono::Utc;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use spektate_azdo::AzureTableStore;
use spektate_azdo::table::batch::{self, Batch};
use spektate_azdo::table::signing::{authorization, canonical_resource, http_date};
use spektate_azdo::table::{DEV_ACCOUNT, DEV_KEY, TableAccount};
use spektate_core::Record;
use spektate_core::http::{Auth, HttpClient, Method, Request};

/// The partition of every record.
pub const PARTITION: &str = "fabrikam";

/// The `i`th deployment: one of 10 services, one of 3 rings, every column set.
pub fn record(i: usize) -> Record {
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

/// The `i`th record as the entity the store writes: keys and the non-empty columns.
pub fn entity(i: usize) -> Value {
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
async fn write_batch(http: &HttpClient, endpoint: &str, table: &str, from: usize, to: usize) {
    let mut b = Batch::new();
    for i in from..to {
        let url = format!("{endpoint}/{table}(PartitionKey='{PARTITION}',RowKey='{i:012x}')");
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
    let req = Request::new(Method::POST, format!("{endpoint}/$batch"), "fill", table)
        .header("x-ms-date", &date)
        .header("x-ms-version", "2019-02-02")
        .header("dataserviceversion", "3.0")
        .header("content-type", &content_type)
        .header("authorization", &auth)
        .body(b.finish());
    let resp = http.send(req).await.expect("a transaction");
    batch::outcome(&resp.body, to - from).expect("every record written");
}

/// Creates `table` (once) at the emulator's `endpoint` and writes `n` records into it, 100 to
/// a transaction.
pub async fn fill(endpoint: &str, table: &str, n: usize) {
    let account = TableAccount::development(Some(endpoint)).expect("the emulator account");
    AzureTableStore::new(account, table)
        .expect("store")
        .ensure_table()
        .await
        .expect("the table");
    let http = HttpClient::new("fill", Auth::None).expect("client");
    futures::stream::iter((0..n).step_by(batch::MAX_OPERATIONS))
        .map(|from| {
            let http = &http;
            let to = (from + batch::MAX_OPERATIONS).min(n);
            async move { write_batch(http, endpoint, table, from, to).await }
        })
        .buffer_unordered(4)
        .for_each(|_| async {})
        .await;
}

/// Rows in a page of a Query Entities answer, as the service and Azurite send them.
pub const PAGE_ROWS: usize = 1000;

/// The `Timestamp` of every generated row.
pub const STAMP: &str = "2026-11-30T13:06:26.1691382Z";

/// Answers Query Entities on the partition's `n` records with pages made on request, as
/// Azurite 3.35 answers them (`tests/table_generated_pages.rs` compares the two).
pub struct Pages {
    pub n: usize,
}

impl Pages {
    /// The body of the page of rows `from..to`, for the emulator at `base`.
    pub fn body(&self, base: &str, from: usize, to: usize) -> String {
        let stamp = STAMP;
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

    /// The continuation headers (`x-ms-continuation-NextPartitionKey`, `NextRowKey`) of a page
    /// that ends before row `to`, when rows are left.
    pub fn continuation(&self, to: usize) -> Option<(String, String)> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        (to < self.n).then(|| (b64.encode(PARTITION), b64.encode(format!("{to:012x}"))))
    }

    /// The answer to the request for `target` (path and query): the page the query's
    /// `NextRowKey` asks for, with the continuation headers of the next one, if any.
    pub fn answer(&self, target: &str, base: &str) -> Vec<u8> {
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
        if let Some((pk, rk)) = self.continuation(to) {
            head.push_str(&format!(
                "x-ms-continuation-nextpartitionkey: {pk}\r\nx-ms-continuation-nextrowkey: {rk}\r\n"
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
