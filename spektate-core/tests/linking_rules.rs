//! The four linking rules (docs/ARCHITECTURE.md, Linking rules) and their edge cases, on the
//! embedded SQLite store.

use std::sync::Arc;

use spektate_core::{
    Error, ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, Record, RecordQuery,
    RecordStore, Recorder, SqliteStore,
};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn RecordStore>,
    rec: Recorder,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    Fixture {
        _dir: dir,
        store,
        rec,
    }
}

impl Fixture {
    async fn all(&self) -> Vec<Record> {
        self.store
            .query("fabrikam", &RecordQuery::all())
            .await
            .unwrap()
    }
}

fn image(p1: &str, tag: &str) -> ImageBuilt {
    ImageBuilt {
        p1: p1.into(),
        image_tag: tag.into(),
        commit_id: "A1B2C3D4".into(),
        service: "Fabrikam/Frontend".into(),
        repository: Some("https://github.com/fabrikam/frontend".into()),
    }
}

fn meta(p2: &str, tag: &str, hld: &str, env: &str, pr: Option<&str>) -> MetadataUpdated {
    MetadataUpdated {
        p2: p2.into(),
        image_tag: tag.into(),
        hld_commit_id: hld.into(),
        env: env.into(),
        pr: pr.map(Into::into),
        repository: None,
        service: None,
    }
}

fn manifest(p3: &str, hld: &str, m: Option<&str>, pr: Option<&str>) -> ManifestGenerated {
    ManifestGenerated {
        p3: p3.into(),
        hld_commit_id: hld.into(),
        manifest_commit_id: m.map(Into::into),
        pr: pr.map(Into::into),
        repository: None,
    }
}

#[tokio::test]
async fn rule1_inserts_a_lower_cased_record() {
    let f = fixture();
    let r = f
        .rec
        .image_built(&image("101", "Frontend-101"))
        .await
        .unwrap();
    assert_eq!(r.row_key.len(), 12);
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].image_tag.as_deref(), Some("frontend-101"));
    assert_eq!(all[0].service.as_deref(), Some("fabrikam/frontend"));
    assert_eq!(all[0].service_name(), Some("frontend"));
    assert_eq!(all[0].commit_id.as_deref(), Some("a1b2c3d4"));
    assert_eq!(
        all[0].source_repo.as_deref(),
        Some("https://github.com/fabrikam/frontend")
    );
}

#[tokio::test]
async fn rule1_reported_twice_for_one_run_keeps_one_record() {
    let f = fixture();
    f.rec
        .image_built(&ImageBuilt {
            repository: None,
            ..image("101", "frontend-101")
        })
        .await
        .unwrap();
    // The retry knows the repository the first report left out: it completes the record.
    let b = f
        .rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        all[0].source_repo.as_deref(),
        Some("https://github.com/fabrikam/frontend"),
        "the retry's repository is merged in"
    );
    assert_eq!(
        (all[0].p1.as_deref(), all[0].commit_id.as_deref()),
        (Some("101"), Some("a1b2c3d4"))
    );
    assert_eq!(
        b.columns(),
        all[0].columns(),
        "the answer is the stored record"
    );
}

#[tokio::test]
async fn rule2_updates_the_image_record_in_place() {
    let f = fixture();
    let p1 = f
        .rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    let r = f
        .rec
        .metadata_updated(&meta("201", "FRONTEND-101", "hld1", "Dev", Some("7")))
        .await
        .unwrap();
    assert_eq!(r.row_key, p1.row_key, "same record");
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (
            all[0].p1.as_deref(),
            all[0].p2.as_deref(),
            all[0].env.as_deref(),
            all[0].pr.as_deref()
        ),
        (Some("101"), Some("201"), Some("dev"), Some("7"))
    );
}

