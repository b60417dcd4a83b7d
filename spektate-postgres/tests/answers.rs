//! Providers' answers kept in PostgreSQL: the core suite, batches of thousands, writers racing
//! on the same keys, values the store cannot read, read-only sessions, and a database made by
//! the previous schema version.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use spektate_core::cache::{Answer, AnswerKey, Fact};
use spektate_core::model::deployment::{Author, PullRequest};
use spektate_core::{Record, RecordQuery, RecordStore, Run, RunKind, RunResult, RunStatus};
use spektate_postgres::PostgresStore;
use spektate_postgres::schema::SCHEMA_VERSION;
use spektate_postgres::testkit::TestServer;

/// The provider name an Azure DevOps pipelines provider answers under.
const AZDO: &str = "https://dev.azure.com/fabrikam/fabrikam-project";
/// A GitHub source repository's key.
const REPO: &str = "github.com/fabrikam/frontend";

fn build(id: &str, result: RunResult) -> Answer {
    let mut run = Run::new(id, RunKind::Build, RunStatus::Completed);
    run.number = Some(format!("20260317.{id}"));
    run.pipeline = Some("frontend-ci".into());
    run.result = Some(result);
    run.queued_at = Some(Utc.with_ymd_and_hms(2026, 3, 17, 9, 0, 0).unwrap());
    run.finished_at = Some(Utc.with_ymd_and_hms(2026, 3, 17, 9, 8, 30).unwrap());
    run.url = Some(format!(
        "https://dev.azure.com/fabrikam/fabrikam-project/_build/results?buildId={id}"
    ));
    Answer {
        namespace: AZDO.into(),
        id: id.into(),
        fact: Fact::Build(run),
    }
}

fn author(commit: &str, name: &str) -> Answer {
    Answer {
        namespace: REPO.into(),
        id: commit.into(),
        fact: Fact::Author(Author {
            name: name.into(),
            email: Some(format!("{}@fabrikam.example", name.to_lowercase())),
            login: Some(name.to_lowercase()),
            avatar_url: None,
            url: Some(format!("https://github.com/{}", name.to_lowercase())),
            committed_at: None,
        }),
    }
}

fn pull_request(id: &str) -> Answer {
    Answer {
        namespace: "dev.azure.com/fabrikam/fabrikam-project/hld".into(),
        id: id.into(),
        fact: Fact::PullRequest(PullRequest {
            id: id.into(),
            title: "Updating frontend image tag to frontend-4711.".into(),
            description: None,
            source_branch: Some("DEPLOY/frontend-4711".into()),
            target_branch: Some("main".into()),
            merged: true,
            merged_by: None,
            merged_at: Some(Utc.with_ymd_and_hms(2026, 3, 17, 9, 40, 0).unwrap()),
            closed: false,
            url: None,
        }),
    }
}

