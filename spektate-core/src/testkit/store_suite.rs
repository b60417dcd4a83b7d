//! The record store conformance suite.

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::model::cluster::{ClusterReport, MAX_CLUSTER_HISTORY, Outcome};
use crate::model::deployment::ClusterSync;
use crate::model::record::{Record, new_row_key};
use crate::model::run::{RunReport, RunResult, RunStatus};
use crate::store::{RecordQuery, RecordStore};
use crate::{Error, ImageBuilt, ManifestGenerated, MetadataUpdated, Recorder};

fn partition(case: &str) -> String {
    format!("conformance-{case}-{}", new_row_key())
}

fn record(partition: &str, tag: &str, p1: &str) -> Record {
    let mut r = Record::new(partition);
    r.image_tag = Some(tag.into());
    r.p1 = Some(p1.into());
    r.service = Some("fabrikam/frontend".into());
    r.commit_id = Some("a1b2c3d4".into());
    r
}

/// Runs every case against `store`; panics with the case's name on the first failure.
pub async fn store_conformance(store: Arc<dyn RecordStore>) {
    insert_then_query_round_trips(&store).await;
    insert_of_an_existing_row_key_conflicts(&store).await;
    replace_is_conditional_on_the_etag(&store).await;
    replace_of_a_missing_record_is_not_found(&store).await;
    query_filters_and_keeps_insertion_order(&store).await;
    query_changed_since(&store).await;
    partitions_are_isolated(&store).await;
    awkward_values_round_trip(&store).await;
    delete_is_conditional_and_idempotent(&store).await;
    replace_and_delete_write_both_or_neither(&store).await;
    a_write_after_the_newest_record_is_deleted_is_read_after_it(&store).await;
    row_keys_are_those_a_query_reads(&store).await;
    run_reports_upsert_and_read_by_id(&store).await;
    cluster_syncs_keep_the_latest_per_cluster(&store).await;
    cluster_histories_keep_each_commit_in_its_place(&store).await;
    cluster_histories_are_bounded(&store).await;
    long_cluster_histories_are_written(&store).await;
    concurrent_cluster_reports_lose_nothing(&store).await;
    concurrent_recorders_lose_nothing(&store).await;
    claims_go_to_the_first_holder_of_each_key(&store).await;
    concurrent_claims_have_one_winner(&store).await;
}

/// Each key of each partition is its first holder's: it gets `true` again (a retry), any other
/// holder `false`; a bad key is refused by name.
async fn claims_go_to_the_first_holder_of_each_key(store: &Arc<dyn RecordStore>) {
    let (p, q) = (partition("claims"), partition("claims-other"));
    let key = "2026-01-01T00-00-00-0001\nlive:east-us";
    let claim = |part: &str, key: &str, holder: &str| {
        let (store, part, key, holder) = (
            store.clone(),
            part.to_string(),
            key.to_string(),
            holder.to_string(),
        );
        async move { store.claim(&part, &key, &holder).await }
    };
    assert!(
        claim(&p, key, "server-a").await.unwrap(),
        "claims: the first claim is made"
    );
    assert!(
        !claim(&p, key, "server-b").await.unwrap(),
        "claims: another holder's claim is refused"
    );
    assert!(
        claim(&p, key, "server-a").await.unwrap(),
        "claims: the holder's own claim again is its"
    );
    assert!(
        claim(&p, "other", "server-b").await.unwrap(),
        "claims: another key is free"
    );
    assert!(
        claim(&q, key, "server-b").await.unwrap(),
        "claims: another partition's key is free"
    );
    let e = claim(&p, "", "server-a").await.unwrap_err().to_string();
    assert!(
        e.contains("claim key"),
        "claims: an empty key is refused by name: {e}"
    );
    let long = "k".repeat(crate::store::MAX_CLAIM_KEY_CHARS + 1);
    let e = claim(&p, &long, "server-a").await.unwrap_err().to_string();
    assert!(
        e.contains("claim key") && e.contains("4097"),
        "claims: a long key is refused: {e}"
    );
}

/// Sixteen holders claiming one key at once: exactly one gets it.
async fn concurrent_claims_have_one_winner(store: &Arc<dyn RecordStore>) {
    let p = partition("claims-race");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, p) = (store.clone(), p.clone());
            tokio::spawn(async move { store.claim(&p, "ready", &format!("server-{i}")).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.expect("claim task").expect("claim"));
    }
    assert_eq!(won, 1, "claims: one of sixteen racing holders wins");
}

