//! The request budget: 500 deployments of 10 services traced through the real `Tracker`
//! against a counting fake GitHub. The reference tool spends about 1,950 requests on this
//! (one per job, author and pull request); Spektate must stay within 60 cold and 5 for a
//! refresh with nothing changed, and those 5 may only be 304s and runs still in progress.
//!
//! `cargo test -p spektate-github --test request_budget -- --nocapture` prints the counts.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate_core::{
    Filter, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated,
    Recorder, Status, StepState, Tracker,
};
use support::{FakeGitHub, RunSpec, Served, commit, git_ref, job, pull, sha_of, tag_object};

const SERVICES: usize = 10;
const DEPLOYMENTS: usize = 500;
const HLD: &str = "fabrikam/hld";
const MANIFESTS: &str = "fabrikam/manifests";

/// What the scenario left where, for the assertions.
struct Scenario {
    running_image: String,
    awaiting_approval: (String, u64),
    running_manifest: String,
    failed_metadata: String,
    newest_manifest: String,
    edge_manifest: String,
    running_run_paths: HashSet<String>,
}

fn svc_repo(i: usize) -> String {
    format!("fabrikam/svc-{i}")
}

/// Builds the world: every service's workflow runs (and other workflows' runs beside them),
/// the HLD repository's manifest runs, commits, pull requests and Flux tags; records what
/// the pipelines would record.
async fn scenario(gh: &FakeGitHub, recorder: &Recorder) -> Scenario {
    let now = Utc::now();
    let mut next_id = 9_100_000_000u64;
    let mut numbers = [0u64; SERVICES];
    let mut hld_number = 0u64;
    let mut sc = Scenario {
        running_image: String::new(),
        awaiting_approval: (String::new(), 0),
        running_manifest: String::new(),
        failed_metadata: String::new(),
        newest_manifest: String::new(),
        edge_manifest: String::new(),
        running_run_paths: HashSet::new(),
    };
    {
        let mut w = gh.world();
        w.repos.insert(HLD.into());
        w.repos.insert(MANIFESTS.into());
        for (i, number) in numbers.iter_mut().enumerate() {
            w.repos.insert(svc_repo(i));
            // Ten scheduled CodeQL runs long before the first deployment.
            for _ in 0..10 {
                next_id += 1;
                *number += 1;
                let mut r = RunSpec::new(&svc_repo(i), next_id, *number, now - Duration::days(30));
                r.workflow = "CodeQL".into();
                w.runs.insert((svc_repo(i), next_id), r.json());
            }
        }
    }

    for k in 0..DEPLOYMENTS {
        let i = k % SERVICES;
        let repo = svc_repo(i);
        let at = now - Duration::minutes(((DEPLOYMENTS - k) * 20) as i64);
        let ring = if k % 2 == 0 { "dev" } else { "prod" };
        let running_image = k == DEPLOYMENTS - 1;
        let awaiting = k == DEPLOYMENTS - 2;
        let running_manifest = k == DEPLOYMENTS - 3;
        let image_failed = k == 100 || k == 200 || k == 300;
        let metadata_failed = k == 400;

        // A pull-request check run of the service, then the deployment workflow.
        next_id += 1;
        numbers[i] += 1;
        let mut ci = RunSpec::new(&repo, next_id, numbers[i], at - Duration::minutes(5));
        ci.workflow = "pr-checks".into();
        let ci_id = next_id;
        next_id += 1;
        numbers[i] += 1;
        let run_id = next_id;
        let commit_sha = sha_of(&format!("{repo}-commit-{k}"));
        let image_tag = format!("svc-{i}-{}", numbers[i]);
        let mut run = RunSpec::new(&repo, run_id, numbers[i], at);
        run.head_sha = commit_sha.clone();
        if running_image {
            run = run.running();
            sc.running_image = run_id.to_string();
            sc.running_run_paths
                .insert(format!("/repos/{repo}/actions/runs/{run_id}"));
        } else if image_failed || metadata_failed {
            run = run.failed();
        }
        let (name, email, login) = if k % 7 == 0 {
            ("Build Agent", "agent@build.fabrikam.example", None)
        } else {
            ("Mona Lisa", "mona@fabrikam.example", Some(("mona", 42u64)))
        };
        {
            let mut w = gh.world();
            w.runs.insert((repo.clone(), ci_id), ci.json());
            w.runs.insert((repo.clone(), run_id), run.json());
            w.commits.insert(
                (repo.clone(), commit_sha.clone()),
                commit(&repo, &commit_sha, name, email, login, at),
            );
            if metadata_failed {
                let build = job(
                    &repo,
                    run_id * 10,
                    run_id,
                    "build",
                    "completed",
                    Some("success"),
                    at,
                );
                let update = job(
                    &repo,
                    run_id * 10 + 1,
                    run_id,
                    "update-hld",
                    "completed",
                    Some("failure"),
                    at + Duration::minutes(4),
                );
                w.jobs.insert(run_id * 10, (repo.clone(), build));
                w.jobs.insert(run_id * 10 + 1, (repo.clone(), update));
                sc.failed_metadata = run_id.to_string();
            }
        }
        recorder
            .image_built(&ImageBuilt {
                p1: run_id.to_string(),
                image_tag: image_tag.clone(),
                commit_id: commit_sha.clone(),
                service: format!("fabrikam/svc-{i}"),
                repository: Some(format!("https://github.com/{repo}")),
            })
            .await
            .unwrap();
        if running_image || image_failed {
            continue;
        }

        let pr = (k + 1) as u64;
        let hld_commit = sha_of(&format!("hld-{k}"));
        let merged_by = if awaiting { None } else { Some("mona") };
        let title = format!("Deploy {image_tag} to {ring}");
        let approval = pull(
            HLD,
            pr,
            &title,
            &format!("{image_tag}-{ring}"),
            merged_by,
            at + Duration::minutes(8),
        );
        gh.world().pulls.insert((HLD.into(), pr), approval);
        recorder
            .metadata_updated(&MetadataUpdated {
                p2: run_id.to_string(),
                image_tag: image_tag.clone(),
                hld_commit_id: hld_commit.clone(),
                env: ring.into(),
                pr: Some(pr.to_string()),
                repository: Some(format!("https://github.com/{HLD}")),
                service: None,
            })
            .await
            .unwrap();
        if awaiting {
            sc.awaiting_approval = (format!("svc-{i}"), pr);
            continue;
        }
        if metadata_failed {
            continue;
        }

        next_id += 1;
        hld_number += 1;
        let p3 = next_id;
        let mut manifest_run = RunSpec::new(HLD, p3, hld_number, at + Duration::minutes(10));
        manifest_run.workflow = "generate-manifests".into();
        let manifest_commit = sha_of(&format!("manifest-{k}"));
        if running_manifest {
            manifest_run = manifest_run.running();
            sc.running_manifest = p3.to_string();
            sc.running_run_paths
                .insert(format!("/repos/{HLD}/actions/runs/{p3}"));
        }
        gh.world()
            .runs
            .insert((HLD.into(), p3), manifest_run.json());
        recorder
            .manifest_generated(&ManifestGenerated {
                p3: p3.to_string(),
                hld_commit_id: hld_commit,
                manifest_commit_id: None,
                pr: Some(pr.to_string()),
                repository: None,
            })
            .await
            .unwrap();
        if running_manifest {
            continue;
        }
        recorder
            .manifest_committed(&ManifestCommitted {
                p3: p3.to_string(),
                manifest_commit_id: manifest_commit.clone(),
                repository: Some(format!("https://github.com/{MANIFESTS}")),
            })
            .await
            .unwrap();
        if k == DEPLOYMENTS - 10 {
            sc.edge_manifest = manifest_commit.clone();
        }
        sc.newest_manifest = manifest_commit;
    }

    // Flux: two clusters run the newest manifest commit (annotated tags), an edge cluster an
    // older one (a lightweight tag).
    let mut w = gh.world();
    let (west, east) = (sha_of("tag-west"), sha_of("tag-east"));
    w.tags.insert(
        (MANIFESTS.into(), west.clone()),
        tag_object(MANIFESTS, &west, "flux-west", &sc.newest_manifest, now),
    );
    w.tags.insert(
        (MANIFESTS.into(), east.clone()),
        tag_object(MANIFESTS, &east, "flux-east", &sc.newest_manifest, now),
    );
    w.refs.insert(
        MANIFESTS.into(),
        vec![
            git_ref(MANIFESTS, "flux-east", &east, "tag"),
            git_ref(MANIFESTS, "flux-edge", &sc.edge_manifest, "commit"),
            git_ref(MANIFESTS, "flux-west", &west, "tag"),
            git_ref(MANIFESTS, "release-2024.05", &sha_of("release"), "commit"),
        ],
    );
    drop(w);
    sc
}