#[tokio::test]
async fn rule2_a_second_ring_for_the_same_image_copies_the_image_fields() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    let second = f
        .rec
        .metadata_updated(&meta("202", "frontend-101", "hld2", "prod", None))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 2, "a new record for the second ring");
    let prod = all.iter().find(|r| r.row_key == second.row_key).unwrap();
    assert_eq!(prod.env.as_deref(), Some("prod"));
    assert_eq!(prod.p1.as_deref(), Some("101"), "p1 copied");
    assert_eq!(prod.commit_id.as_deref(), Some("a1b2c3d4"), "commit copied");
    assert_eq!(
        prod.service.as_deref(),
        Some("fabrikam/frontend"),
        "service copied"
    );
    assert_eq!(
        prod.source_repo.as_deref(),
        Some("https://github.com/fabrikam/frontend"),
        "source repo copied"
    );
    let dev = all.iter().find(|r| r.row_key != second.row_key).unwrap();
    assert_eq!(
        (dev.env.as_deref(), dev.p2.as_deref()),
        (Some("dev"), Some("201")),
        "first ring untouched"
    );
}

#[tokio::test]
async fn rule2_the_same_update_twice_is_idempotent() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    assert_eq!(f.all().await.len(), 1);
}

#[tokio::test]
async fn rule2_a_rerun_of_one_p2_with_a_new_hld_commit_is_a_new_record() {
    // A release redeployed (or a workflow re-run) keeps its id and makes another HLD commit.
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    let first = f
        .rec
        .metadata_updated(&meta("202", "frontend-101", "hld2", "prod", None))
        .await
        .unwrap();
    let again = f
        .rec
        .metadata_updated(&meta("202", "frontend-101", "hld3", "prod", None))
        .await
        .expect("the re-run is recorded");
    assert_ne!(again.row_key, first.row_key);
    let mut hld: Vec<_> = f
        .all()
        .await
        .into_iter()
        .map(|r| (r.p2, r.hld_commit_id, r.p1))
        .collect();
    hld.sort();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        hld,
        vec![
            (some("201"), some("hld1"), some("101")),
            (some("202"), some("hld2"), some("101")),
            (some("202"), some("hld3"), some("101")),
        ]
    );
    // And recording the re-run again changes nothing.
    f.rec
        .metadata_updated(&meta("202", "frontend-101", "hld3", "prod", None))
        .await
        .unwrap();
    assert_eq!(f.all().await.len(), 3);
}

#[tokio::test]
async fn rule2_without_an_image_record_inserts_just_the_p2_fields() {
    let f = fixture();
    f.rec
        .metadata_updated(&meta("201", "frontend-999", "hld1", "dev", Some("3")))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].p1, None);
    assert_eq!(all[0].p2.as_deref(), Some("201"));
    assert_eq!(all[0].pr.as_deref(), Some("3"));
}

#[tokio::test]
async fn rule3_links_by_hld_commit() {
    let f = fixture();
    let first = f
        .rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "HLD1", "dev", None))
        .await
        .unwrap();
    let r = f
        .rec
        .manifest_generated(&manifest("301", "hld1", Some("man1"), None))
        .await
        .unwrap();
    assert_eq!(r.row_key, first.row_key);
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].p3.as_deref(), all[0].manifest_commit_id.as_deref()),
        (Some("301"), Some("man1"))
    );
}

#[tokio::test]
async fn rule3_falls_back_to_the_pull_request() {
    let f = fixture();
    let first = f
        .rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    // p2 recorded the PR's source-branch commit; the merge made another HLD commit.
    f.rec
        .metadata_updated(&meta(
            "201",
            "frontend-101",
            "branchcommit",
            "dev",
            Some("41"),
        ))
        .await
        .unwrap();
    let r = f
        .rec
        .manifest_generated(&manifest("301", "mergecommit", None, Some("41")))
        .await
        .unwrap();
    assert_eq!(r.row_key, first.row_key, "found through PR 41");
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].hld_commit_id.as_deref(),
        Some("mergecommit"),
        "the merge commit is what p3 rendered"
    );
    assert_eq!(all[0].p3.as_deref(), Some("301"));
}

#[tokio::test]
async fn rule3_with_nothing_to_link_is_a_manual_hld_edit() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .manifest_generated(&manifest("301", "handedit", Some("man1"), Some("99")))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 2);
    let edit = all.iter().find(|r| r.p3.is_some()).unwrap();
    assert_eq!(
        (edit.p1.as_deref(), edit.image_tag.as_deref()),
        (None, None),
        "no image behind it"
    );
    assert_eq!(edit.hld_commit_id.as_deref(), Some("handedit"));
}

