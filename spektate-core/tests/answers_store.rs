//! The embedded stores keep providers' final answers: they pass the answers conformance
//! suite, and the SQLite store refuses a kept value it cannot read, naming it.

use std::sync::Arc;

use rusqlite::Connection;
use spektate_core::cache::{AnswerKey, Fact};
use spektate_core::testkit::answers_conformance;
use spektate_core::{MemoryStore, RecordStore, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_answers() {
    answers_conformance(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_answers() {
    let dir = tempfile::tempdir().unwrap();
    answers_conformance(Arc::new(
        SqliteStore::open(dir.path().join("spektate.db")).unwrap(),
    ))
    .await;
}

fn key(kind: &str, id: &str) -> AnswerKey {
    AnswerKey {
        namespace: "https://dev.azure.com/fabrikam/fabrikam-project".into(),
        kind: kind.into(),
        id: id.into(),
    }
}

#[tokio::test]
async fn sqlite_refuses_a_kept_value_it_cannot_read_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spektate.db");
    let store = SqliteStore::open(&path).unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        let ns = "https://dev.azure.com/fabrikam/fabrikam-project";
        for (kind, id, value) in [
            ("build", "4711", "{\"kind\":\"build\",\"value\":{\"id\":"),
            ("build", "4712", "{\"kind\":\"telemetry\",\"value\":{}}"),
            (
                "release",
                "42",
                "{\"kind\":\"author\",\"value\":{\"name\":\"Ana\"}}",
            ),
        ] {
            conn.execute(
                "INSERT INTO answers (partition_key, kind, ns, id, value) VALUES ('p', ?, ?, ?, ?)",
                rusqlite::params![kind, ns, id, value],
            )
            .unwrap();
        }
    }
    for (kind, id, says) in [
        ("build", "4711", "EOF"),
        ("build", "4712", "telemetry"),
        ("release", "42", "holds a author"),
    ] {
        let e = store
            .answers("p", &[key(kind, id)])
            .await
            .expect_err("a value that is no fact of its kind is an error");
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "kept answer {kind} {id} of https://dev.azure.com/fabrikam/fabrikam-project"
            )),
            "the error names the answer: {text}"
        );
        assert!(text.contains(says), "the error says why ({says}): {text}");
    }
}

#[tokio::test]
async fn a_version_2_file_gains_the_answers_table_when_a_writer_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        // A store as version 2 left it: every table but answers.
        let store = SqliteStore::open(&path).unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE answers; PRAGMA user_version = 2;")
            .unwrap();
    }
    let reader = SqliteStore::open_existing(&path).unwrap();
    assert!(
        !reader.keeps_answers(),
        "a reader of a version 2 file keeps no answers"
    );
    assert!(
        reader
            .answers("p", &[key("build", "1")])
            .await
            .unwrap()
            .is_empty()
    );
    drop(reader);
    let writer = SqliteStore::open(&path).unwrap();
    assert!(writer.keeps_answers());
    let mut run = spektate_core::Run::new(
        "1",
        spektate_core::RunKind::Build,
        spektate_core::RunStatus::Completed,
    );
    run.result = Some(spektate_core::RunResult::Succeeded);
    let answer = spektate_core::cache::Answer {
        namespace: key("build", "1").namespace,
        id: "1".into(),
        fact: Fact::Build(run),
    };
    writer
        .put_answers("p", std::slice::from_ref(&answer))
        .await
        .unwrap();
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        spektate_core::store::sqlite::SCHEMA_VERSION,
        "the writer upgraded the file"
    );
    assert!(writer.writes_answers());
    let reopened = SqliteStore::open_existing(&path).unwrap();
    assert!(
        reopened.keeps_answers() && !reopened.writes_answers(),
        "a reader reads kept answers and adds none, so a tracker over it writes nothing"
    );
    assert_eq!(
        reopened.answers("p", &[answer.key()]).await.unwrap(),
        vec![answer],
        "another process reads what was kept"
    );
}