async fn insert_then_query_round_trips(store: &Arc<dyn RecordStore>) {
    let p = partition("roundtrip");
    let mut r = record(&p, "frontend-101", "101");
    r.env = Some("dev".into());
    r.source_repo = Some("https://github.com/fabrikam/frontend".into());
    let stored = store.insert(&r).await.expect("insert");
    assert!(stored.etag.is_some(), "insert returns an etag");
    assert!(stored.timestamp.is_some(), "insert returns a timestamp");
    let got = store.query(&p, &RecordQuery::all()).await.expect("query");
    assert_eq!(got.len(), 1, "roundtrip: one record");
    let g = &got[0];
    assert_eq!(g.row_key, r.row_key);
    assert_eq!(g.partition_key, p);
    assert_eq!(
        g.columns(),
        r.columns(),
        "roundtrip: every column comes back"
    );
    assert_eq!(
        g.etag, stored.etag,
        "roundtrip: query returns the current etag"
    );
}

async fn insert_of_an_existing_row_key_conflicts(store: &Arc<dyn RecordStore>) {
    let p = partition("dupkey");
    let r = record(&p, "t", "1");
    store.insert(&r).await.expect("insert");
    let e = store
        .insert(&r)
        .await
        .expect_err("second insert of one row key must fail");
    assert!(e.is_conflict(), "dupkey: {e}");
    assert_eq!(store.query(&p, &RecordQuery::all()).await.unwrap().len(), 1);
}

async fn replace_is_conditional_on_the_etag(store: &Arc<dyn RecordStore>) {
    let p = partition("etag");
    let stored = store.insert(&record(&p, "t", "1")).await.unwrap();
    let mut a = stored.clone();
    a.env = Some("dev".into());
    let a2 = store
        .replace(&a)
        .await
        .expect("replace with the current etag");
    assert_ne!(a2.etag, stored.etag, "replace changes the etag");
    let mut stale = stored.clone();
    stale.env = Some("prod".into());
    let e = store
        .replace(&stale)
        .await
        .expect_err("replace with a stale etag must fail");
    assert!(e.is_conflict(), "etag: {e}");
    let got = store.query(&p, &RecordQuery::all()).await.unwrap();
    assert_eq!(
        got[0].env.as_deref(),
        Some("dev"),
        "etag: the stale write was not applied"
    );
}

async fn replace_of_a_missing_record_is_not_found(store: &Arc<dyn RecordStore>) {
    let p = partition("missing");
    let mut r = record(&p, "t", "1");
    r.etag = Some("1".into());
    let e = store
        .replace(&r)
        .await
        .expect_err("replace of a missing record must fail");
    assert!(
        matches!(e, Error::NotFound { .. } | Error::Conflict { .. }),
        "missing: {e}"
    );
    assert!(
        store
            .query(&p, &RecordQuery::all())
            .await
            .unwrap()
            .is_empty(),
        "missing: nothing was created"
    );
}