fn describe(served: &[Served]) -> String {
    served
        .iter()
        .map(|s| format!("  {} {} -> {}", s.method, s.path, s.status))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_deployments_cost_at_most_60_requests_cold_and_5_per_unchanged_refresh() {
    let gh = FakeGitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let sc = scenario(&gh, &recorder).await;
    let client = gh.client();
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(Arc::new(client.actions()))
        .repositories(Arc::new(client.repos()))
        .build();

    // Cold.
    tracker.refresh().await.unwrap();
    let cold = gh.served();
    let deployments = tracker.snapshot().deployments.clone();
    assert_eq!(deployments.len(), DEPLOYMENTS);
    let graphql: usize = cold.iter().filter(|s| s.is_graphql()).count();
    println!(
        "cold: {} requests ({} GraphQL queries for {} objects, {} REST)",
        cold.len(),
        graphql,
        cold.iter().map(|s| s.graphql_objects).sum::<usize>(),
        cold.len() - graphql
    );
    assert!(
        cold.len() <= 60,
        "cold trace made {} requests:\n{}",
        cold.len(),
        describe(&cold)
    );

    // What a user sees.
    let count = |st: Status| deployments.iter().filter(|d| d.status == st).count();
    assert_eq!(
        count(Status::InProgress),
        2,
        "the running image and the running manifest run"
    );
    assert_eq!(
        count(Status::Failed),
        4,
        "three image failures and one metadata failure"
    );
    assert_eq!(
        count(Status::Incomplete),
        1,
        "the deployment awaiting approval"
    );
    assert_eq!(count(Status::Complete), DEPLOYMENTS - 7);
    assert!(
        deployments.iter().all(|d| d.warnings.is_empty()),
        "{:?}",
        deployments.iter().find(|d| !d.warnings.is_empty())
    );
    assert!(
        deployments
            .iter()
            .filter(|d| d.commit_id().is_some())
            .all(|d| d.author.is_some()),
        "every author is known"
    );
    let no_account = deployments
        .iter()
        .filter(|d| d.author.as_ref().is_some_and(|a| a.login.is_none()))
        .count();
    assert!(
        no_account > 50,
        "authors without a GitHub account are shown by their git name"
    );
    let waiting = deployments
        .iter()
        .find(|d| {
            d.service() == Some(sc.awaiting_approval.0.as_str())
                && d.pr() == Some(&*sc.awaiting_approval.1.to_string())
        })
        .unwrap();
    assert!(
        waiting.awaiting_approval(),
        "the open pull request is waiting"
    );
    let failed_md = deployments
        .iter()
        .find(|d| d.record.p1.as_deref() == Some(sc.failed_metadata.as_str()))
        .unwrap();
    assert_eq!(
        (
            failed_md.image.as_ref().unwrap().state,
            failed_md.metadata.as_ref().unwrap().state
        ),
        (StepState::Succeeded, StepState::Failed),
        "the jobs of the multi-stage run tell which stage failed"
    );
    let newest = deployments
        .iter()
        .find(|d| d.manifest_commit_id() == Some(sc.newest_manifest.as_str()))
        .unwrap();
    let clusters: Vec<&str> = newest.clusters.iter().map(|c| c.cluster.as_str()).collect();
    assert_eq!(clusters, ["east", "west"]);
    assert_eq!(newest.clusters[0].tagger.as_deref(), Some("Weave Flux"));
    let edge = deployments
        .iter()
        .find(|d| d.manifest_commit_id() == Some(sc.edge_manifest.as_str()))
        .unwrap();
    assert_eq!(
        edge.clusters
            .iter()
            .map(|c| c.cluster.as_str())
            .collect::<Vec<_>>(),
        ["edge"]
    );
    assert!(
        deployments
            .iter()
            .filter(|d| d.pull_request.is_some())
            .count()
            >= DEPLOYMENTS - 5
    );
    let running = deployments
        .iter()
        .find(|d| d.record.p1.as_deref() == Some(sc.running_image.as_str()))
        .unwrap();
    assert_eq!(running.image.as_ref().unwrap().state, StepState::InProgress);
    assert!(deployments.iter().any(|d| d.record.p3.as_deref()
        == Some(sc.running_manifest.as_str())
        && d.status == Status::InProgress));

    // A refresh with nothing changed: only runs still in progress, everything else a 304.
    for round in 1..=2 {
        gh.clear_log();
        tracker.refresh().await.unwrap();
        let served = gh.served();
        println!(
            "refresh {round}: {} requests ({} answered 304)",
            served.len(),
            served.iter().filter(|s| s.status == 304).count()
        );
        assert!(
            served.len() <= 5,
            "refresh {round} made {} requests:\n{}",
            served.len(),
            describe(&served)
        );
        for s in &served {
            assert!(
                s.status == 304 || sc.running_run_paths.contains(&s.path),
                "refresh {round} fetched something that did not change and is not running: {} {} -> {}",
                s.method,
                s.path,
                s.status
            );
        }
        let revalidated: Vec<&Served> = served.iter().filter(|s| s.status == 304).collect();
        assert!(revalidated.iter().all(|s| s.if_none_match.is_some()));
        assert!(
            served
                .iter()
                .any(|s| s.path.contains("/pulls?") && s.status == 304),
            "pull requests revalidated:\n{}",
            describe(&served)
        );
        assert!(
            served
                .iter()
                .any(|s| s.path.contains("/git/matching-refs/tags/flux-") && s.status == 304)
        );
        if round == 2 {
            assert!(
                served.iter().all(|s| s.status == 304),
                "running runs unchanged since the last refresh cost 304s too:\n{}",
                describe(&served)
            );
        }
        assert_eq!(tracker.snapshot().deployments.len(), DEPLOYMENTS);
    }

    // The approval pull request gets merged: the next refresh sees it.
    {
        let mut w = gh.world();
        let later = Utc::now();
        let pr = sc.awaiting_approval.1;
        let mut merged = w.pulls[&(HLD.to_string(), pr)].clone();
        merged["state"] = "closed".into();
        merged["merged"] = true.into();
        merged["merged_at"] = later.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        merged["closed_at"] = merged["merged_at"].clone();
        merged["updated_at"] = merged["merged_at"].clone();
        merged["merged_by"] = serde_json::json!({"login": "hubot", "id": 5, "avatar_url": "https://avatars.githubusercontent.com/u/5?v=4", "html_url": "https://github.com/hubot", "type": "User"});
        w.pulls.insert((HLD.to_string(), pr), merged);
    }
    gh.clear_log();
    tracker.refresh().await.unwrap();
    let served = gh.served();
    println!("refresh after a merge: {} requests", served.len());
    assert!(served.len() <= 6, "{}", describe(&served));
    let pr = sc.awaiting_approval.1.to_string();
    let d = tracker
        .deployments(&Filter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.pr() == Some(pr.as_str()))
        .unwrap();
    let p = d.pull_request.unwrap();
    assert!(p.merged);
    assert_eq!(
        p.merged_by.as_ref().and_then(|a| a.login.as_deref()),
        Some("hubot")
    );
}
