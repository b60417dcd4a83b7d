//! The conformance suite of stores that keep providers' final answers
//! ([`RecordStore::keeps_answers`]): what a tracker reads back when the CI no longer has a
//! deployment's runs.
//!
//! A value kept in a shape this version cannot read is the store's own test (only the store
//! can write one): it must come back as an error naming the answer, never a panic.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::cache::{Answer, AnswerKey, Fact};
use crate::model::deployment::{Author, PullRequest};
use crate::model::record::new_row_key;
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, RunResult, RunStatus, Stage};
use crate::store::RecordStore;

/// The provider name an Azure DevOps pipelines provider answers under.
const AZDO: &str = "https://dev.azure.com/fabrikam/fabrikam-project";
/// The repository key of a GitHub source repository.
const GITHUB_REPO: &str = "github.com/fabrikam/frontend";
/// The repository key of an Azure DevOps HLD repository.
const HLD_REPO: &str = "dev.azure.com/fabrikam/fabrikam-project/hld";

fn partition(case: &str) -> String {
    format!("answers-{case}-{}", new_row_key())
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 17, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

/// A completed Azure DevOps multi-stage build, as the provider maps `_apis/build/builds/{id}`.
fn build(id: &str) -> Run {
    let mut run = Run::new(id, RunKind::Build, RunStatus::Completed);
    run.number = Some("20260317.4".into());
    run.pipeline = Some("frontend-ci".into());
    run.result = Some(RunResult::Succeeded);
    run.queued_at = Some(at(0));
    run.started_at = Some(at(1));
    run.finished_at = Some(at(9));
    run.last_changed_at = Some(at(9));
    run.url = Some(format!(
        "https://dev.azure.com/fabrikam/fabrikam-project/_build/results?buildId={id}"
    ));
    run.source_branch = Some("main".into());
    run.source_commit = Some("8c5f2a1e9d3b4c7a6f0e1d2c3b4a59687f6e5d4c".into());
    run.repository = RepoRef::parse("https://github.com/fabrikam/frontend").ok();
    run.requested_by = Some("Ana Souza".into());
    run.stages = stages();
    run
}

fn stages() -> Vec<Stage> {
    let stage = |name: &str, order: u32, start: i64, end: i64| Stage {
        name: name.into(),
        order,
        status: RunStatus::Completed,
        result: Some(RunResult::Succeeded),
        started_at: Some(at(start)),
        finished_at: Some(at(end)),
        url: Some(format!(
            "https://dev.azure.com/fabrikam/fabrikam-project/_build/results?buildId=4711&view=logs&s={order}"
        )),
    };
    vec![stage("Build", 1, 1, 5), stage("Push image", 2, 5, 9)]
}

/// A completed classic release (`_apis/release/releases/{id}`), failed.
fn release(id: &str) -> Run {
    let mut run = Run::new(id, RunKind::Release, RunStatus::Completed);
    run.number = Some("Release-42".into());
    run.pipeline = Some("frontend-cd".into());
    run.result = Some(RunResult::Failed);
    run.queued_at = Some(at(10));
    run.started_at = Some(at(11));
    run.finished_at = Some(at(14));
    run.image_version = Some("frontend-4711".into());
    run.url = Some(format!(
        "https://dev.azure.com/fabrikam/fabrikam-project/_release?releaseId={id}"
    ));
    run
}

fn author() -> Author {
    Author {
        name: "Ana Souza".into(),
        email: Some("ana@fabrikam.example".into()),
        login: Some("asouza".into()),
        avatar_url: Some("https://avatars.githubusercontent.com/u/583231?v=4".into()),
        url: Some("https://github.com/asouza".into()),
        committed_at: Some(Utc.with_ymd_and_hms(2026, 11, 2, 8, 40, 0).unwrap()),
    }
}

fn pull_request(id: &str) -> PullRequest {
    PullRequest {
        id: id.into(),
        title: "Updating frontend image tag to frontend-4711.".into(),
        description: Some("Automated HLD update.".into()),
        source_branch: Some("DEPLOY/frontend-4711".into()),
        target_branch: Some("main".into()),
        merged: true,
        merged_by: Some(author()),
        merged_at: Some(at(40)),
        closed: false,
        url: Some(format!(
            "https://dev.azure.com/fabrikam/fabrikam-project/_git/hld/pullrequest/{id}"
        )),
    }
}

fn answer(namespace: &str, id: &str, fact: Fact) -> Answer {
    Answer {
        namespace: namespace.into(),
        id: id.into(),
        fact,
    }
}

fn key(namespace: &str, kind: &str, id: &str) -> AnswerKey {
    AnswerKey {
        namespace: namespace.into(),
        kind: kind.into(),
        id: id.into(),
    }
}

/// The answers sorted by key, so stores may return them in any order.
fn sorted(mut answers: Vec<Answer>) -> Vec<Answer> {
    answers.sort_by_key(Answer::key);
    answers
}

/// Runs every case against `store`, which must keep answers; panics with the case's name on
/// the first failure.
pub async fn answers_conformance(store: Arc<dyn RecordStore>) {
    assert!(
        store.keeps_answers(),
        "{} must say it keeps answers",
        store.describe()
    );
    each_kind_round_trips(&store).await;
    a_put_replaces_by_key(&store).await;
    keys_with_nothing_are_left_out(&store).await;
    kinds_and_namespaces_are_part_of_the_key(&store).await;
    partitions_are_isolated(&store).await;
    awkward_keys_round_trip(&store).await;
    a_thousand_answers_in_one_call(&store).await;
    a_key_of_an_unknown_kind_is_an_error(&store).await;
    nothing_to_put_or_read(&store).await;
}

async fn each_kind_round_trips(store: &Arc<dyn RecordStore>) {
    let p = partition("kinds");
    let put = vec![
        answer(AZDO, "4711", Fact::Build(build("4711"))),
        answer(AZDO, "4711", Fact::Stages(stages())),
        answer(AZDO, "42", Fact::Release(release("42"))),
        answer(
            GITHUB_REPO,
            "8c5f2a1e9d3b4c7a6f0e1d2c3b4a59687f6e5d4c",
            Fact::Author(author()),
        ),
        answer(HLD_REPO, "118", Fact::PullRequest(pull_request("118"))),
    ];
    store.put_answers(&p, &put).await.expect("kinds: put");
    let keys: Vec<AnswerKey> = put.iter().map(Answer::key).collect();
    let got = store.answers(&p, &keys).await.expect("kinds: read");
    assert_eq!(
        sorted(got),
        sorted(put.clone()),
        "kinds: every fact comes back as it was put"
    );
    let one = store
        .answers(&p, &[key(AZDO, "release", "42")])
        .await
        .expect("kinds: read one");
    assert_eq!(one, vec![put[2].clone()], "kinds: a read of one key");
}

async fn a_put_replaces_by_key(store: &Arc<dyn RecordStore>) {
    let p = partition("replace");
    let first = answer(AZDO, "4711", Fact::Build(build("4711")));
    store.put_answers(&p, &[first]).await.expect("replace: put");
    let mut later = build("4711");
    later.result = Some(RunResult::PartiallySucceeded);
    later.number = Some("20260317.4 (retried)".into());
    let second = answer(AZDO, "4711", Fact::Build(later));
    store
        .put_answers(&p, std::slice::from_ref(&second))
        .await
        .expect("replace: put again");
    let got = store
        .answers(&p, &[second.key()])
        .await
        .expect("replace: read");
    assert_eq!(
        got,
        vec![second],
        "replace: the second answer replaced the first"
    );
}

async fn keys_with_nothing_are_left_out(store: &Arc<dyn RecordStore>) {
    let p = partition("missing");
    let kept = answer(AZDO, "4711", Fact::Build(build("4711")));
    store
        .put_answers(&p, std::slice::from_ref(&kept))
        .await
        .expect("missing: put");
    let got = store
        .answers(
            &p,
            &[
                key(AZDO, "build", "4712"),
                kept.key(),
                key(AZDO, "stages", "4711"),
                key("https://dev.azure.com/contoso/web", "build", "4711"),
            ],
        )
        .await
        .expect("missing: read");
    assert_eq!(got, vec![kept], "missing: only the kept key comes back");
}

async fn kinds_and_namespaces_are_part_of_the_key(store: &Arc<dyn RecordStore>) {
    let p = partition("keyparts");
    let other_org = "https://dev.azure.com/contoso/contoso-project";
    let mut theirs = build("4711");
    theirs.pipeline = Some("contoso-ci".into());
    let put = vec![
        answer(AZDO, "4711", Fact::Build(build("4711"))),
        answer(other_org, "4711", Fact::Build(theirs)),
        answer(AZDO, "4711", Fact::Release(release("4711"))),
    ];
    store.put_answers(&p, &put).await.expect("keyparts: put");
    for a in &put {
        let got = store.answers(&p, &[a.key()]).await.expect("keyparts: read");
        assert_eq!(
            got,
            vec![a.clone()],
            "keyparts: {:?} is its own answer",
            a.key()
        );
    }
}

async fn partitions_are_isolated(store: &Arc<dyn RecordStore>) {
    let (a, b) = (partition("iso-a"), partition("iso-b"));
    let in_a = answer(HLD_REPO, "118", Fact::PullRequest(pull_request("118")));
    store
        .put_answers(&a, std::slice::from_ref(&in_a))
        .await
        .expect("isolation: put");
    let got = store
        .answers(&b, &[in_a.key()])
        .await
        .expect("isolation: read b");
    assert!(got.is_empty(), "isolation: partition b sees nothing of a");
    let mut other = pull_request("118");
    other.title = "Another partition's pull request".into();
    let in_b = answer(HLD_REPO, "118", Fact::PullRequest(other));
    store
        .put_answers(&b, std::slice::from_ref(&in_b))
        .await
        .expect("isolation: put b");
    let got = store
        .answers(&a, &[in_a.key()])
        .await
        .expect("isolation: read a");
    assert_eq!(got, vec![in_a], "isolation: a write to b leaves a alone");
}

async fn awkward_keys_round_trip(store: &Arc<dyn RecordStore>) {
    let p = partition("awkward");
    let odd = [
        "a/b#c?d\\e'f%g",
        "100%'; DROP TABLE answers; --",
        "Ünïcødé/プロジェクト/🚀",
        "space and \"quotes\"",
        "a*b_c%d",
    ];
    let mut put = Vec::new();
    for (i, s) in odd.iter().enumerate() {
        let mut a = author();
        a.name = format!("Author {s}");
        put.push(answer(s, &format!("{i}-{s}"), Fact::Author(a)));
    }
    store.put_answers(&p, &put).await.expect("awkward: put");
    let keys: Vec<AnswerKey> = put.iter().map(Answer::key).collect();
    let got = store.answers(&p, &keys).await.expect("awkward: read");
    assert_eq!(
        sorted(got),
        sorted(put.clone()),
        "awkward: every key round-trips"
    );
    // A pattern character in a key matches only itself.
    let none = store
        .answers(&p, &[key("a_b_c_d", "author", "4-a*b_c%d")])
        .await
        .expect("awkward: read a near key");
    assert!(none.is_empty(), "awkward: keys compare exactly, {none:?}");
}

async fn a_thousand_answers_in_one_call(store: &Arc<dyn RecordStore>) {
    let p = partition("bulk");
    let put: Vec<Answer> = (0..1000)
        .map(|i| {
            let id = (10_000 + i).to_string();
            if i % 2 == 0 {
                answer(AZDO, &id, Fact::Build(build(&id)))
            } else {
                answer(AZDO, &id, Fact::Release(release(&id)))
            }
        })
        .collect();
    store.put_answers(&p, &put).await.expect("bulk: put 1,000");
    // 1,500 keys in one read: the 1,000 kept and 500 never kept.
    let mut keys: Vec<AnswerKey> = put.iter().map(Answer::key).collect();
    keys.extend((0..500).map(|i| key(AZDO, "build", &(20_000 + i).to_string())));
    let got = store
        .answers(&p, &keys)
        .await
        .expect("bulk: read 1,500 keys");
    assert_eq!(got.len(), 1000, "bulk: every kept answer comes back");
    assert_eq!(sorted(got), sorted(put), "bulk: as they were put");
}

async fn a_key_of_an_unknown_kind_is_an_error(store: &Arc<dyn RecordStore>) {
    let p = partition("unknown");
    let e = store
        .answers(&p, &[key(AZDO, "deployment", "4711")])
        .await
        .expect_err("unknown: a key of kind 'deployment' must be refused");
    assert!(
        e.to_string().contains("deployment"),
        "unknown: the error names the kind: {e}"
    );
}

async fn nothing_to_put_or_read(store: &Arc<dyn RecordStore>) {
    let p = partition("empty");
    store.put_answers(&p, &[]).await.expect("empty: put none");
    let got = store.answers(&p, &[]).await.expect("empty: read none");
    assert!(got.is_empty(), "empty: no key, no answer");
}
