//! The pages the table read bench makes for counts Azurite cannot hold are Azurite's own
//! answers: byte for byte the same bodies, apart from the times Azurite stamps each row
//! with, and the same continuation headers.

mod common;

use common::azurite::Azurite;
use common::history_table::{PAGE_ROWS, PARTITION, Pages, STAMP, fill};
use common::raw_table::raw_answer;
use serde_json::Value;
use spektate_core::http::Method;

/// `body` with every row's `Timestamp` (and the same time in its ETag) put to [`STAMP`].
fn stamped(body: &str) -> String {
    let page: Value = serde_json::from_str(body).expect("a JSON page");
    let mut out = body.to_string();
    for row in page["value"].as_array().expect("rows") {
        let time = row["Timestamp"].as_str().expect("a Timestamp");
        out = out
            .replace(time, STAMP)
            .replace(&time.replace(':', "%3A"), &STAMP.replace(':', "%3A"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_pages_are_azurites_apart_from_the_row_times() {
    let az = Azurite::start();
    let n = 2 * PAGE_ROWS + 500;
    fill(&az.endpoint(), "pages", n).await;
    let pages = Pages { n };
    let filter = format!("$filter=PartitionKey%20eq%20%27{PARTITION}%27");
    let mut next: Option<(String, String)> = None;
    let (mut from, mut compared) = (0, 0);
    loop {
        let query = match &next {
            Some((pk, rk)) => format!("{filter}&NextPartitionKey={pk}&NextRowKey={rk}"),
            None => filter.clone(),
        };
        let accept = "application/json;odata=minimalmetadata";
        let resp = raw_answer(&az, Method::GET, "/pages()", &query, None, accept).await;
        assert_eq!(resp.status, 200);
        let to = (from + PAGE_ROWS).min(n);
        let body = String::from_utf8(resp.body.clone()).expect("UTF-8");
        assert_eq!(
            stamped(&body),
            pages.body(&az.endpoint(), from, to),
            "rows {from}..{to}"
        );
        assert_eq!(resp.header("content-type"), Some(accept));
        let header = |name: &str| resp.header(name).map(str::to_string);
        next = header("x-ms-continuation-nextpartitionkey")
            .zip(header("x-ms-continuation-nextrowkey"));
        assert_eq!(next, pages.continuation(to), "after rows {from}..{to}");
        compared += 1;
        if next.is_none() {
            break;
        }
        from = to;
    }
    assert_eq!((compared, from), (3, 2 * PAGE_ROWS), "every page compared");
}