#[tokio::test]
async fn rule3_a_rerun_with_a_new_manifest_commit_copies_the_record() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    f.rec
        .manifest_generated(&manifest("301", "hld1", Some("man1"), None))
        .await
        .unwrap();
    let rerun = f
        .rec
        .manifest_generated(&manifest("302", "hld1", Some("man2"), None))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 2, "the re-run gets its own record");
    let copy = all.iter().find(|r| r.row_key == rerun.row_key).unwrap();
    assert_eq!(
        (copy.p3.as_deref(), copy.manifest_commit_id.as_deref()),
        (Some("302"), Some("man2"))
    );
    assert_eq!(
        (copy.p1.as_deref(), copy.p2.as_deref(), copy.env.as_deref()),
        (Some("101"), Some("201"), Some("dev")),
        "copied from the last"
    );
    let orig = all.iter().find(|r| r.row_key != rerun.row_key).unwrap();
    assert_eq!(
        orig.manifest_commit_id.as_deref(),
        Some("man1"),
        "the first run keeps its commit"
    );
}

#[tokio::test]
async fn rule4_sets_the_manifest_commit_of_the_p3_record() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    f.rec
        .manifest_generated(&manifest("301", "hld1", None, None))
        .await
        .unwrap();
    f.rec
        .manifest_committed(&ManifestCommitted {
            p3: "301".into(),
            manifest_commit_id: "MAN1".into(),
            repository: Some("https://dev.azure.com/fabrikam/ops/_git/manifests".into()),
        })
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].manifest_commit_id.as_deref(), Some("man1"));
    assert_eq!(
        all[0].manifest_repo.as_deref(),
        Some("https://dev.azure.com/fabrikam/ops/_git/manifests")
    );
}

#[tokio::test]
async fn rule4_with_an_unknown_p3_is_an_error_that_says_so() {
    let f = fixture();
    let e = f
        .rec
        .manifest_committed(&ManifestCommitted {
            p3: "404".into(),
            manifest_commit_id: "m".into(),
            repository: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("p3 '404'") && msg.contains("fabrikam"),
        "{msg}"
    );
    assert!(f.all().await.is_empty(), "nothing written");
}

#[tokio::test]
async fn empty_and_oversized_values_are_clear_errors_and_write_nothing() {
    let f = fixture();
    let e = f
        .rec
        .image_built(&image("  ", "t"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("p1") && e.contains("empty"), "{e}");
    let huge = "x".repeat(100 * 1024);
    let e = f
        .rec
        .image_built(&image("101", &huge))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("imageTag") && e.contains("102400 characters") && e.len() < 300,
        "{e}"
    );
    let e = f
        .rec
        .metadata_updated(&MetadataUpdated {
            repository: Some("not a url".into()),
            ..meta("1", "t", "h", "dev", None)
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("'not a url'"), "{e}");
    assert!(Recorder::new(f.store.clone(), "").is_err());
    assert!(
        Recorder::new(f.store.clone(), "a/b")
            .unwrap_err()
            .to_string()
            .contains("\"a/b\"")
    );
    assert!(f.all().await.is_empty(), "no partial write");
}

/// A NUL or another control character in a cluster, a run's URL or branch is refused by
/// name: PostgreSQL cannot hold a NUL, and a store error would tell the sender to try again.
#[tokio::test]
async fn control_characters_in_a_cluster_url_or_branch_are_clear_errors_and_write_nothing() {
    use spektate_core::{RunReported, RunStatus};
    let f = fixture();
    for cluster in ["east\u{0}us", "east\nus"] {
        let e = f
            .rec
            .cluster_synced(cluster, "abc1234", None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        assert!(
            e.to_string().contains("cluster") && e.to_string().contains("control character"),
            "{e}"
        );
    }
    let long = "c".repeat(254);
    let e = f
        .rec
        .cluster_synced(&long, "abc1234", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cluster") && e.contains("the limit is 253"),
        "{e}"
    );
    for (field, run) in [
        (
            "url",
            RunReported {
                url: Some("https://ci:pat123@ci/x\u{0}".into()),
                ..RunReported::new("7", RunStatus::Queued)
            },
        ),
        (
            "branch",
            RunReported {
                branch: Some("main\u{1b}[31m".into()),
                ..RunReported::new("7", RunStatus::Queued)
            },
        ),
    ] {
        let e = f.rec.run_reported(&run).await.unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&format!("invalid {field}")),
            "{e}"
        );
        assert!(!e.to_string().contains("pat123"), "{e}");
    }
    // Trimmed, case kept.
    let sync = f
        .rec
        .cluster_synced("  East-US ", "abc1234", None)
        .await
        .unwrap();
    assert_eq!(sync.cluster, "East-US");
    assert!(
        f.store
            .run_reports("fabrikam", &["7".into()])
            .await
            .unwrap()
            .is_empty()
    );
    let histories = f.store.cluster_histories("fabrikam").await.unwrap();
    assert_eq!(histories.len(), 1, "only East-US: {histories:?}");
}

#[tokio::test]
async fn quotes_and_newlines_round_trip_faithfully() {
    let f = fixture();
    let tag = "it's' or 'a' eq 'a";
    f.rec
        .image_built(&ImageBuilt {
            service: "multi\nline".into(),
            ..image("101", tag)
        })
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", tag, "hld1", "dev", None))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(
        all.len(),
        1,
        "the quoted tag linked p2 to p1 and matched nothing else"
    );
    assert_eq!(all[0].image_tag.as_deref(), Some(tag));
    assert_eq!(all[0].service.as_deref(), Some("multi\nline"));
}

