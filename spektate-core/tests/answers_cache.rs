//! The answers cache file: what one process kept, another reads back, by namespace only;
//! bounded (oldest evicted); a file that is not a cache, or of another version, is refused
//! by name and left as it is; two processes writing at once lose nothing.

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
    cache.save(&(1..=4).map(build).collect::<Vec<_>>()).unwrap();
    cache.save(&(5..=7).map(build).collect::<Vec<_>>()).unwrap();
    assert_eq!(cache.len().unwrap(), 5);
    let mut ids: Vec<String> = cache
        .load(&wanted(&[AZDO], &[]))
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["3", "4", "5", "6", "7"]);
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

#[test]
fn two_processes_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.sqlite");
    SqliteAnswers::open(&path).unwrap();
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let cache = SqliteAnswers::open(&path).unwrap();
                for batch in 0..20u64 {
                    let base = w * 1_000 + batch * 10;
                    cache
                        .save(&(base..base + 10).map(build).collect::<Vec<_>>())
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let cache = SqliteAnswers::open(&path).unwrap();
    assert_eq!(cache.len().unwrap(), 400);
}
