//! List pages with their ETags kept in the answers cache file: another process (another
//! `EtagCache` over the same file) finds what one kept, only under the same credential; the
//! file holds no more bytes of pages than its bound and no page larger than its largest;
//! a file of version 1 gains the pages table and keeps its answers; tag objects are found by
//! repository and SHA.

use std::sync::Arc;

use spektate_core::cache::sqlite::SqliteAnswers;
use spektate_core::cache::{Answer, AnswerKey, AnswersCache, Fact, TagObject, tag_objects};
use spektate_core::etag_cache::{Cached, EtagCache, Identity};

const RUNS: &str = "https://api.github.com/repos/fabrikam/frontend/actions/runs?per_page=100";

fn page(etag: &str, bytes: usize) -> Cached {
    Cached {
        etag: etag.to_string(),
        body: Arc::new(vec![b'x'; bytes]),
        next: Some(format!("{RUNS}&page=2")),
    }
}

fn token(t: &str) -> Identity {
    Identity::of(&["https://api.github.com", "token", t])
}

#[tokio::test]
async fn a_second_process_finds_a_page_only_under_the_same_credential() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.sqlite");
    let first: Arc<dyn AnswersCache> = Arc::new(SqliteAnswers::open(&file).unwrap());
    let etags = EtagCache::new(100);
    etags.persist_in(first, token("ghp_token_a"));
    etags.keep(RUNS, page("W/\"runs-1\"", 1000)).await;

    let second: Arc<dyn AnswersCache> = Arc::new(SqliteAnswers::open(&file).unwrap());
    let same = EtagCache::new(100);
    same.persist_in(second.clone(), token("ghp_token_a"));
    let found = same.lookup(RUNS).await.expect("kept by the first process");
    assert_eq!(found.etag, "W/\"runs-1\"");
    assert_eq!(found.body.len(), 1000);
    assert_eq!(found.next.as_deref(), Some(&*format!("{RUNS}&page=2")));
    assert!(same.contains(RUNS), "now held in memory too");
    assert!(same.lookup(&format!("{RUNS}&page=2")).await.is_none());

    let other = EtagCache::new(100);
    other.persist_in(second.clone(), token("ghp_token_b"));
    assert!(
        other.lookup(RUNS).await.is_none(),
        "a page fetched with token A is not served to token B"
    );
    let anonymous = EtagCache::new(100);
    anonymous.persist_in(
        second.clone(),
        Identity::of(&["https://api.github.com", "anonymous"]),
    );
    assert!(anonymous.lookup(RUNS).await.is_none());

    // Gone: forgotten in the file as well.
    same.forget(RUNS).await;
    let third = EtagCache::new(100);
    third.persist_in(second, token("ghp_token_a"));
    assert!(third.lookup(RUNS).await.is_none());

    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("ghp_token"), "no credential in the file");
}

#[tokio::test]
async fn pages_are_bounded_by_their_total_size_oldest_first_and_by_the_largest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(
        SqliteAnswers::open(dir.path().join("answers.sqlite"))
            .unwrap()
            .page_bytes(10_000, 4_000),
    );
    let etags = EtagCache::new(100);
    etags.persist_in(cache.clone(), token("ghp_token_a"));
    for i in 0..8 {
        etags
            .keep(
                &format!("{RUNS}&page={i}"),
                page(&format!("\"{i}\""), 2_000),
            )
            .await;
        let (_, bytes) = cache.pages_held().unwrap();
        assert!(bytes <= 10_000, "page {i}: {bytes} bytes kept");
    }
    let (n, bytes) = cache.pages_held().unwrap();
    assert_eq!(n, 4, "{bytes} bytes");
    etags
        .keep(&format!("{RUNS}&page=big"), page("\"big\"", 5_000))
        .await;
    assert_eq!(
        cache.pages_held().unwrap().0,
        4,
        "a page over the largest is not kept"
    );

    let fresh = EtagCache::new(100);
    fresh.persist_in(cache.clone(), token("ghp_token_a"));
    for i in 0..4 {
        assert!(
            fresh.lookup(&format!("{RUNS}&page={i}")).await.is_none(),
            "page {i} evicted"
        );
    }
    for i in 4..8 {
        assert!(
            fresh.lookup(&format!("{RUNS}&page={i}")).await.is_some(),
            "page {i} kept"
        );
    }
    assert!(fresh.lookup(&format!("{RUNS}&page=big")).await.is_none());
}

#[tokio::test]
async fn a_version_1_file_gains_pages_and_keeps_its_answers_and_tag_objects_are_found_by_sha() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.sqlite");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(
        "CREATE TABLE answers (kind TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL,
             value TEXT NOT NULL, written INTEGER NOT NULL, PRIMARY KEY (kind, ns, id)) WITHOUT ROWID;
         INSERT INTO answers VALUES ('tagObject', 'github.com/fabrikam/manifests', 'aa11',
             '{\"kind\":\"tagObject\",\"value\":{\"target\":\"57cb69b0594e45b5f3e2d5e505b42f5412349f76\",\"tagger\":\"Weave Flux\",\"date\":\"2019-11-20T15:34:19Z\"}}', 1);
         PRAGMA application_id = 1397771073;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let cache: Arc<dyn AnswersCache> = Arc::new(SqliteAnswers::open(&file).unwrap());
    let version: i64 = rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    assert!(cache.pages().unwrap().page("k").unwrap().is_none());

    let repo = "github.com/fabrikam/manifests";
    let found = tag_objects::find(&cache, repo, &["aa11".into(), "bb22".into()]).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found["aa11"].target,
        "57cb69b0594e45b5f3e2d5e505b42f5412349f76"
    );
    assert_eq!(found["aa11"].tagger.as_deref(), Some("Weave Flux"));
    assert!(
        tag_objects::find(&cache, "github.com/contoso/manifests", &["aa11".into()])
            .await
            .is_empty(),
        "another repository's tag object is not found"
    );

    let moved = TagObject {
        target: "0d1c2b3a4f5e6d7c8b9a0d1c2b3a4f5e6d7c8b9a".into(),
        target_is_tag: false,
        tagger: Some("Weave Flux".into()),
        date: None,
    };
    tag_objects::keep(&cache, repo, vec![("bb22".into(), moved.clone())]).await;
    let kept = cache
        .find(&[AnswerKey {
            namespace: repo.into(),
            kind: "tagObject".into(),
            id: "bb22".into(),
        }])
        .unwrap();
    assert_eq!(
        kept,
        [Answer {
            namespace: repo.into(),
            id: "bb22".into(),
            fact: Fact::TagObject(moved)
        }]
    );
}

/// README states the page cache's default bound; it is the one a cache file gets.
#[test]
fn readme_states_the_default_bound_of_the_page_cache() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mib = spektate_core::cache::sqlite::DEFAULT_PAGE_BYTES >> 20;
    let said = format!("ETags (at most {mib} MiB, oldest first;");
    assert!(readme.contains(&said), "README does not say {said}");
}