#[tokio::test]
async fn rule4_a_re_pushed_manifest_updates_the_record_in_place() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", None))
        .await
        .unwrap();
    f.rec
        .manifest_generated(&manifest("301", "hld1", Some("man1"), None))
        .await
        .unwrap();
    let again = |m: &str| ManifestCommitted {
        p3: "301".into(),
        manifest_commit_id: m.into(),
        repository: None,
    };
    f.rec.manifest_committed(&again("MAN2")).await.unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1, "no copy: {all:?}");
    assert_eq!(all[0].manifest_commit_id.as_deref(), Some("man2"));
    assert_eq!(all[0].p1.as_deref(), Some("101"));

    // Two rings rendered by one p3 run: both records take the new manifest commit.
    f.rec
        .metadata_updated(&meta("202", "frontend-101", "hld2", "prod", None))
        .await
        .unwrap();
    f.rec
        .manifest_generated(&manifest("301", "hld2", Some("man2"), None))
        .await
        .unwrap();
    f.rec.manifest_committed(&again("MAN3")).await.unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .all(|r| r.manifest_commit_id.as_deref() == Some("man3")),
        "{all:?}"
    );
}

#[tokio::test]
async fn rule1_a_retried_p1_racing_itself_gives_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    SqliteStore::open(&path).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&path).unwrap());
            let rec = Recorder::new(store, "fabrikam").unwrap();
            rec.image_built(&image("101", "frontend-101"))
                .await
                .unwrap()
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let store = SqliteStore::open(&path).unwrap();
    let all = store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (
            all[0].p1.as_deref(),
            all[0].image_tag.as_deref(),
            all[0].commit_id.as_deref(),
            all[0].service.as_deref(),
            all[0].source_repo.as_deref(),
        ),
        (
            Some("101"),
            Some("frontend-101"),
            Some("a1b2c3d4"),
            Some("fabrikam/frontend"),
            Some("https://github.com/fabrikam/frontend"),
        )
    );
    for a in &answers {
        assert_eq!(
            a.columns(),
            all[0].columns(),
            "every retry answered with the one record"
        );
    }
}

#[tokio::test]
async fn rule2_an_early_p3_is_merged_into_the_p2_record_when_p2_arrives() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    // The HLD push started p3 before p2 recorded its HLD commit.
    f.rec
        .manifest_generated(&manifest("301", "hld1", Some("man1"), None))
        .await
        .unwrap();
    assert_eq!(f.all().await.len(), 2, "a manual HLD edit for now");
    let p2 = f
        .rec
        .metadata_updated(&meta("201", "frontend-101", "hld1", "dev", Some("7")))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1, "no manual HLD edit left beside it: {all:?}");
    let r = &all[0];
    assert_eq!(
        (r.p1.as_deref(), r.p2.as_deref(), r.p3.as_deref()),
        (Some("101"), Some("201"), Some("301"))
    );
    assert_eq!(r.manifest_commit_id.as_deref(), Some("man1"));
    assert_eq!(r.pr.as_deref(), Some("7"));
    assert_eq!(
        p2.p3.as_deref(),
        Some("301"),
        "the answer is the merged record"
    );
}

