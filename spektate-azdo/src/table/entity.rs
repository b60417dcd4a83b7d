//! Rows as the Table service sends and takes them (JSON, minimal metadata): deployment
//! records with the original Spektate columns, run reports and cluster reports.

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use spektate_core::model::record::COLUMNS;
use spektate_core::{
    ClusterHistory, ClusterReport, ClusterSync, Record, RunReport, RunResult, RunStatus,
};

use super::odata::{NORMAL_FORM, NORMAL_FORM_VERSION};

/// A text value of a property as written by any client: strings as they are, numbers and
/// booleans as text (some older writers stored run ids as numbers); `null` is absent.
fn property_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The row-level timestamp a weak ETag carries: `W/"datetime'2024-01-02T03%3A04%3A05.1Z'"`.
pub fn etag_time(etag: &str) -> Option<DateTime<Utc>> {
    let start = etag.find("datetime'")? + "datetime'".len();
    let end = start + etag[start..].find('\'')?;
    let decoded = percent_decode_str(&etag[start..end]).decode_utf8().ok()?;
    DateTime::parse_from_rfc3339(&decoded)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether every data column of `record` is stored as a reader reads it back.
fn reads_back_unchanged(record: &Record) -> bool {
    let mut read = Record::default();
    for (column, value) in record.columns() {
        read.set_column_text(column, value);
    }
    read.columns() == record.columns()
}

/// A deployment record as an entity: keys and the non-empty data columns, by their
/// original names (`commitId`, `imageTag`, `p1`, ...), all strings; and [`NORMAL_FORM`]
/// when every value reads back unchanged.
pub fn record_entity(record: &Record) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), json!(record.partition_key));
    m.insert("RowKey".into(), json!(record.row_key));
    for (column, value) in record.columns() {
        if let Some(v) = value {
            m.insert(column.into(), json!(v));
        }
    }
    if reads_back_unchanged(record) {
        m.insert(NORMAL_FORM.into(), json!(NORMAL_FORM_VERSION));
    }
    Value::Object(m)
}

/// An entity as a deployment record; `None` without keys. Unknown columns are ignored,
/// empty strings (as `bedrock deployment create` writes them) are absent values.
pub fn entity_record(e: &Value) -> Option<Record> {
    let mut r = Record {
        partition_key: property_text(e.get("PartitionKey"))?,
        row_key: property_text(e.get("RowKey"))?,
        ..Record::default()
    };
    for column in COLUMNS {
        r.set_column(column, property_text(e.get(column)));
    }
    r.timestamp = time(e.get("Timestamp"));
    r.etag = property_text(e.get("odata.etag"));
    Some(r)
}

/// The column that pins a row's insertion time once it is first replaced.
pub const INSERTED_AT: &str = "insertedAt";

/// When a row was inserted: its `insertedAt` column, if a replace pinned it.
pub fn insertion_time(e: &Value) -> Option<DateTime<Utc>> {
    time(e.get(INSERTED_AT))
}

/// The entity that replaces `current` with `record`'s columns: properties other tools
/// wrote are kept (with their type annotations), the record's columns (and
/// [`NORMAL_FORM`]) are set or dropped, and `insertedAt` is pinned to the row's insertion
/// time.
pub fn replacement_entity(current: &Value, record: &Record) -> Value {
    let ours = |name: &str| {
        let base = name.split('@').next().unwrap_or(name);
        COLUMNS.contains(&base)
            || matches!(base, "PartitionKey" | "RowKey" | "Timestamp" | NORMAL_FORM)
            || base.starts_with("odata.")
    };
    let mut m = Map::new();
    if let Some(obj) = current.as_object() {
        for (k, v) in obj {
            if !ours(k) && !v.is_null() {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    if !m.contains_key(INSERTED_AT) {
        put_time(&mut m, INSERTED_AT, time(current.get("Timestamp")));
    }
    if let Value::Object(cols) = record_entity(record) {
        m.extend(cols);
    }
    Value::Object(m)
}

fn put_time(m: &mut Map<String, Value>, name: &str, at: Option<DateTime<Utc>>) {
    if let Some(at) = at {
        m.insert(
            name.into(),
            json!(at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        );
        m.insert(format!("{name}@odata.type"), json!("Edm.DateTime"));
    }
}

fn put_text(m: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        m.insert(name.into(), json!(v));
    }
}

fn word<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// A run report as an entity of `partition` (the runs partition) under `row_key`.
pub fn report_entity(partition: &str, row_key: &str, report: &RunReport) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), json!(partition));
    m.insert("RowKey".into(), json!(row_key));
    m.insert("runId".into(), json!(report.id));
    put_text(&mut m, "status", word(&report.status).as_deref());
    put_text(
        &mut m,
        "result",
        report.result.as_ref().and_then(word).as_deref(),
    );
    put_time(&mut m, "queuedAt", report.queued_at);
    put_time(&mut m, "startedAt", report.started_at);
    put_time(&mut m, "finishedAt", report.finished_at);
    put_text(&mut m, "url", report.url.as_deref());
    put_text(&mut m, "commit", report.commit.as_deref());
    put_text(&mut m, "branch", report.branch.as_deref());
    put_text(&mut m, "repository", report.repository.as_deref());
    put_text(&mut m, "number", report.number.as_deref());
    if let Some(a) = report.attempt {
        m.insert("attempt".into(), json!(a));
    }
    Value::Object(m)
}

