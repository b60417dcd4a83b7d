//! Claims in the Azure table against a real Azurite: a claim past its retention is taken over
//! by the next holder, and a claim's row holds only a hash of its key.

mod common;

use chrono::{Duration, SecondsFormat, Utc};
use common::azurite::Azurite;
use common::raw_table::raw;
use serde_json::{Value, json};
use spektate_azdo::AzureTableStore;
use spektate_core::RecordStore;
use spektate_core::http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_goes_to_the_next_holder_and_its_row_names_no_key() {
    let az = Azurite::start();
    let store = AzureTableStore::new(az.account(), "claims").unwrap();
    let key = "2026-01-01-0001\nlive:east-us";
    assert!(store.claim("fabrikam", key, "server-a").await.unwrap());
    assert!(!store.claim("fabrikam", key, "server-b").await.unwrap());

    let filter = "PartitionKey eq 'fabrikam~claims'";
    let query = format!(
        "$filter={}",
        filter.replace(' ', "%20").replace('\'', "%27")
    );
    let (status, listed) = raw(&az, Method::GET, "/claims()", &query, None).await;
    assert_eq!(status, 200, "{listed}");
    let rows = listed["value"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1, "{listed}");
    let row_key = rows[0]["RowKey"].as_str().unwrap().to_string();
    assert_eq!(row_key.len(), 64, "a hash of the key: {row_key}");
    assert!(!listed.to_string().contains("east-us"), "{listed}");

    // Eight days old: past the seven days a claim is kept.
    let old = (Utc::now() - Duration::days(8)).to_rfc3339_opts(SecondsFormat::Micros, true);
    let aged: Value = json!({
        "PartitionKey": "fabrikam~claims",
        "RowKey": row_key,
        "holder": "server-a",
        "claimedAt": old,
        "claimedAt@odata.type": "Edm.DateTime",
    });
    let path = format!("/claims(PartitionKey='fabrikam~claims',RowKey='{row_key}')");
    let (status, body) = raw(&az, Method::PUT, &path, "", Some(&aged)).await;
    assert_eq!(status, 204, "{body}");
    assert!(
        store.claim("fabrikam", key, "server-b").await.unwrap(),
        "an expired claim is the next holder's"
    );
    assert!(!store.claim("fabrikam", key, "server-a").await.unwrap());
}
