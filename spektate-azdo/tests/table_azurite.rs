//! The Azure Table store against a real Azurite: the core conformance suite, paging,
//! filter escaping, concurrent recorders, and rows written the way the original Spektate
//! pipelines write them.

mod common;

use std::sync::Arc;

use common::azurite::Azurite;
use common::raw_table::raw;
use futures::StreamExt;
use serde_json::json;
use spektate_azdo::AzureTableStore;
use spektate_azdo::table::{DEV_ACCOUNT, TableAccount};
use spektate_core::http::{Method, Secret};
use spektate_core::{
    DeploymentKind, Filter, ImageBuilt, ManifestCommitted, MetadataUpdated, Record, RecordQuery,
    RecordStore, Recorder, StepName, Tracker,
};

fn store(az: &Azurite, table: &str) -> Arc<AzureTableStore> {
    Arc::new(AzureTableStore::new(az.account(), table).expect("store"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_passes_the_core_conformance_suite() {
    let az = Azurite::start();
    let store =
        AzureTableStore::from_connection_string(&az.connection_string(), "conformance").unwrap();
    spektate_core::testkit::store_conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_page_through_more_than_a_thousand_rows() {
    let az = Azurite::start();
    let store = store(&az, "paging");
    let inserted: Vec<Record> = futures::stream::iter(0..1105)
        .map(|i| {
            let store = store.clone();
            async move {
                let mut r = Record::new("big");
                r.set_column("imageTag", Some(format!("svc-{}", i % 3)));
                r.set_column("p1", Some(format!("{}", 10_000 + i)));
                store.insert(&r).await.expect("insert")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let all = store.query("big", &RecordQuery::all()).await.unwrap();
    assert_eq!(all.len(), 1105, "every row across the 1,000-row pages");
    let mut keys: Vec<&str> = all.iter().map(|r| r.row_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 1105, "no row read twice");
    let some = store
        .query("big", &RecordQuery::all().image_tag("SVC-1"))
        .await
        .unwrap();
    assert_eq!(
        some.len(),
        inserted
            .iter()
            .filter(|r| r.image_tag.as_deref() == Some("svc-1"))
            .count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quote_in_a_filter_value_cannot_change_the_query() {
    let az = Azurite::start();
    let store = store(&az, "escaping");
    for tag in ["web-1", "web-2", "it's"] {
        let mut r = Record::new("demo");
        r.set_column("imageTag", Some(tag.into()));
        store.insert(&r).await.unwrap();
    }
    let hostile = "it's' or 'a' eq 'a";
    assert!(
        store
            .query("demo", &RecordQuery::all().image_tag(hostile))
            .await
            .unwrap()
            .is_empty(),
        "the injected `or` matched rows"
    );
    let quoted = store
        .query("demo", &RecordQuery::all().image_tag("it's"))
        .await
        .unwrap();
    assert_eq!(quoted.len(), 1);
    assert_eq!(quoted[0].image_tag.as_deref(), Some("it's"));
    let mut r = Record::new("demo");
    r.set_column("imageTag", Some(hostile.into()));
    store.insert(&r).await.unwrap();
    let exact = store
        .query("demo", &RecordQuery::all().image_tag(hostile))
        .await
        .unwrap();
    assert_eq!(
        exact.iter().map(|r| r.row_key.as_str()).collect::<Vec<_>>(),
        vec![r.row_key.as_str()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_etag_no_header_can_carry_is_refused_not_dropped() {
    let az = Azurite::start();
    let store = store(&az, "etags");
    let mut r = Record::new("demo");
    r.set_column("imageTag", Some("web-1".into()));
    let stored = store.insert(&r).await.unwrap();
    let mut other = Record::new("demo");
    other.set_column("imageTag", Some("web-2".into()));
    let other = store.insert(&other).await.unwrap();
    // Sent without its If-Match, the write would replace whatever the row holds now.
    let bad = "W/\"datetime'1'\"\r\nX-Injected: 1";
    let mut changed = stored.clone();
    changed.set_column("imageTag", Some("web-changed".into()));
    changed.etag = Some(bad.into());
    for err in [
        store.replace(&changed).await.unwrap_err(),
        store
            .delete("demo", &stored.row_key, Some(bad))
            .await
            .unwrap_err(),
        store
            .replace_and_delete(&changed, &other.row_key, None)
            .await
            .unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(
            matches!(err, spektate_core::Error::Invalid { .. }) && text.contains("etag"),
            "{text}"
        );
    }
    let mut tags: Vec<String> = store
        .query("demo", &RecordQuery::all())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.image_tag)
        .collect();
    tags.sort();
    assert_eq!(tags, ["web-1", "web-2"], "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_recorders_lose_no_update() {
    let az = Azurite::start();
    let store = store(&az, "contention");
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    recorder
        .image_built(&ImageBuilt {
            p1: "7176".into(),
            image_tag: "hello-bedrock-master-7176".into(),
            commit_id: "f19cb81f889d8d29dd21d860df04967fdf5af567".into(),
            service: "fabrikam/hello-bedrock".into(),
            repository: Some("https://dev.azure.com/fabrikam/hello/_git/hello-bedrock".into()),
        })
        .await
        .unwrap();
    // Sixteen rings take the same image at once: each race on the one record must end with
    // one record per ring, every one still linked to the image pipeline.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let rec = recorder.clone();
            tokio::spawn(async move {
                rec.metadata_updated(&MetadataUpdated {
                    p2: format!("{}", 300 + i),
                    image_tag: "hello-bedrock-master-7176".into(),
                    hld_commit_id: format!("{i:02}d2ec1f"),
                    env: format!("ring-{i}"),
                    pr: Some(format!("{}", 1400 + i)),
                    repository: None,
                    service: None,
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("metadata update under contention");
    }
    let rows = store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(rows.len(), 16, "one record per ring");
    let mut rings: Vec<&str> = rows.iter().filter_map(|r| r.env.as_deref()).collect();
    rings.sort_unstable();
    rings.dedup();
    assert_eq!(rings.len(), 16, "no ring overwrote another");
    for r in &rows {
        assert_eq!(
            r.p1.as_deref(),
            Some("7176"),
            "ring {:?} lost its image pipeline",
            r.env
        );
        assert_eq!(
            r.commit_id.as_deref(),
            Some("f19cb81f889d8d29dd21d860df04967fdf5af567")
        );
        let i: usize = r
            .env
            .as_deref()
            .unwrap()
            .trim_start_matches("ring-")
            .parse()
            .unwrap();
        assert_eq!(
            r.p2.as_deref(),
            Some(format!("{}", 300 + i).as_str()),
            "ring-{i} has another ring's release"
        );
        assert_eq!(r.pr.as_deref(), Some(format!("{}", 1400 + i).as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_the_original_pipelines_wrote_read_back_as_deployments() {
    let az = Azurite::start();
    let store = store(&az, "deployments");
    store.ensure_table().await.unwrap();
    // update_pipeline.py (azure-cosmosdb-table): a p1 row, with the `None` column its
    // two-value form leaves behind.
    let p1_row = json!({"PartitionKey": "hello-bedrock", "RowKey": "5c7a0ab1e5f6", "p1": "6046",
        "imageTag": "hello-bedrock-master-6046", "commitId": "e3d6504", "service": "hello-bedrock", "None": null});
    // `bedrock deployment create` (azure-storage): the p1 row updated by p2, and a p3 row
    // of a manual HLD edit with empty strings for what it does not know.
    let p2_row = json!({"PartitionKey": "hello-bedrock", "RowKey": "7d1e8f20a3b4", "p1": "6047",
        "imageTag": "hello-bedrock-master-6047", "commitId": "a1b2c3d", "service": "fabrikam/hello-bedrock",
        "p2": "264", "hldCommitId": "9d2ec1f", "env": "dev", "pr": "1354"});
    let manual = json!({"PartitionKey": "hello-bedrock", "RowKey": "90ab12cd34ef", "commitId": "", "env": "",
        "hldCommitId": "7f3e2d1", "imageTag": "", "p1": "", "p2": "", "p3": "6051", "service": ""});
    for row in [&p1_row, &p2_row, &manual] {
        let (status, body) = raw(&az, Method::POST, "/deployments", "", Some(row)).await;
        assert_eq!(status, 201, "raw insert: {body}");
    }

    let tracker = Tracker::builder(store.clone())
        .partition("hello-bedrock")
        .build();
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), 3, "{ds:#?}");
    let by_id = |id: &str| {
        ds.iter()
            .find(|d| d.id() == id)
            .unwrap_or_else(|| panic!("deployment {id}"))
    };
    let first = by_id("5c7a0ab1e5f6");
    assert_eq!(
        (first.service(), first.image_tag()),
        (Some("hello-bedrock"), Some("hello-bedrock-master-6046"))
    );
    assert_eq!(first.run_id(StepName::Image), Some("6046"));
    let second = by_id("7d1e8f20a3b4");
    assert_eq!(
        (second.service(), second.ring(), second.pr()),
        (Some("hello-bedrock"), Some("dev"), Some("1354"))
    );
    assert_eq!(second.run_id(StepName::Metadata), Some("264"));
    let edit = by_id("90ab12cd34ef");
    assert_eq!(edit.kind, DeploymentKind::ManualHldEdit);
    assert_eq!(
        (edit.image_tag(), edit.hld_commit_id()),
        (None, Some("7f3e2d1"))
    );

    // The new recorder links to an original row and writes it back in the same shape,
    // keeping the column it does not know.
    let recorder = Recorder::new(store.clone(), "hello-bedrock").unwrap();
    recorder
        .metadata_updated(&MetadataUpdated {
            p2: "265".into(),
            image_tag: "hello-bedrock-master-6046".into(),
            hld_commit_id: "1a2b3c4".into(),
            env: "dev".into(),
            pr: Some("1355".into()),
            repository: None,
            service: None,
        })
        .await
        .unwrap();
    let (status, row) = raw(
        &az,
        Method::GET,
        "/deployments(PartitionKey='hello-bedrock',RowKey='5c7a0ab1e5f6')",
        "",
        None,
    )
    .await;
    assert_eq!(status, 200, "{row}");
    for (column, want) in [
        ("p1", "6046"),
        ("p2", "265"),
        ("env", "dev"),
        ("hldCommitId", "1a2b3c4"),
        ("pr", "1355"),
        ("commitId", "e3d6504"),
    ] {
        assert_eq!(row[column], want, "column {column} of {row}");
    }

    // Run reports and cluster reports stay out of the partition the original tools read.
    store
        .put_run_report(
            "hello-bedrock",
            &spektate_core::RunReport {
                id: "6046".into(),
                status: spektate_core::RunStatus::Completed,
                result: Some(spektate_core::RunResult::Succeeded),
                queued_at: None,
                started_at: None,
                finished_at: None,
                url: None,
                commit: None,
                branch: None,
                repository: None,
                number: None,
                reported_at: None,
                attempt: None,
                etag: None,
            },
        )
        .await
        .unwrap();
    store
        .put_cluster_sync(
            "hello-bedrock",
            &spektate_core::ClusterSync {
                cluster: "west-eu".into(),
                commit: "ab4c9f1ccb67a82256763e32fba1e70c897bd82a".into(),
                synced_at: None,
                tagger: Some("flux".into()),
            },
        )
        .await
        .unwrap();
    let partition = |key: &'static str| {
        let az = &az;
        async move {
            let filter =
                spektate_core::url_encode::query_value(&format!("PartitionKey eq '{key}'"));
            let (_, listed) = raw(
                az,
                Method::GET,
                "/deployments()",
                &format!("$filter={filter}"),
                None,
            )
            .await;
            listed["value"].as_array().cloned().unwrap_or_default()
        }
    };
    assert_eq!(
        partition("hello-bedrock").await.len(),
        3,
        "the original partition holds only the three rows"
    );
    let runs = partition("hello-bedrock~runs").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["RowKey"], "6046", "{runs:?}");
    let clusters = partition("hello-bedrock~clusters").await;
    assert!(
        !clusters.is_empty() && clusters.iter().all(|c| c.to_string().contains("west-eu")),
        "{clusters:?}"
    );
    recorder
        .manifest_committed(&ManifestCommitted {
            p3: "6051".into(),
            manifest_commit_id: "ab4c9f1ccb67a82256763e32fba1e70c897bd82a".into(),
            repository: None,
        })
        .await
        .unwrap();
    let (_, edited) = raw(
        &az,
        Method::GET,
        "/deployments(PartitionKey='hello-bedrock',RowKey='90ab12cd34ef')",
        "",
        None,
    )
    .await;
    assert_eq!(
        edited["manifestCommitId"], "ab4c9f1ccb67a82256763e32fba1e70c897bd82a",
        "{edited}"
    );
    assert_eq!(
        (&edited["p3"], &edited["hldCommitId"]),
        (&json!("6051"), &json!("7f3e2d1")),
        "{edited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_clear_error_without_the_key() {
    let az = Azurite::start();
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=";
    let account = TableAccount::new(DEV_ACCOUNT, Secret::new(wrong))
        .unwrap()
        .with_endpoint(&az.endpoint())
        .unwrap();
    let store = AzureTableStore::new(account, "deployments").unwrap();
    let e = store
        .insert(&Record::new("demo"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("account key was rejected") && e.contains("devstoreaccount1"),
        "{e}"
    );
    assert!(!e.contains(wrong), "{e}");
}

/// A row as other writers leave it: the image tag and commit as the pipeline spelled them,
/// a blank-padded ring, run ids stored as numbers. (Azurite keeps an Int64 as text and
/// matches it with a string literal; the Table service does not.)
fn raw_bedrock_row(row_key: &str) -> serde_json::Value {
    json!({"PartitionKey": "hello-bedrock", "RowKey": row_key,
        "imageTag": "Hello-Bedrock-Master-7254", "env": "DEV ",
        "commitId": "F19CB81F889D8D29DD21D860DF04967FDF5AF567", "service": "hello-bedrock",
        "p1": 7176, "p1@odata.type": "Edm.Int32", "p3": "7180", "p3@odata.type": "Edm.Int64"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_written_raw_by_other_tools_are_found_by_normalized_queries() {
    let az = Azurite::start();
    let store = store(&az, "legacy");
    store.ensure_table().await.unwrap();
    let (status, body) = raw(
        &az,
        Method::POST,
        "/legacy",
        "",
        Some(&raw_bedrock_row("3f9a0b1c2d4e")),
    )
    .await;
    assert_eq!(status, 201, "raw insert: {body}");
    let mut ours = Record::new("hello-bedrock");
    ours.set_column("imageTag", Some("hello-bedrock-master-7300".into()));
    ours.set_column("p1", Some("7300".into()));
    ours.set_column("env", Some("dev".into()));
    let ours = store.insert(&ours).await.unwrap();

    let keys = |q: RecordQuery| {
        let store = store.clone();
        async move {
            let mut keys: Vec<String> = store
                .query("hello-bedrock", &q)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.row_key)
                .collect();
            keys.sort_unstable();
            keys
        }
    };
    let legacy = vec!["3f9a0b1c2d4e".to_string()];
    for (what, q) in [
        (
            "image tag",
            RecordQuery::all().image_tag("hello-bedrock-master-7254"),
        ),
        (
            "commit",
            RecordQuery::all().commit_id("f19cb81f889d8d29dd21d860df04967fdf5af567"),
        ),
        ("Int32 p1", RecordQuery::all().p1("7176")),
        ("Int32 run id", RecordQuery::all().run_id("7176")),
        ("Int64 run id", RecordQuery::all().run_id("7180")),
        (
            "tag and ring",
            RecordQuery::all()
                .image_tag("HELLO-bedrock-master-7254")
                .env("dev"),
        ),
    ] {
        assert_eq!(keys(q).await, legacy, "by {what}");
    }
    let mut both = vec![legacy[0].clone(), ours.row_key.clone()];
    both.sort_unstable();
    assert_eq!(keys(RecordQuery::all().env("dev")).await, both, "by ring");
    assert_eq!(
        keys(RecordQuery::all().image_tag("hello-bedrock-master-7300")).await,
        vec![ours.row_key.clone()],
        "a row without the value is not returned, whoever wrote it"
    );
    assert!(
        keys(
            RecordQuery::all()
                .image_tag("hello-bedrock-master-7254")
                .env("prod")
        )
        .await
        .is_empty()
    );
    let by_run = store
        .row_keys("hello-bedrock", &RecordQuery::all().run_id("7176"))
        .await
        .unwrap();
    assert_eq!(
        by_run, legacy,
        "row keys of a query are those of its records"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_metadata_update_links_to_the_image_row_the_original_tool_wrote() {
    let az = Azurite::start();
    let store = store(&az, "legacylink");
    store.ensure_table().await.unwrap();
    let (status, body) = raw(
        &az,
        Method::POST,
        "/legacylink",
        "",
        Some(&json!({"PartitionKey": "hello-bedrock", "RowKey": "5e6f7a8b9c0d",
            "imageTag": "Hello-Bedrock-Master-7254", "commitId": "F19CB81F", "service": "hello-bedrock",
            "p1": 7176, "p1@odata.type": "Edm.Int32"})),
    )
    .await;
    assert_eq!(status, 201, "raw insert: {body}");
    let recorder = Recorder::new(store.clone(), "hello-bedrock").unwrap();
    recorder
        .metadata_updated(&MetadataUpdated {
            p2: "264".into(),
            image_tag: "hello-bedrock-master-7254".into(),
            hld_commit_id: "9d2ec1f".into(),
            env: "dev".into(),
            pr: Some("1354".into()),
            repository: None,
            service: None,
        })
        .await
        .unwrap();
    let rows = store
        .query("hello-bedrock", &RecordQuery::all())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the update joined the image row: {rows:#?}");
    let r = &rows[0];
    assert_eq!(
        (r.row_key.as_str(), r.p1.as_deref(), r.p2.as_deref()),
        ("5e6f7a8b9c0d", Some("7176"), Some("264"))
    );
    // Written back by this store, the row now vouches for its values.
    let (_, row) = raw(
        &az,
        Method::GET,
        "/legacylink(PartitionKey='hello-bedrock',RowKey='5e6f7a8b9c0d')",
        "",
        None,
    )
    .await;
    assert_eq!(
        (&row["imageTag"], &row["p1"], &row["spektateForm"]),
        (
            &json!("hello-bedrock-master-7254"),
            &json!("7176"),
            &json!(1)
        ),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_of_rows_spektate_wrote_reads_only_the_matching_rows() {
    let az = Azurite::start();
    let store = store(&az, "selective");
    for i in 0..12 {
        let mut r = Record::new("demo");
        r.set_column("imageTag", Some(format!("Web-{}", i % 4)));
        r.set_column("p1", Some(format!("{}", 100 + i)));
        store.insert(&r).await.unwrap();
    }
    // What the service sends for the store's own filter, before any row is re-checked here.
    let sent = |q: RecordQuery| {
        let az = &az;
        async move {
            let filter = spektate_azdo::table::odata::record_filter("demo", &q);
            let query = format!(
                "$filter={}",
                spektate_core::url_encode::query_value(&filter)
            );
            let (status, body) = raw(az, Method::GET, "/selective()", &query, None).await;
            assert_eq!(status, 200, "{filter}: {body}");
            body["value"].as_array().cloned().unwrap_or_default()
        }
    };
    assert_eq!(sent(RecordQuery::all().image_tag("web-1")).await.len(), 3);
    assert_eq!(sent(RecordQuery::all().run_id("105")).await.len(), 1);
    assert_eq!(sent(RecordQuery::all()).await.len(), 12);

    // A row another tool wrote is sent for any query on values, and kept only if it matches.
    let legacy = json!({"PartitionKey": "demo", "RowKey": "0a1b2c3d4e5f", "imageTag": "WEB-1"});
    let (status, body) = raw(&az, Method::POST, "/selective", "", Some(&legacy)).await;
    assert_eq!(status, 201, "raw insert: {body}");
    assert_eq!(sent(RecordQuery::all().image_tag("web-1")).await.len(), 4);
    assert_eq!(sent(RecordQuery::all().run_id("105")).await.len(), 2);
    let count = |q: RecordQuery| {
        let store = store.clone();
        async move { store.query("demo", &q).await.unwrap().len() }
    };
    assert_eq!(count(RecordQuery::all().image_tag("web-1")).await, 4);
    assert_eq!(count(RecordQuery::all().run_id("105")).await, 1);
}
