//! Claims of servers sharing the table ([`RecordStore::claim`]), beside the records of a
//! partition under `<partition>~claims`.
//!
//! - **Row key**: the SHA-256 of the claim's key (64 hex digits), so any key makes a valid
//!   row key.
//! - **Claim**: an insert, which the service refuses (409) when the row exists; the row's
//!   `holder` then says whose the claim is, so a retried insert that landed is the caller's.
//! - **Forgetting**: a claim older than [`CLAIM_RETENTION`] is taken over by a replace
//!   conditional on its ETag; one claim in 256 (by its key's hash) also deletes the
//!   partition's expired claims, at most 1,000 of them.
//!
//! [`RecordStore::claim`]: spektate_core::RecordStore::claim

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spektate_core::Result;
use spektate_core::http::Method;
use spektate_core::store::{CLAIM_RETENTION, check_claim};

use super::limits::check_key;
use super::odata::{datetime, entity_path, eq};
use super::store::{AzureTableStore, CLAIMS_SUFFIX, Call, Outcome, check_partition};

/// The most expired claims one claim deletes.
const FORGET_MAX: usize = 1_000;

/// The partition that keeps the claims of `partition`, checked.
fn claims_partition(partition: &str) -> Result<String> {
    check_partition(partition)?;
    let claims = format!("{partition}{CLAIMS_SUFFIX}");
    check_key("partition key", "PartitionKey", &claims)?;
    Ok(claims)
}

/// The SHA-256 of `key`.
fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The row key of a claim: 64 hex digits of its key's SHA-256.
fn claim_row_key(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A claim's row: its holder and when it claimed.
fn claim_entity(partition: &str, row_key: &str, holder: &str, at: DateTime<Utc>) -> Value {
    json!({
        "PartitionKey": partition,
        "RowKey": row_key,
        "holder": holder,
        "claimedAt": at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "claimedAt@odata.type": "Edm.DateTime",
    })
}

/// Whether a claim's row is older than [`CLAIM_RETENTION`] (a row with no readable time is).
fn expired(row: &Value, now: DateTime<Utc>) -> bool {
    let at = row
        .get("claimedAt")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    let keep = chrono::Duration::from_std(CLAIM_RETENTION).unwrap_or(chrono::Duration::MAX);
    at.is_none_or(|at| at.with_timezone(&Utc) < now - keep)
}

/// [`RecordStore::claim`] on the table.
pub(super) async fn claim(
    store: &AzureTableStore,
    partition: &str,
    key: &str,
    holder: &str,
) -> Result<bool> {
    check_claim(key, holder)?;
    let claims = claims_partition(partition)?;
    let hash = digest(key);
    let row_key = claim_row_key(&hash);
    let now = Utc::now();
    if hash[0] == 0 {
        forget_expired(store, &claims, now).await?;
    }
    let entity = claim_entity(&claims, &row_key, holder, now);
    if store
        .write_conditionally("claim", &claims, &row_key, &entity, None)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    // The row exists: the caller's own (a retried insert that landed), another's, or expired.
    for _ in 0..2 {
        let Some(row) = store.get_entity(&claims, &row_key).await? else {
            // Forgotten in between: claim it anew.
            return Ok(store
                .write_conditionally("claim", &claims, &row_key, &entity, None)
                .await?
                .is_some());
        };
        if row.get("holder").and_then(Value::as_str) == Some(holder) {
            return Ok(true);
        }
        if !expired(&row, now) {
            return Ok(false);
        }
        let Some(etag) = row.get("odata.etag").and_then(Value::as_str) else {
            return Err(store.err("claim", "the claim's row has no ETag"));
        };
        if store
            .write_conditionally("claim", &claims, &row_key, &entity, Some(etag))
            .await?
            .is_some()
        {
            return Ok(true);
        }
        // Another holder took the expired claim over first: read whose it is now.
    }
    Ok(false)
}

/// Deletes up to [`FORGET_MAX`] claims of `claims` older than [`CLAIM_RETENTION`].
async fn forget_expired(store: &AzureTableStore, claims: &str, now: DateTime<Utc>) -> Result<()> {
    let keep = chrono::Duration::from_std(CLAIM_RETENTION).unwrap_or(chrono::Duration::MAX);
    let filter = format!(
        "{} and claimedAt lt {}",
        eq("PartitionKey", claims),
        datetime(now - keep)
    );
    let mut expired: Vec<(String, String)> = Vec::new();
    store
        .query_rows("forget claims", &filter, |row: Value| {
            let key = row.get("RowKey").and_then(Value::as_str);
            let etag = row.get("odata.etag").and_then(Value::as_str);
            if let (Some(key), Some(etag), true) = (key, etag, expired.len() < FORGET_MAX) {
                expired.push((key.to_string(), etag.to_string()));
            }
        })
        .await?;
    for (row_key, etag) in expired {
        let path = entity_path(store.table(), claims, &row_key);
        let headers = [("if-match", etag.as_str())];
        match store
            .call(
                Call::new("forget claim", Method::DELETE, &path)
                    .headers(&headers)
                    .pass(&[404, 412]),
            )
            .await?
        {
            // Gone already, or claimed over since it was read: nothing to forget.
            Outcome::Ok(_) | Outcome::Status(404 | 412, ..) => {}
            Outcome::Status(s, code, _) => {
                return Err(store.err("forget claim", format!("HTTP {s} {code}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_live_beside_their_partition_under_a_hashed_key() {
        assert_eq!(claims_partition("fabrikam").unwrap(), "fabrikam~claims");
        let e = claims_partition("fabrikam~claims").unwrap_err().to_string();
        assert!(e.contains("~claims"), "{e}");
        let key = claim_row_key(&digest("2026-01-01-0001\nlive:east/us#1?"));
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_claim_is_expired_past_the_retention_or_without_a_time() {
        let now = Utc::now();
        let row = |at: DateTime<Utc>| claim_entity("p~claims", "k", "a", at);
        assert!(!expired(&row(now), now));
        let keep = chrono::Duration::from_std(CLAIM_RETENTION).unwrap();
        assert!(!expired(
            &row(now - keep + chrono::Duration::minutes(1)),
            now
        ));
        assert!(expired(
            &row(now - keep - chrono::Duration::minutes(1)),
            now
        ));
        assert!(expired(&json!({"holder": "a"}), now));
    }
}