#[tokio::test]
async fn rule2_an_early_p3_of_the_pull_requests_merge_commit_is_merged_through_the_pr() {
    let f = fixture();
    f.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    // The PR was merged and its merge commit started p3 before p2 recorded the PR branch's
    // commit.
    f.rec
        .manifest_generated(&manifest("301", "merge1", Some("man1"), Some("41")))
        .await
        .unwrap();
    assert_eq!(f.all().await.len(), 2, "a manual HLD edit for now");
    f.rec
        .metadata_updated(&meta("201", "frontend-101", "branch1", "dev", Some("41")))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 1, "no manual HLD edit left beside it: {all:?}");
    let r = &all[0];
    assert_eq!(
        (r.p1.as_deref(), r.p2.as_deref(), r.p3.as_deref()),
        (Some("101"), Some("201"), Some("301"))
    );
    assert_eq!(r.manifest_commit_id.as_deref(), Some("man1"));
    assert_eq!(
        r.hld_commit_id.as_deref(),
        Some("merge1"),
        "the commit p3 rendered, as rule 3 writes when p3 comes last"
    );

    // The same steps in the usual order give the same record.
    let g = fixture();
    g.rec
        .image_built(&image("101", "frontend-101"))
        .await
        .unwrap();
    g.rec
        .metadata_updated(&meta("201", "frontend-101", "branch1", "dev", Some("41")))
        .await
        .unwrap();
    g.rec
        .manifest_generated(&manifest("301", "merge1", Some("man1"), Some("41")))
        .await
        .unwrap();
    let usual = g.all().await;
    assert_eq!(usual.len(), 1);
    assert_eq!(usual[0].columns(), r.columns());
}

#[tokio::test]
async fn rule2_with_a_service_never_links_another_services_image_of_the_same_tag() {
    let f = fixture();
    let build = |p1: &str, service: &str| ImageBuilt {
        p1: p1.into(),
        image_tag: "v1.0.0".into(),
        commit_id: format!("{p1}c0ffee"),
        service: service.into(),
        repository: None,
    };
    f.rec
        .image_built(&build("11", "fabrikam/frontend"))
        .await
        .unwrap();
    f.rec
        .image_built(&build("12", "fabrikam/backend"))
        .await
        .unwrap();
    let for_service = |p2: &str, hld: &str, service: &str| MetadataUpdated {
        service: Some(service.into()),
        ..meta(p2, "v1.0.0", hld, "dev", None)
    };
    f.rec
        .metadata_updated(&for_service("22", "hldb", "fabrikam/backend"))
        .await
        .unwrap();
    f.rec
        .metadata_updated(&for_service("21", "hldf", "frontend"))
        .await
        .unwrap();
    let all = f.all().await;
    assert_eq!(all.len(), 2, "{all:?}");
    for r in &all {
        let (p2, service) = if r.p1.as_deref() == Some("11") {
            ("21", "fabrikam/frontend")
        } else {
            ("22", "fabrikam/backend")
        };
        assert_eq!(r.p2.as_deref(), Some(p2), "{r:?}");
        assert_eq!(
            r.service.as_deref(),
            Some(service),
            "the full name is kept: {r:?}"
        );
    }
}

mod run_reports {
    use super::*;
    use chrono::{DateTime, Duration, SubsecRound, Utc};
    use spektate_core::{RunReported, RunResult, RunStatus};

    /// The field and reason of an invalid-input error.
    fn invalid(e: &Error) -> (&str, &str) {
        match e {
            Error::Invalid { field, reason } => (field, reason),
            other => panic!("{other:?}"),
        }
    }

    fn report(status: RunStatus, attempt: Option<u32>) -> RunReported {
        RunReported {
            attempt,
            ..RunReported::new("101", status)
        }
    }