/// An entity as a run report; `None` when it has no run id or an unknown status.
pub fn entity_report(e: &Value) -> Option<RunReport> {
    Some(RunReport {
        id: property_text(e.get("runId"))?,
        status: RunStatus::from_word(&property_text(e.get("status"))?)?,
        result: property_text(e.get("result")).and_then(|w| RunResult::from_word(&w)),
        queued_at: time(e.get("queuedAt")),
        started_at: time(e.get("startedAt")),
        finished_at: time(e.get("finishedAt")),
        url: property_text(e.get("url")),
        commit: property_text(e.get("commit")),
        branch: property_text(e.get("branch")),
        repository: property_text(e.get("repository")),
        number: property_text(e.get("number")),
        reported_at: time(e.get("Timestamp")),
        attempt: e
            .get("attempt")
            .and_then(Value::as_u64)
            .and_then(|a| u32::try_from(a).ok()),
        etag: property_text(e.get("odata.etag")),
    })
}

/// A cluster report as an entity of `partition` (the clusters partition) under `row_key`.
pub fn cluster_entity(partition: &str, row_key: &str, sync: &ClusterSync) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), json!(partition));
    m.insert("RowKey".into(), json!(row_key));
    m.insert("cluster".into(), json!(sync.cluster));
    m.insert("commit".into(), json!(sync.commit));
    put_time(&mut m, "syncedAt", sync.synced_at);
    put_text(&mut m, "tagger", sync.tagger.as_deref());
    Value::Object(m)
}

/// An entity as a cluster report; `None` without a cluster or commit.
pub fn entity_cluster(e: &Value) -> Option<ClusterSync> {
    Some(ClusterSync {
        cluster: property_text(e.get("cluster"))?,
        commit: property_text(e.get("commit"))?,
        synced_at: time(e.get("syncedAt")),
        tagger: property_text(e.get("tagger")),
    })
}

/// A cluster's history as an entity: the columns of [`cluster_entity`] for the newest
/// commit it applied (what tools that read one commit per cluster expect), and the whole
/// history as JSON in `history`.
pub fn history_entity(partition: &str, row_key: &str, history: &ClusterHistory) -> Value {
    let mut entity = match history.current() {
        Some(sync) => cluster_entity(partition, row_key, &sync),
        None => json!({"PartitionKey": partition, "RowKey": row_key, "cluster": history.cluster}),
    };
    if let Some(m) = entity.as_object_mut() {
        m.insert("history".into(), json!(history.to_stored()));
    }
    entity
}