fn keys(answers: &[Answer]) -> Vec<AnswerKey> {
    answers.iter().map(Answer::key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_passes_the_core_answers_suite() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    spektate_core::testkit::answers_conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_answers_go_in_one_call_and_come_back_in_one_read() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    store.ready().await.unwrap();
    let put: Vec<Answer> = (0..5000)
        .map(|i| {
            if i % 2 == 0 {
                build(&(100_000 + i).to_string(), RunResult::Succeeded)
            } else {
                author(&format!("{:040x}", i), "Ana")
            }
        })
        .collect();
    let started = Instant::now();
    store.put_answers("fabrikam", &put).await.unwrap();
    let put_time = started.elapsed();
    assert_eq!(
        server.psql(
            "postgres",
            "SELECT count(*) FROM spektate_answers WHERE partition_key = 'fabrikam'"
        ),
        "5000"
    );
    let mut wanted = keys(&put);
    wanted.reverse();
    let started = Instant::now();
    let got = store.answers("fabrikam", &wanted).await.unwrap();
    let read_time = started.elapsed();
    assert_eq!(got.len(), 5000);
    let mut expected = put.clone();
    expected.reverse();
    assert_eq!(
        got, expected,
        "every answer, in the order of the keys asked"
    );
    println!("5,000 answers: put in {put_time:?}, read in {read_time:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_replaces_by_key_and_the_last_of_a_repeated_key_wins() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    store
        .put_answers("fabrikam", &[build("4711", RunResult::Failed)])
        .await
        .unwrap();
    let written = || {
        server.psql(
            "postgres",
            "SELECT count(*) || ' ' || max(written_at)::text FROM spektate_answers",
        )
    };
    let before = written();
    // The same answer again changes nothing, not even its time.
    store
        .put_answers("fabrikam", &[build("4711", RunResult::Failed)])
        .await
        .unwrap();
    assert_eq!(written(), before);
    store
        .put_answers(
            "fabrikam",
            &[
                build("4711", RunResult::Canceled),
                author("8c5f2a1", "Ana"),
                build("4711", RunResult::Succeeded),
            ],
        )
        .await
        .unwrap();
    let got = store
        .answers("fabrikam", &[build("4711", RunResult::Failed).key()])
        .await
        .unwrap();
    assert_eq!(got, vec![build("4711", RunResult::Succeeded)]);
    assert!(written().starts_with("2 "), "{}", written());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_putting_the_same_keys_at_once_all_succeed() {
    let server = TestServer::start();
    let url = server.url();
    PostgresStore::open(&url).unwrap().ready().await.unwrap();
    // Eight writers, each the same 500 keys, half of them in reverse order: a store that
    // locked rows in the order given would deadlock.
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let url = url.clone();
            tokio::spawn(async move {
                let store = PostgresStore::open(&url).unwrap();
                let mut put: Vec<Answer> = (0..500)
                    .map(|i| author(&format!("c{i:04}"), &format!("Writer{w}")))
                    .collect();
                if w % 2 == 1 {
                    put.reverse();
                }
                store.put_answers("fabrikam", &put).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every writer keeps its answers");
    }
    // Each call is one transaction, taking its rows in the same order: the last writer to
    // commit holds every key, none is left with a mix of writers.
    assert_eq!(
        server.psql(
            "postgres",
            "SELECT count(*), count(DISTINCT value) FROM spektate_answers"
        ),
        "500|1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_store_cannot_read_is_an_error_naming_it() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    let kept = [
        build("4711", RunResult::Succeeded),
        author("8c5f2a1", "Ana"),
    ];
    store.put_answers("fabrikam", &kept).await.unwrap();
    let wanted = [kept[1].key(), kept[0].key()];
    let read = || store.answers("fabrikam", &wanted);

    server.psql(
        "postgres",
        "UPDATE spektate_answers SET value = '{\"kind\":\"build\",\"value\":{\"id\":' WHERE id = '4711'",
    );
    let e = read().await.unwrap_err().to_string();
    assert!(
        e.contains("partition fabrikam") && e.contains("kind build") && e.contains("id 4711"),
        "{e}"
    );
    assert!(e.contains("read provider answers"), "{e}");

    // Valid JSON of another kind than the row's.
    server.psql(
        "postgres",
        "UPDATE spektate_answers a SET value = b.value FROM spektate_answers b \
         WHERE a.id = '4711' AND b.id = '8c5f2a1'",
    );
    let e = read().await.unwrap_err().to_string();
    assert!(e.contains("id 4711") && e.contains("holds a author"), "{e}");

    // A value far over the bound is refused without being read.
    server.psql(
        "postgres",
        "UPDATE spektate_answers SET value = repeat('x', 50000000) WHERE id = '4711'",
    );
    let e = read().await.unwrap_err().to_string();
    assert!(e.contains("id 4711") && e.contains("50000000 bytes"), "{e}");

    // Putting a good answer over it mends it.
    store
        .put_answers("fabrikam", &[kept[0].clone()])
        .await
        .unwrap();
    assert_eq!(
        read().await.unwrap(),
        vec![kept[1].clone(), kept[0].clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_the_store_cannot_hold_are_left_out_and_the_rest_kept() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    let huge = "x".repeat(100 * 1024);
    let put = [
        author("nul\0commit", "Ana"),
        author(&"9".repeat(600), "Ana"),
        author("a3f9c2e", &huge),
        author("8c5f2a1", "Ana \0 Souza"),
        pull_request("118"),
    ];
    store.put_answers("fabrikam", &put).await.unwrap();
    let got = store.answers("fabrikam", &keys(&put)).await.unwrap();
    assert_eq!(got, vec![put[3].clone(), put[4].clone()]);

    let e = store
        .put_answers("fab\0rikam", &put[3..])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("partition key") && e.contains("NUL"), "{e}");
    let e = store
        .answers(
            "fabrikam",
            &[AnswerKey {
                namespace: REPO.into(),
                kind: "deployment".into(),
                id: "1".into(),
            }],
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"deployment\""), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_reads_answers_and_keeps_none() {
    let server = TestServer::start();
    let writer = PostgresStore::open(&server.url()).unwrap();
    let kept = [pull_request("118")];
    writer.put_answers("fabrikam", &kept).await.unwrap();
    server.psql(
        "postgres",
        "CREATE ROLE viewer LOGIN PASSWORD 'viewer-pw'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer",
    );
    let url = format!(
        "postgres://viewer:viewer-pw@127.0.0.1:{}/postgres",
        server.port()
    );
    let reader = PostgresStore::open_existing(&url).unwrap();
    assert!(reader.keeps_answers() && !reader.writes_answers());
    assert_eq!(
        reader.answers("fabrikam", &keys(&kept)).await.unwrap(),
        kept.to_vec()
    );
    let e = reader
        .put_answers("fabrikam", &[build("4711", RunResult::Succeeded)])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("keep provider answers") && e.contains("opened for reading"),
        "{e}"
    );
    assert!(!e.contains("viewer-pw"), "{e}");
    assert_eq!(
        server.psql("postgres", "SELECT count(*) FROM spektate_answers"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_schema_version_is_read_then_upgraded() {
    let server = TestServer::start();
    let url = server.create_database("v1");
    server.psql("v1", include_str!("fixtures/schema-v1.sql"));
    server.psql(
        "v1",
        "INSERT INTO spektate_records (partition_key, row_key, service, image_tag, p1, change_seq) \
         VALUES ('fabrikam', 'a1b2c3d4e5f6', 'fabrikam/frontend', 'frontend-4711', '4711', \
         spektate_next_change('fabrikam'))",
    );
    let wanted = [build("4711", RunResult::Succeeded).key()];

    // A reader of this version reads the old database as it is: records, and no answers.
    let reader = PostgresStore::open_existing(&url).unwrap();
    let records = reader.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(records[0].image_tag.as_deref(), Some("frontend-4711"));
    assert!(
        reader
            .answers("fabrikam", &wanted)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        server.psql(
            "v1",
            "SELECT string_agg(version::text, ',') FROM spektate_schema"
        ),
        "1",
        "the reader changed nothing"
    );

    // A writer upgrades it, keeping what it held.
    let writer = PostgresStore::open(&url).unwrap();
    writer
        .put_answers("fabrikam", &[build("4711", RunResult::Succeeded)])
        .await
        .unwrap();
    assert_eq!(
        server.psql(
            "v1",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM spektate_schema"
        ),
        (1..=SCHEMA_VERSION)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let records = writer.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].p1.as_deref(), Some("4711"));
    let mut next = Record::new("fabrikam");
    next.image_tag = Some("frontend-4712".into());
    let inserted = writer.insert(&next).await.unwrap();
    assert!(inserted.sequence > records[0].sequence);

    // Readers, the one opened before the upgrade too, read the answers.
    for store in [
        &reader,
        &PostgresStore::open_existing(&url).unwrap(),
        &writer,
    ] {
        assert_eq!(
            store.answers("fabrikam", &wanted).await.unwrap(),
            vec![build("4711", RunResult::Succeeded)]
        );
    }
}