    async fn stored(f: &Fixture) -> spektate_core::RunReport {
        f.store
            .run_reports("fabrikam", &["101".into()])
            .await
            .unwrap()
            .pop()
            .unwrap()
    }

    #[tokio::test]
    async fn a_late_in_progress_after_completed_is_ignored() {
        let f = fixture();
        f.rec
            .run_reported(&report(RunStatus::InProgress, None))
            .await
            .unwrap();
        let mut done = report(RunStatus::Completed, None);
        done.result = Some(RunResult::Failed);
        f.rec.run_reported(&done).await.unwrap();
        let back = f
            .rec
            .run_reported(&report(RunStatus::InProgress, None))
            .await
            .unwrap();
        assert_eq!(
            back.status,
            RunStatus::Completed,
            "the answer is the stored report"
        );
        let s = stored(&f).await;
        assert_eq!(
            (s.status, s.result),
            (RunStatus::Completed, Some(RunResult::Failed))
        );
    }

    #[tokio::test]
    async fn a_rerun_is_a_new_attempt_and_an_earlier_attempt_is_ignored() {
        let f = fixture();
        f.rec
            .run_reported(&report(RunStatus::Completed, Some(1)))
            .await
            .unwrap();
        f.rec
            .run_reported(&report(RunStatus::InProgress, Some(2)))
            .await
            .unwrap();
        let s = stored(&f).await;
        assert_eq!((s.status, s.attempt), (RunStatus::InProgress, Some(2)));
        assert!(
            s.finished_at.is_none(),
            "the rerun does not keep attempt 1's finish"
        );
        f.rec
            .run_reported(&report(RunStatus::Completed, Some(1)))
            .await
            .unwrap();
        assert_eq!(stored(&f).await.attempt, Some(2));

        // Without attempts: a report queued after the run finished is a rerun.
        let g = fixture();
        let finished = Utc::now() - Duration::minutes(30);
        let mut first = report(RunStatus::Completed, None);
        first.queued_at = Some(finished - Duration::minutes(5));
        first.finished_at = Some(finished);
        g.rec.run_reported(&first).await.unwrap();
        let mut again = report(RunStatus::Queued, None);
        again.queued_at = Some(Utc::now());
        g.rec.run_reported(&again).await.unwrap();
        let s = stored(&g).await;
        assert_eq!((s.status, s.attempt), (RunStatus::Queued, Some(2)));
    }

    #[tokio::test]
    async fn times_far_ahead_of_the_clock_are_refused_by_name_and_a_rerun_still_counts() {
        let f = fixture();
        let ahead = Utc::now() + Duration::hours(1);
        for (field, mut r) in [
            ("queued-at", report(RunStatus::Queued, None)),
            ("started-at", report(RunStatus::InProgress, None)),
            ("finished-at", report(RunStatus::Completed, None)),
        ] {
            match field {
                "queued-at" => r.queued_at = Some(ahead),
                "started-at" => r.started_at = Some(ahead),
                _ => r.finished_at = Some(ahead),
            }
            let e = f.rec.run_reported(&r).await.unwrap_err();
            let (named, reason) = invalid(&e);
            assert_eq!(named, field);
            let shown = ahead.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            assert!(
                reason.contains(&shown)
                    && reason.contains("more than 5 minutes ahead of the clock here"),
                "{reason}"
            );
        }
        assert!(
            f.store
                .run_reports("fabrikam", &["101".into()])
                .await
                .unwrap()
                .is_empty(),
            "nothing written"
        );
        // A sender's clock a minute ahead is taken, and a rerun queued after that finish
        // is a new attempt.
        let mut done = report(RunStatus::Completed, None);
        done.finished_at = Some(Utc::now() + Duration::minutes(1));
        f.rec.run_reported(&done).await.unwrap();
        let mut again = report(RunStatus::Queued, None);
        again.queued_at = Some(Utc::now() + Duration::minutes(2));
        f.rec.run_reported(&again).await.unwrap();
        assert_eq!(stored(&f).await.attempt, Some(2));
    }

