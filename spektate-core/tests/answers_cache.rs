//! The answers cache file: what one process kept, another reads back, by namespace only;
//! bounded (oldest evicted); a file that is not a cache, or of another version, is refused
//! by name and left as it is; two processes writing at once lose nothing; processes opening a
//! new file at once all open it.

#![cfg(feature = "sqlite")]

use spektate_core::cache::sqlite::SqliteAnswers;
use spektate_core::cache::{Answer, AnswersCache, Fact, Wanted};
use spektate_core::{Author, Run, RunKind, RunResult, RunStatus};

const AZDO: &str = "azure-devops https://dev.azure.com/fabrikam/hello";
const OTHER_ORG: &str = "azure-devops https://dev.azure.com/contoso/hello";
const REPO: &str = "dev.azure.com/fabrikam/hello/frontend";

fn build(id: u64) -> Answer {
    let mut run = Run::new(id.to_string(), RunKind::Build, RunStatus::Completed);
    run.result = Some(RunResult::Succeeded);
    run.source_commit = Some(format!("{id:040x}"));
    Answer {
        namespace: AZDO.into(),
        id: id.to_string(),
        fact: Fact::Build(run),
    }
}

fn author(commit: &str) -> Answer {
    Answer {
        namespace: REPO.into(),
        id: commit.into(),
        fact: Fact::Author(Author {
            name: "Samiya Akhtar".into(),
            email: Some("saakhta@example.com".into()),
            login: None,
            avatar_url: None,
            url: None,
            committed_at: None,
        }),
    }
}

fn wanted(providers: &[&str], repos: &[&str]) -> Wanted {
    Wanted {
        providers: providers.iter().map(|s| s.to_string()).collect(),
        repositories: repos.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn a_new_process_reads_back_what_one_kept_and_only_in_its_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("answers.sqlite");
    let first = SqliteAnswers::open(&path).unwrap();
    first
        .save(&[build(1), build(2), author(&format!("{:040x}", 1))])
        .unwrap();
    drop(first);
    let second = SqliteAnswers::open(&path).unwrap();
    let mut got = second.load(&wanted(&[AZDO], &[REPO])).unwrap();
    got.sort_by(|a, b| (a.fact.kind(), &a.id).cmp(&(b.fact.kind(), &b.id)));
    assert_eq!(
        got,
        vec![author(&format!("{:040x}", 1)), build(1), build(2)]
    );
    assert!(
        second
            .load(&wanted(
                &[OTHER_ORG],
                &["dev.azure.com/contoso/hello/frontend"]
            ))
            .unwrap()
            .is_empty(),
        "another organisation sees nothing"
    );
    assert_eq!(
        second.load(&wanted(&[AZDO], &[])).unwrap().len(),
        2,
        "runs only"
    );
}

#[test]
fn the_oldest_answers_are_evicted_beyond_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.sqlite");
    let cache = SqliteAnswers::open(&path).unwrap().capacity(5);
    // Written out of id order: the oldest written go, not the smallest ids.
    cache.save(&(5..=7).map(build).collect::<Vec<_>>()).unwrap();
    cache.save(&(1..=4).map(build).collect::<Vec<_>>()).unwrap();
    assert_eq!(cache.len().unwrap(), 5);
    let mut ids: Vec<String> = cache
        .load(&wanted(&[AZDO], &[]))
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["1", "2", "3", "4", "7"]);
}

#[test]
fn a_file_that_is_not_a_cache_or_of_another_version_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "some notes, not a database at all........").unwrap();
    let err = SqliteAnswers::open(&text).unwrap_err().to_string();
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "some notes, not a database at all........"
    );

    let foreign = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (7);")
        .unwrap();
    drop(conn);
    let err = SqliteAnswers::open(&foreign).unwrap_err().to_string();
    assert!(err.contains("not a spektate answers cache"), "{err}");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the other application's table is untouched");
    drop(conn);

    let newer = dir.path().join("newer.sqlite");
    SqliteAnswers::open(&newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 3)
        .unwrap();
    let err = SqliteAnswers::open(&newer).unwrap_err().to_string();
    assert!(err.contains("version 3"), "{err}");
}

/// Set in the writers [`two_processes_writing_at_once_lose_nothing`] starts: `<cache file>
/// <writer number>`.
const WRITER: &str = "SPEKTATE_TEST_ANSWERS_WRITER";

/// Batches each writer process saves, of ten answers each.
const BATCHES: u64 = 100;

/// One writer process: waits until its peer is ready too, then saves its batches.
fn write_as_a_child(spec: &str) {
    let (path, w) = spec.rsplit_once(' ').expect("<file> <writer>");
    let path = std::path::Path::new(path);
    let w: u64 = w.parse().unwrap();
    let cache = SqliteAnswers::open(path).unwrap();
    let dir = path.parent().unwrap();
    std::fs::write(dir.join(format!("ready-{w}")), "").unwrap();
    let go = dir.join("go");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !go.exists() {
        assert!(std::time::Instant::now() < deadline, "never told to go");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for batch in 0..BATCHES {
        let base = w * 1_000 + batch * 10;
        cache
            .save(&(base..base + 10).map(build).collect::<Vec<_>>())
            .unwrap();
    }
}

/// Two processes (this test binary again, as writers) save to one file at once.
#[test]
fn two_processes_writing_at_once_lose_nothing() {
    if let Ok(spec) = std::env::var(WRITER) {
        write_as_a_child(&spec);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.sqlite");
    SqliteAnswers::open(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "two_processes_writing_at_once_lose_nothing",
                    "--nocapture",
                ])
                .env(WRITER, format!("{} {w}", path.display()))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(0..2).all(|w| dir.path().join(format!("ready-{w}")).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the writers never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    for mut w in writers {
        assert!(w.wait().unwrap().success(), "a writer failed");
    }
    let cache = SqliteAnswers::open(&path).unwrap();
    assert_eq!(cache.len().unwrap(), 2 * BATCHES as usize * 10);
    let mut ids: Vec<u64> = cache
        .load(&wanted(&[AZDO], &[]))
        .unwrap()
        .into_iter()
        .map(|a| a.id.parse().unwrap())
        .collect();
    ids.sort();
    let all: Vec<u64> = (0..2u64)
        .flat_map(|w| w * 1_000..w * 1_000 + BATCHES * 10)
        .collect();
    assert_eq!(ids, all, "every row of both writers");
}

/// Parallel `spektate get` steps on a fresh agent open one new cache file at the same instant:
/// each of them opens it, 10 times over.
#[test]
fn processes_opening_a_new_cache_at_once_all_open_it() {
    let openers = 16;
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.sqlite");
        let start = std::sync::Arc::new(std::sync::Barrier::new(openers));
        let threads: Vec<_> = (0..openers)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteAnswers::open(&path).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            if let Err(e) = t.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}