/// An entity as a cluster's history: its `history` column, else (a row written before
/// histories were kept, or by another tool) the one commit of its columns.
pub fn entity_history(e: &Value) -> Option<ClusterHistory> {
    if let Some(h) = e
        .get("history")
        .and_then(Value::as_str)
        .and_then(ClusterHistory::from_stored)
    {
        return Some(h);
    }
    let sync = entity_cluster(e)?;
    let mut h = ClusterHistory::new(&sync.cluster);
    h.add(ClusterReport::applied(sync));
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_by_bedrock_read_as_records() {
        // The shape `bedrock deployment create` inserts for p2 when no p1 row exists:
        // empty strings for unknown values.
        let e = json!({
            "odata.etag": "W/\"datetime'2020-03-17T21%3A16%3A24.868Z'\"",
            "PartitionKey": "hello-bedrock", "RowKey": "a1b2c3d4e5f6",
            "Timestamp": "2020-03-17T21:16:24.868Z",
            "commitId": "", "env": "dev", "hldCommitId": "9d2ec1f", "imageTag": "hello-bedrock-master-7254",
            "p1": "", "p2": "264", "service": "", "pr": "1354", "None": null
        });
        let r = entity_record(&e).unwrap();
        assert_eq!(
            (r.p2.as_deref(), r.p1.as_deref(), r.pr.as_deref()),
            (Some("264"), None, Some("1354"))
        );
        assert_eq!(r.env.as_deref(), Some("dev"));
        assert_eq!(
            r.etag.as_deref(),
            Some("W/\"datetime'2020-03-17T21%3A16%3A24.868Z'\"")
        );
        assert_eq!(etag_time(r.etag.as_deref().unwrap()), r.timestamp);
        let back = record_entity(&r);
        assert_eq!(back["p2"], "264");
        assert!(
            back.get("p1").is_none()
                && back.get("Timestamp").is_none()
                && back.get("odata.etag").is_none()
        );
    }

    #[test]
    fn a_replacement_keeps_foreign_columns_and_pins_the_insertion_time() {
        let current = json!({
            "odata.etag": "W/\"x\"", "PartitionKey": "p", "RowKey": "r", "Timestamp": "2020-03-17T21:16:24.868Z",
            "p1": "7176", "env": "dev", "deployedBy": "ops-team", "attempts": "3", "attempts@odata.type": "Edm.Int64",
            "None": null
        });
        let mut r = entity_record(&current).unwrap();
        r.env = None;
        r.p3 = Some("7180".into());
        let e = replacement_entity(&current, &r);
        assert_eq!(
            (&e["deployedBy"], &e["attempts"], &e["attempts@odata.type"]),
            (&json!("ops-team"), &json!("3"), &json!("Edm.Int64"))
        );
        assert_eq!((&e["p1"], &e["p3"]), (&json!("7176"), &json!("7180")));
        assert!(
            e.get("env").is_none()
                && e.get("None").is_none()
                && e.get("odata.etag").is_none()
                && e.get("Timestamp").is_none()
        );
        assert_eq!(
            insertion_time(&e),
            entity_record(&current).unwrap().timestamp
        );
    }

    #[test]
    fn a_record_stored_as_it_reads_back_vouches_for_its_values() {
        let mut r = Record::new("p");
        r.set_column("imageTag", Some("Hello-Bedrock-Master-7254 ".into()));
        r.set_column(
            "sourceRepo",
            Some("https://me:secret@dev.azure.com/o/p/_git/web".into()),
        );
        assert_eq!(record_entity(&r)[NORMAL_FORM], json!(NORMAL_FORM_VERSION));
        // Set past the normalizing setter: stored as given, so it vouches for nothing.
        r.env = Some("DEV".into());
        assert!(record_entity(&r).get(NORMAL_FORM).is_none());
    }

    #[test]
    fn a_replacement_vouches_only_for_the_values_it_writes() {
        let current = json!({"PartitionKey": "p", "RowKey": "r", "imageTag": "web-1",
            NORMAL_FORM: NORMAL_FORM_VERSION, "spektateForm@odata.type": "Edm.Int32"});
        let mut r = entity_record(&current).unwrap();
        assert_eq!(
            replacement_entity(&current, &r)[NORMAL_FORM],
            json!(NORMAL_FORM_VERSION)
        );
        r.image_tag = Some("Web-1".into());
        let e = replacement_entity(&current, &r);
        assert!(
            e.get(NORMAL_FORM).is_none() && e.get("spektateForm@odata.type").is_none(),
            "{e}"
        );
        let legacy = json!({"PartitionKey": "p", "RowKey": "r", "imageTag": "Web-1",
            "p1": 7176, "p1@odata.type": "Edm.Int32"});
        let read = entity_record(&legacy).unwrap();
        let e = replacement_entity(&legacy, &read);
        assert_eq!(
            (&e["imageTag"], &e["p1"], &e[NORMAL_FORM]),
            (&json!("web-1"), &json!("7176"), &json!(NORMAL_FORM_VERSION))
        );
        assert!(e.get("p1@odata.type").is_none(), "{e}");
    }

    #[test]
    fn numbers_written_by_other_clients_read_as_text() {
        let e =
            json!({"PartitionKey": "p", "RowKey": "r", "p1": 7176, "p1@odata.type": "Edm.Int32"});
        assert_eq!(entity_record(&e).unwrap().p1.as_deref(), Some("7176"));
    }

    #[test]
    fn a_property_is_read_as_written_unlike_a_provider_field() {
        // Keys must round-trip exactly, so nothing is trimmed or dropped here (`set_column`
        // normalizes data columns); `fields::non_empty_text` would trim and drop blanks.
        assert_eq!(property_text(Some(&json!(" k "))).as_deref(), Some(" k "));
        assert_eq!(property_text(Some(&json!(""))).as_deref(), Some(""));
        assert_eq!(property_text(Some(&json!(true))).as_deref(), Some("true"));
        assert_eq!(property_text(Some(&json!(null))), None);
    }
}