    #[tokio::test]
    async fn the_last_attempt_number_is_kept_by_a_rerun_that_gives_none() {
        let f = fixture();
        let mut last = report(RunStatus::Completed, Some(u32::MAX));
        last.finished_at = Some(Utc::now() - Duration::minutes(10));
        f.rec.run_reported(&last).await.unwrap();
        let mut again = report(RunStatus::Queued, None);
        again.queued_at = Some(Utc::now());
        f.rec.run_reported(&again).await.unwrap();
        let s = stored(&f).await;
        assert_eq!(
            (s.status, s.attempt),
            (RunStatus::Completed, Some(u32::MAX))
        );
    }

    #[tokio::test]
    async fn attempt_zero_is_refused_and_writes_nothing() {
        let f = fixture();
        let e = f
            .rec
            .run_reported(&report(RunStatus::Completed, Some(0)))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("attempt") && e.contains("count from 1"), "{e}");
        assert!(
            f.store
                .run_reports("fabrikam", &["101".into()])
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn reports_racing_each_other_are_all_applied() {
        let f = fixture();
        f.rec
            .run_reported(&report(RunStatus::Queued, None))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let rec = f.rec.clone();
            tasks.push(tokio::spawn(async move {
                let mut r = report(RunStatus::InProgress, None);
                if i == 0 {
                    r.url = Some("https://ci.example.com/runs/101".into());
                } else if i == 1 {
                    r.commit = Some("abc1234".into());
                } else {
                    r.branch = Some(format!("main{i}"));
                }
                rec.run_reported(&r).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let s = stored(&f).await;
        assert_eq!(s.url.as_deref(), Some("https://ci.example.com/runs/101"));
        assert_eq!(
            s.commit.as_deref(),
            Some("abc1234"),
            "no report lost another's field"
        );
    }

    async fn stored_as(f: &Fixture, id: &str) -> spektate_core::RunReport {
        f.store
            .run_reports("fabrikam", &[id.into()])
            .await
            .unwrap()
            .pop()
            .unwrap()
    }

    /// Queued, started and finished.
    type Times = (
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );

    /// The times of a stored report.
    fn times(r: &spektate_core::RunReport) -> Times {
        (r.queued_at, r.started_at, r.finished_at)
    }

    #[tokio::test]
    async fn a_report_without_times_is_timed_now_as_its_status_implies() {
        let f = fixture();
        for (id, status) in [
            ("1", RunStatus::Queued),
            ("2", RunStatus::InProgress),
            ("3", RunStatus::Completed),
        ] {
            let before = Utc::now() - Duration::seconds(1);
            f.rec
                .run_reported(&RunReported::new(id, status))
                .await
                .unwrap();
            let after = Utc::now() + Duration::seconds(1);
            let s = stored_as(&f, id).await;
            let now = |t: Option<DateTime<Utc>>| t.is_some_and(|t| before <= t && t <= after);
            let (q, st, fin) = times(&s);
            assert!(now(q), "{status:?} is queued now: {s:?}");
            assert_eq!(
                (st.is_some(), fin.is_some()),
                (status != RunStatus::Queued, status == RunStatus::Completed),
                "{status:?}: {s:?}"
            );
            assert!(st.is_none() || now(st), "{status:?} started now: {s:?}");
            assert!(fin.is_none() || now(fin), "{status:?} finished now: {s:?}");
            assert!(
                [q, st, fin].into_iter().flatten().is_sorted(),
                "in order: {s:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_backdated_completed_report_keeps_queued_started_finished_in_order() {
        let f = fixture();
        let now = Utc::now().trunc_subsecs(0);
        let ago = |m: i64| Some(now - Duration::minutes(m));
        let completed = |id: &str| RunReported::new(id, RunStatus::Completed);

        // `record run --status completed --queued-at T-20m --finished-at T-12m`: the start
        // is not now, after the finish, but the queue time.
        f.rec
            .run_reported(&RunReported {
                queued_at: ago(20),
                finished_at: ago(12),
                ..completed("1")
            })
            .await
            .unwrap();
        assert_eq!(
            times(&stored_as(&f, "1").await),
            (ago(20), ago(20), ago(12))
        );

        // A finish alone: queued and started then too, not refused as before a queue time
        // of now.
        f.rec
            .run_reported(&RunReported {
                finished_at: ago(5),
                ..completed("2")
            })
            .await
            .unwrap();
        assert_eq!(times(&stored_as(&f, "2").await), (ago(5), ago(5), ago(5)));

        // A start alone: queued then, finished now.
        f.rec
            .run_reported(&RunReported {
                started_at: ago(7),
                ..completed("3")
            })
            .await
            .unwrap();
        let (q, st, fin) = times(&stored_as(&f, "3").await);
        assert_eq!((q, st), (ago(7), ago(7)));
        assert!(fin.unwrap() >= now, "{fin:?}");

        // An earlier report's times yield to those given: reported running (at now), then
        // completed with a finish a minute ago (the reporter's clock behind).
        f.rec
            .run_reported(&RunReported::new("4", RunStatus::InProgress))
            .await
            .unwrap();
        f.rec
            .run_reported(&RunReported {
                finished_at: ago(1),
                ..completed("4")
            })
            .await
            .unwrap();
        assert_eq!(times(&stored_as(&f, "4").await), (ago(1), ago(1), ago(1)));

        // An earlier report's start before the finish is kept.
        f.rec
            .run_reported(&RunReported {
                queued_at: ago(30),
                started_at: ago(25),
                ..RunReported::new("5", RunStatus::InProgress)
            })
            .await
            .unwrap();
        f.rec
            .run_reported(&RunReported {
                finished_at: ago(10),
                ..completed("5")
            })
            .await
            .unwrap();
        assert_eq!(
            times(&stored_as(&f, "5").await),
            (ago(30), ago(25), ago(10))
        );
    }

    /// A CDEvents `finished` event with no `queued` or `started` before it: all three times
    /// are the event's.
    #[tokio::test]
    async fn a_finished_cdevent_alone_is_queued_started_and_finished_at_its_time() {
        let f = fixture();
        let event = serde_json::json!({
            "context": {"version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
                "source": "/ci", "type": "dev.cdevents.pipelinerun.finished.0.2.0",
                "timestamp": "2026-03-02T10:04:05Z"},
            "subject": {"id": "1044", "source": "/ci", "type": "pipelineRun",
                "content": {"pipelineName": "p3", "outcome": "success"}}
        });
        let report = spektate_core::ingest::cdevents::pipeline_run(&event)
            .unwrap()
            .report;
        f.rec.run_reported(&report).await.unwrap();
        let at = Some("2026-03-02T10:04:05Z".parse::<DateTime<Utc>>().unwrap());
        let s = stored_as(&f, "1044").await;
        assert_eq!(times(&s), (at, at, at));
        assert_eq!(
            (s.status, s.result),
            (RunStatus::Completed, Some(RunResult::Succeeded))
        );
    }

    #[tokio::test]
    async fn times_given_out_of_order_are_refused_by_name_and_write_nothing() {
        let f = fixture();
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        for (report, field, says) in [
            (
                RunReported {
                    started_at: at("2026-11-26T10:05:00Z"),
                    finished_at: at("2026-11-26T10:04:00Z"),
                    ..RunReported::new("101", RunStatus::Completed)
                },
                "started-at",
                "'2026-11-26T10:05:00Z' is after finished-at '2026-11-26T10:04:00Z'",
            ),
            (
                RunReported {
                    queued_at: at("2026-11-26T10:06:00Z"),
                    started_at: at("2026-11-26T10:05:00Z"),
                    ..RunReported::new("101", RunStatus::InProgress)
                },
                "started-at",
                "'2026-11-26T10:05:00Z' is before queued-at '2026-11-26T10:06:00Z'",
            ),
            (
                RunReported {
                    queued_at: at("2026-11-26T10:06:00Z"),
                    finished_at: at("2026-11-26T10:04:00Z"),
                    ..RunReported::new("101", RunStatus::Completed)
                },
                "finished-at",
                "'2026-11-26T10:04:00Z' is before queued-at '2026-11-26T10:06:00Z'",
            ),
        ] {
            let e = f.rec.run_reported(&report).await.unwrap_err();
            assert_eq!(invalid(&e), (field, says));
        }
        assert!(
            f.store
                .run_reports("fabrikam", &["101".into()])
                .await
                .unwrap()
                .is_empty(),
            "nothing written"
        );
    }
}