async fn query_filters_and_keeps_insertion_order(store: &Arc<dyn RecordStore>) {
    let p = partition("filter");
    let mut keys = Vec::new();
    for i in 0..6 {
        let mut r = record(
            &p,
            if i % 2 == 0 { "even" } else { "odd" },
            &format!("{}", 100 + i),
        );
        r.env = Some(if i < 3 { "dev" } else { "prod" }.into());
        r.p3 = Some(format!("{}", 300 + i));
        r.hld_commit_id = Some(format!("hld{i}"));
        keys.push(store.insert(&r).await.unwrap().row_key);
    }
    let even = store
        .query(&p, &RecordQuery::all().image_tag("EVEN"))
        .await
        .unwrap();
    assert_eq!(
        even.iter().map(|r| r.row_key.clone()).collect::<Vec<_>>(),
        vec![keys[0].clone(), keys[2].clone(), keys[4].clone()],
        "filter: by image tag, in insertion order (input lower-cased)"
    );
    let dev_odd = store
        .query(&p, &RecordQuery::all().image_tag("odd").env("dev"))
        .await
        .unwrap();
    assert_eq!(dev_odd.len(), 1, "filter: two filters both hold");
    assert_eq!(dev_odd[0].row_key, keys[1]);
    let by_run = store
        .query(&p, &RecordQuery::all().run_id("304"))
        .await
        .unwrap();
    assert_eq!(by_run.len(), 1, "filter: run id matches p3");
    assert_eq!(
        store
            .query(&p, &RecordQuery::all().run_id("101"))
            .await
            .unwrap()
            .len(),
        1,
        "filter: run id matches p1"
    );
    assert_eq!(
        store
            .query(&p, &RecordQuery::all().hld_commit_id("hld5"))
            .await
            .unwrap()[0]
            .row_key,
        keys[5]
    );
    assert_eq!(
        store
            .query(&p, &RecordQuery::all().row_key(&keys[3]))
            .await
            .unwrap()
            .len(),
        1,
        "filter: by row key"
    );
    assert!(
        store
            .query(&p, &RecordQuery::all().image_tag("none"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn query_changed_since(store: &Arc<dyn RecordStore>) {
    let p = partition("since");
    let first = store.insert(&record(&p, "a", "1")).await.unwrap();
    let t1 = first.timestamp.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = store.insert(&record(&p, "b", "2")).await.unwrap();
    let later = store
        .query(
            &p,
            &RecordQuery::all().changed_since(t1 + Duration::milliseconds(500)),
        )
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|r| &r.row_key).collect::<Vec<_>>(),
        vec![&second.row_key],
        "since: only the newer record"
    );
    let all = store
        .query(
            &p,
            &RecordQuery::all().changed_since(t1 - Duration::seconds(5)),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "since: both");
    let none = store
        .query(
            &p,
            &RecordQuery::all().changed_since(Utc::now() + Duration::seconds(60)),
        )
        .await
        .unwrap();
    assert!(none.is_empty(), "since: nothing in the future");
}

async fn partitions_are_isolated(store: &Arc<dyn RecordStore>) {
    let (a, b) = (partition("iso-a"), partition("iso-b"));
    store.insert(&record(&a, "t", "1")).await.unwrap();
    assert!(
        store
            .query(&b, &RecordQuery::all())
            .await
            .unwrap()
            .is_empty(),
        "iso: other partitions see nothing"
    );
}

async fn awkward_values_round_trip(store: &Arc<dyn RecordStore>) {
    let p = partition("awkward");
    let values = [
        "it's' or 'a' eq 'a",
        "line one\nline two",
        "ünïcødé ☸ tag",
        "x\"y\\z%20&$filter=",
        "  ",
    ];
    for v in values {
        let mut r = record(&p, v, "1");
        r.set_column("imageTag", Some(v.to_string()));
        store
            .insert(&r)
            .await
            .unwrap_or_else(|e| panic!("awkward: insert {v:?}: {e}"));
        if r.image_tag.is_none() {
            continue;
        }
        let got = store
            .query(&p, &RecordQuery::all().image_tag(v))
            .await
            .unwrap_or_else(|e| panic!("awkward: query {v:?}: {e}"));
        assert_eq!(
            got.len(),
            1,
            "awkward: exactly the record with {v:?}, no injection"
        );
        assert_eq!(got[0].image_tag, r.image_tag, "awkward: {v:?} round-trips");
    }
}

async fn delete_is_conditional_and_idempotent(store: &Arc<dyn RecordStore>) {
    let p = partition("delete");
    let stored = store.insert(&record(&p, "t", "1")).await.unwrap();
    let mut moved = stored.clone();
    moved.env = Some("dev".into());
    store.replace(&moved).await.unwrap();
    let e = store
        .delete(&p, &stored.row_key, stored.etag.as_deref())
        .await
        .expect_err("delete with a stale etag");
    assert!(e.is_conflict(), "delete: {e}");
    store
        .delete(&p, &stored.row_key, None)
        .await
        .expect("unconditional delete");
    store
        .delete(&p, &stored.row_key, None)
        .await
        .expect("deleting twice is fine");
    assert!(
        store
            .query(&p, &RecordQuery::all())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn replace_and_delete_write_both_or_neither(store: &Arc<dyn RecordStore>) {
    let p = partition("merge");
    let keep = store.insert(&record(&p, "t", "1")).await.unwrap();
    let early = store.insert(&record(&p, "e", "2")).await.unwrap();
    let envs = |got: &[Record]| -> Vec<(String, Option<String>)> {
        got.iter()
            .map(|r| (r.row_key.clone(), r.env.clone()))
            .collect()
    };
    let read = || async { store.query(&p, &RecordQuery::all()).await.unwrap() };
    let before = envs(&read().await);

    // The record to delete changed since it was read: nothing is written.
    let mut moved = early.clone();
    moved.env = Some("qa".into());
    let moved = store.replace(&moved).await.unwrap();
    let mut merged = keep.clone();
    merged.env = Some("dev".into());
    let e = store
        .replace_and_delete(&merged, &early.row_key, early.etag.as_deref())
        .await
        .expect_err("a stale etag of the record to delete");
    assert!(e.is_conflict(), "merge: {e}");
    let mut now = before.clone();
    now[1].1 = Some("qa".into());
    assert_eq!(envs(&read().await), now, "merge: neither write was made");

    // The record to replace changed since it was read: nothing is written either.
    let mut stale = keep.clone();
    stale.env = Some("prod".into());
    let mut fresh = keep.clone();
    fresh.env = Some("staging".into());
    let fresh = store.replace(&fresh).await.unwrap();
    let e = store
        .replace_and_delete(&stale, &moved.row_key, moved.etag.as_deref())
        .await
        .expect_err("a stale etag of the record to replace");
    assert!(e.is_conflict(), "merge: {e}");
    now[0].1 = Some("staging".into());
    assert_eq!(envs(&read().await), now, "merge: neither write was made");

    // A record cannot absorb itself.
    let e = store
        .replace_and_delete(&fresh, &fresh.row_key, None)
        .await
        .expect_err("absorbing itself");
    assert!(e.to_string().contains(&fresh.row_key), "merge: {e}");
    assert_eq!(envs(&read().await), now, "merge: nothing was written");

    // Both current: the record is replaced and the other is gone, in one write.
    let mut merged = fresh.clone();
    merged.env = Some("dev".into());
    let stored = store
        .replace_and_delete(&merged, &moved.row_key, moved.etag.as_deref())
        .await
        .expect("both current");
    assert_ne!(
        stored.etag, fresh.etag,
        "merge: the replace gives a new etag"
    );
    let got = read().await;
    assert_eq!(envs(&got), vec![(keep.row_key.clone(), Some("dev".into()))]);
    assert_eq!(
        got[0].etag, stored.etag,
        "merge: the etag returned is current"
    );

    // The record to delete is already gone: the replace alone is made.
    let mut again = stored.clone();
    again.env = Some("prod".into());
    let again = store
        .replace_and_delete(&again, &moved.row_key, None)
        .await
        .expect("the other record already gone");
    let got = read().await;
    assert_eq!(
        envs(&got),
        vec![(keep.row_key.clone(), Some("prod".into()))]
    );
    assert_eq!(got[0].etag, again.etag);
}

async fn a_write_after_the_newest_record_is_deleted_is_read_after_it(store: &Arc<dyn RecordStore>) {
    let p = partition("sequence");
    store.insert(&record(&p, "a", "1")).await.unwrap();
    let newest = store.insert(&record(&p, "b", "2")).await.unwrap();
    let Some(read_up_to) = newest.sequence else {
        return; // The store keeps no change sequence: readers go by time.
    };
    store.delete(&p, &newest.row_key, None).await.unwrap();
    let next = store.insert(&record(&p, "c", "3")).await.unwrap();
    assert!(
        next.sequence > Some(read_up_to),
        "sequence: {:?} after a deleted {read_up_to}",
        next.sequence
    );
    let got = store
        .query(&p, &RecordQuery::all().after_sequence(read_up_to))
        .await
        .unwrap();
    let tags: Vec<_> = got.iter().map(|r| r.image_tag.as_deref()).collect();
    assert_eq!(
        tags,
        [Some("c")],
        "sequence: a reader past the deleted one reads the write"
    );
}

async fn row_keys_are_those_a_query_reads(store: &Arc<dyn RecordStore>) {
    let p = partition("keys");
    let mut keys = Vec::new();
    for i in 0..4 {
        let r = record(&p, if i % 2 == 0 { "even" } else { "odd" }, &format!("{i}"));
        keys.push(store.insert(&r).await.unwrap().row_key);
    }
    store
        .insert(&record(&partition("keys-other"), "even", "9"))
        .await
        .unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let queries = [
        RecordQuery::all(),
        RecordQuery::all().image_tag("even"),
        RecordQuery::all().run_id("3"),
    ];
    for q in &queries {
        let read: Vec<String> = (store.query(&p, q).await.unwrap())
            .into_iter()
            .map(|r| r.row_key)
            .collect();
        assert_eq!(
            sorted(store.row_keys(&p, q).await.unwrap()),
            sorted(read),
            "keys: the same records as query {q:?}"
        );
    }
    store.delete(&p, &keys[1], None).await.unwrap();
    let left = sorted(store.row_keys(&p, &RecordQuery::all()).await.unwrap());
    assert_eq!(
        left,
        sorted(vec![keys[0].clone(), keys[2].clone(), keys[3].clone()]),
        "keys: a deleted record is gone"
    );
}

async fn run_reports_upsert_and_read_by_id(store: &Arc<dyn RecordStore>) {
    let p = partition("reports");
    let now = Utc::now();
    let mut report = RunReport {
        id: "101".into(),
        status: RunStatus::InProgress,
        result: None,
        queued_at: Some(now),
        started_at: Some(now),
        finished_at: None,
        url: Some("https://ci.example.com/runs/101".into()),
        commit: Some("a1b2c3d".into()),
        branch: Some("main".into()),
        repository: None,
        number: None,
        reported_at: None,
        attempt: None,
        etag: None,
    };
    let stored = store.put_run_report(&p, &report).await.unwrap();
    assert!(
        stored.reported_at.is_some(),
        "reports: the store stamps reported_at"
    );
    assert!(
        stored.etag.is_some(),
        "reports: the store returns a version"
    );
    let e = store
        .put_run_report(&p, &report)
        .await
        .expect_err("reports: a second report without the version must conflict");
    assert!(e.is_conflict(), "reports: {e}");
    report.status = RunStatus::Completed;
    report.result = Some(RunResult::Failed);
    report.finished_at = Some(now + Duration::seconds(30));
    report.attempt = Some(2);
    report.etag = stored.etag.clone();
    let second = store.put_run_report(&p, &report).await.unwrap();
    assert_ne!(
        second.etag, stored.etag,
        "reports: a write changes the version"
    );
    let e = store
        .put_run_report(&p, &report)
        .await
        .expect_err("reports: a write over a stale version must conflict");
    assert!(e.is_conflict(), "reports: {e}");
    let got = store
        .run_reports(&p, &["101".into(), "999".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "reports: unknown ids are left out");
    assert_eq!(
        got[0].status,
        RunStatus::Completed,
        "reports: the later report wins"
    );
    assert_eq!(got[0].result, Some(RunResult::Failed));
    assert_eq!(got[0].url, report.url);
    assert_eq!(got[0].attempt, Some(2), "reports: the attempt round-trips");
    assert_eq!(
        got[0].etag, second.etag,
        "reports: reads return the version"
    );
    assert!(
        store
            .query(&p, &RecordQuery::all())
            .await
            .unwrap()
            .is_empty(),
        "reports: not deployment records"
    );
    let mut many: Vec<String> = (0..1200).map(|i| format!("id{i}")).collect();
    many.insert(600, "101".into());
    let found: Vec<String> = (store.run_reports(&p, &many).await.unwrap())
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        found,
        ["101"],
        "reports: a long id list finds what it names"
    );
}

async fn cluster_syncs_keep_the_latest_per_cluster(store: &Arc<dyn RecordStore>) {
    let p = partition("clusters");
    let sync = |cluster: &str, commit: &str| ClusterSync {
        cluster: cluster.into(),
        commit: commit.into(),
        synced_at: Some(Utc::now()),
        tagger: None,
    };
    store
        .put_cluster_sync(&p, &sync("east-us", "aaaaaaa1"))
        .await
        .unwrap();
    store
        .put_cluster_sync(&p, &sync("west-eu", "bbbbbbb1"))
        .await
        .unwrap();
    store
        .put_cluster_sync(&p, &sync("east-us", "ccccccc1"))
        .await
        .unwrap();
    let late = ClusterSync {
        synced_at: Some(Utc::now() - Duration::minutes(10)),
        ..sync("east-us", "0ld0000")
    };
    store.put_cluster_sync(&p, &late).await.unwrap();
    let mut got = store.cluster_syncs(&p).await.unwrap();
    got.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    assert_eq!(
        got.iter()
            .map(|s| (s.cluster.as_str(), s.commit.as_str()))
            .collect::<Vec<_>>(),
        vec![("east-us", "ccccccc1"), ("west-eu", "bbbbbbb1")]
    );
    assert!(
        store
            .query(&p, &RecordQuery::all())
            .await
            .unwrap()
            .is_empty(),
        "clusters: not deployment records"
    );
}

fn cluster_report(
    cluster: &str,
    commit: &str,
    minutes_ago: i64,
    outcome: Outcome,
) -> ClusterReport {
    ClusterReport {
        outcome,
        ..ClusterReport::applied(ClusterSync {
            cluster: cluster.into(),
            commit: commit.into(),
            synced_at: Some(Utc::now() - Duration::minutes(minutes_ago)),
            tagger: Some("flux kustomization flux-system/apps".into()),
        })
    }
}

async fn cluster_histories_keep_each_commit_in_its_place(store: &Arc<dyn RecordStore>) {
    let p = partition("history");
    let put = |r: ClusterReport| {
        let (store, p) = (store.clone(), p.clone());
        async move { store.put_cluster_report(&p, &r).await.unwrap() }
    };
    put(cluster_report("east-us", "aaaaaaa1", 30, Outcome::Applied)).await;
    put(cluster_report("east-us", "ccccccc3", 10, Outcome::Applied)).await;
    let mut failed = cluster_report("east-us", "ddddddd4", 5, Outcome::Failed);
    failed.reason = Some("HealthCheckFailed".into());
    failed.message = Some("Deployment/frontend: timeout waiting for rollout".into());
    put(failed).await;
    // An older report arriving late takes its place and moves nothing back.
    put(cluster_report("east-us", "bbbbbbb2", 20, Outcome::Applied)).await;
    // A repeat of the current state is no new entry.
    put(cluster_report("east-us", "ccccccc3", 8, Outcome::Applied)).await;
    put(cluster_report("west-eu", "bbbbbbb2", 15, Outcome::Applied)).await;

    let histories = store.cluster_histories(&p).await.unwrap();
    let east = histories
        .iter()
        .find(|h| h.cluster == "east-us")
        .expect("history: east-us has a history");
    assert_eq!(
        east.reports
            .iter()
            .map(|r| (r.commit(), r.outcome))
            .collect::<Vec<_>>(),
        vec![
            ("ddddddd4", Outcome::Failed),
            ("ccccccc3", Outcome::Applied),
            ("bbbbbbb2", Outcome::Applied),
            ("aaaaaaa1", Outcome::Applied),
        ],
        "history: every commit of east-us, newest first"
    );
    assert_eq!(
        east.reports[0].reason.as_deref(),
        Some("HealthCheckFailed"),
        "history: the failure's reason comes back"
    );
    assert_eq!(
        east.reports[0].message.as_deref(),
        Some("Deployment/frontend: timeout waiting for rollout")
    );
    let mut current = store.cluster_syncs(&p).await.unwrap();
    current.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    assert_eq!(
        current
            .iter()
            .map(|s| (s.cluster.as_str(), s.commit.as_str()))
            .collect::<Vec<_>>(),
        vec![("east-us", "ccccccc3"), ("west-eu", "bbbbbbb2")],
        "history: each cluster runs the newest commit it applied, not the failed one"
    );
    let refused = store
        .put_cluster_report(&p, &cluster_report(" ", "aaaaaaa1", 1, Outcome::Applied))
        .await
        .expect_err("history: a report without a cluster is refused");
    assert!(refused.to_string().contains("cluster"), "{refused}");
}

async fn cluster_histories_are_bounded(store: &Arc<dyn RecordStore>) {
    let p = partition("history-bound");
    let n = MAX_CLUSTER_HISTORY + 5;
    for i in 0..n {
        let r = cluster_report(
            "edge",
            &format!("{i:07x}f"),
            (n - i) as i64,
            Outcome::Applied,
        );
        store.put_cluster_report(&p, &r).await.unwrap();
    }
    let histories = store.cluster_histories(&p).await.unwrap();
    assert_eq!(histories.len(), 1);
    assert_eq!(
        histories[0].reports.len(),
        MAX_CLUSTER_HISTORY,
        "history: at most MAX_CLUSTER_HISTORY reports per cluster"
    );
    assert_eq!(
        histories[0].reports[0].commit(),
        format!("{:07x}f", n - 1),
        "history: the newest kept"
    );
}

async fn long_cluster_histories_are_written(store: &Arc<dyn RecordStore>) {
    let p = partition("history-long");
    // A cluster named as long as a DNS name, every report's message as long as kept and made
    // of characters JSON escapes: a store with bounded columns drops the oldest reports.
    let cluster = format!("{}.example", "c".repeat(245));
    let n = MAX_CLUSTER_HISTORY;
    for i in 0..n {
        let mut r = cluster_report(
            &cluster,
            &format!("{i:07x}a"),
            (n - i) as i64,
            Outcome::Failed,
        );
        r.message = Some("\"".repeat(crate::model::cluster::MAX_MESSAGE_CHARS));
        r.reason = Some("R".repeat(crate::model::cluster::MAX_WORD_CHARS));
        store.put_cluster_report(&p, &r).await.unwrap();
    }
    let histories = store.cluster_histories(&p).await.unwrap();
    assert_eq!(histories[0].cluster, cluster);
    assert!(
        histories[0].reports.len() >= 20,
        "history: a long history keeps most reports"
    );
    assert_eq!(
        histories[0].reports[0].commit(),
        format!("{:07x}a", n - 1),
        "history: the newest is kept"
    );
}

async fn concurrent_cluster_reports_lose_nothing(store: &Arc<dyn RecordStore>) {
    let p = partition("history-race");
    // More writers than the 16 attempts stores once made: each lost attempt is another
    // writer's success, so 24 writers may make one lose 23 times.
    let writers = 24;
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let (store, p) = (store.clone(), p.clone());
            tokio::spawn(async move {
                let r = cluster_report("east-us", &format!("{i:07x}e"), 90 - i, Outcome::Applied);
                store.put_cluster_report(&p, &r).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let histories = store.cluster_histories(&p).await.unwrap();
    assert_eq!(
        histories[0].reports.len(),
        writers as usize,
        "history: reports written at once are all kept"
    );
    assert_eq!(
        histories[0].reports[0].commit(),
        format!("{:07x}e", writers - 1)
    );
}

async fn concurrent_recorders_lose_nothing(store: &Arc<dyn RecordStore>) {
    let p = partition("race");
    let recorder = Recorder::new(store.clone(), p.clone()).unwrap();
    let images = 8;
    for i in 0..images {
        recorder
            .image_built(&ImageBuilt {
                p1: format!("{i}"),
                image_tag: format!("img-{i}"),
                commit_id: format!("c{i:07}"),
                service: "svc".into(),
                repository: None,
            })
            .await
            .unwrap();
    }
    // Two rings per image at once, then the manifest step of each, all racing.
    let mut tasks = Vec::new();
    for i in 0..images {
        for ring in ["dev", "prod"] {
            let rec = recorder.clone();
            tasks.push(tokio::spawn(async move {
                let hld = format!("h{i}{ring}");
                rec.metadata_updated(&MetadataUpdated {
                    p2: format!("r{i}{ring}"),
                    image_tag: format!("img-{i}"),
                    hld_commit_id: hld.clone(),
                    env: ring.into(),
                    pr: None,
                    repository: None,
                    service: None,
                })
                .await?;
                rec.manifest_generated(&ManifestGenerated {
                    p3: format!("m{i}{ring}"),
                    hld_commit_id: hld,
                    manifest_commit_id: Some(format!("mc{i}{ring}")),
                    pr: None,
                    repository: None,
                })
                .await
            }));
        }
    }
    for t in tasks {
        t.await.expect("task").expect("recording under contention");
    }
    let all = store.query(&p, &RecordQuery::all()).await.unwrap();
    assert_eq!(
        all.len(),
        images * 2,
        "race: one record per image and ring, none lost or duplicated"
    );
    for i in 0..images {
        for ring in ["dev", "prod"] {
            let hits: Vec<_> = all
                .iter()
                .filter(|r| {
                    r.env.as_deref() == Some(ring)
                        && r.image_tag.as_deref() == Some(&format!("img-{i}"))
                })
                .collect();
            assert_eq!(hits.len(), 1, "race: img-{i} {ring}");
            let r = hits[0];
            assert_eq!(
                r.p1.as_deref(),
                Some(format!("{i}").as_str()),
                "race: p1 linked for img-{i} {ring}"
            );
            assert_eq!(
                r.p3.as_deref(),
                Some(format!("m{i}{ring}").as_str()),
                "race: p3 linked for img-{i} {ring}"
            );
            assert_eq!(
                r.manifest_commit_id.as_deref(),
                Some(format!("mc{i}{ring}").as_str())
            );
        }
    }
}
