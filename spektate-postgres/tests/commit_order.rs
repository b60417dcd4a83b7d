//! The change sequence follows commit order within a partition: a write that takes a
//! sequence waits for every earlier, uncommitted one of its partition, so a reader asking for
//! what came after the last sequence it saw never misses a late commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use spektate_core::{Record, RecordQuery, RecordStore};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;
use tokio_postgres::NoTls;

fn record(partition: &str, tag: &str) -> Record {
    let mut r = Record::new(partition);
    r.image_tag = Some(tag.into());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_waits_for_an_earlier_uncommitted_sequence_of_its_partition_only() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    let seen = store
        .insert(&record("p", "a"))
        .await
        .unwrap()
        .sequence
        .unwrap();

    // A slow writer: it took a sequence in partition p and has not committed yet.
    let (slow, connection) = tokio_postgres::connect(&server.url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    slow.batch_execute(
        "BEGIN; INSERT INTO spektate_records (partition_key, row_key, image_tag, change_seq) \
         VALUES ('p', 'slow00000000', 'slow', spektate_next_change('p'))",
    )
    .await
    .unwrap();

    let other = tokio::time::timeout(Duration::from_secs(10), store.insert(&record("q", "b")))
        .await
        .expect("a write in another partition does not wait")
        .unwrap();
    assert!(other.sequence.unwrap() > seen);

    let writer = store.clone();
    let later = tokio::spawn(async move { writer.insert(&record("p", "c")).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !later.is_finished(),
        "a later write of the partition waits for the open one"
    );
    let now = store
        .query("p", &RecordQuery::all().after_sequence(seen))
        .await
        .unwrap();
    assert!(now.is_empty(), "nothing is committed yet: {now:?}");

    slow.batch_execute("COMMIT").await.unwrap();
    let c = tokio::time::timeout(Duration::from_secs(10), later)
        .await
        .expect("the later write goes on after the commit")
        .unwrap()
        .unwrap();
    let after = store
        .query("p", &RecordQuery::all().after_sequence(seen))
        .await
        .unwrap();
    let keys: Vec<&str> = after.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys, vec!["slow00000000", c.row_key.as_str()]);
    assert!(
        after[0].sequence < after[1].sequence,
        "the earlier commit has the smaller sequence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_the_sequence_misses_no_concurrent_write() {
    let server = TestServer::start();
    let store = Arc::new(PostgresStore::open(&server.url()).unwrap());
    store.ready().await.unwrap();
    let done = Arc::new(AtomicBool::new(false));

    // The reader keeps the newest version it saw of each record, reading only what came
    // after the highest sequence it saw, as the tracker does.
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen: HashMap<String, String> = HashMap::new();
            let mut watermark = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let query = RecordQuery::all().after_sequence(watermark);
                for r in store.query("busy", &query).await.unwrap() {
                    watermark = watermark.max(r.sequence.unwrap());
                    seen.insert(r.row_key.clone(), r.etag.clone().unwrap());
                }
                if finished {
                    return seen;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                let stored = store.insert(&record("busy", &format!("w{w}-{i}"))).await?;
                let mut changed = stored.clone();
                changed.env = Some("dev".into());
                store.replace(&changed).await?;
            }
            Ok::<_, spektate_core::Error>(())
        }));
    }
    // Slow writers hold their transaction open a little after taking a sequence, as a
    // writer on a slow link or a slow disk does before its commit lands.
    for w in 0..4 {
        let url = server.url();
        writers.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tokio::spawn(connection);
            for i in 0..25 {
                client
                    .batch_execute(&format!(
                        "BEGIN; INSERT INTO spektate_records (partition_key, row_key, change_seq) \
                         VALUES ('busy', 'slow{w}x{i:06}', spektate_next_change('busy')); \
                         SELECT pg_sleep(random() * 0.02); COMMIT"
                    ))
                    .await
                    .unwrap();
            }
            Ok(())
        }));
    }
    for w in writers {
        w.await.unwrap().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let all = store.query("busy", &RecordQuery::all()).await.unwrap();
    assert_eq!(all.len(), 300);
    for r in &all {
        assert_eq!(
            seen.get(&r.row_key),
            r.etag.as_ref(),
            "the reader saw the last write of {}",
            r.row_key
        );
    }
}
