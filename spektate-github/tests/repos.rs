//! Commit authors, pull requests and Flux sync tags, read as the `Repositories` trait.

mod support;

use chrono::{Duration, Utc};
use spektate_core::{RepoRef, Repositories};
use support::{FakeGitHub, commit, fixture, git_ref, pull, sha_of, tag_object};

fn repo(full: &str) -> RepoRef {
    RepoRef::parse(&format!("https://github.com/{full}")).unwrap()
}

#[tokio::test]
async fn authors_of_many_commits_come_in_one_graphql_query() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now();
    let shas: Vec<String> = (0..3).map(|i| sha_of(&format!("c{i}"))).collect();
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/frontend".into());
        w.commits.insert(
            ("fabrikam/frontend".into(), shas[0].clone()),
            commit(
                "fabrikam/frontend",
                &shas[0],
                "Mona Lisa",
                "mona@fabrikam.example",
                Some(("mona", 42)),
                t,
            ),
        );
        w.commits.insert(
            ("fabrikam/frontend".into(), shas[1].clone()),
            commit(
                "fabrikam/frontend",
                &shas[1],
                "Build Agent",
                "agent@ci.fabrikam.example",
                None,
                t,
            ),
        );
    }
    let repos = gh.client().repos();
    // Records may carry abbreviated SHAs; an unknown commit is just left out.
    let asked = vec![
        shas[0][..7].to_string(),
        shas[1].clone(),
        shas[2].clone(),
        "not-a-sha".to_string(),
    ];
    let authors = repos
        .authors(&repo("fabrikam/frontend"), &asked)
        .await
        .unwrap();
    assert_eq!(authors.len(), 2);
    let mona = &authors[&asked[0]];
    assert_eq!(
        (mona.name.as_str(), mona.login.as_deref()),
        ("Mona Lisa", Some("mona"))
    );
    assert_eq!(mona.url.as_deref(), Some("https://github.com/mona"));
    assert_eq!(
        mona.avatar_url.as_deref(),
        Some("https://avatars.githubusercontent.com/u/42?v=4")
    );
    let agent = &authors[&asked[1]];
    assert_eq!(
        (agent.name.as_str(), agent.login.as_deref()),
        ("Build Agent", None),
        "no GitHub account: the git identity"
    );
    assert_eq!(agent.email.as_deref(), Some("agent@ci.fabrikam.example"));
    let served = gh.served();
    assert_eq!(served.len(), 1, "{served:?}");
    assert!(served[0].is_graphql() && served[0].graphql_objects == 3);
}

#[tokio::test]
async fn one_author_is_read_through_rest() {
    let gh = FakeGitHub::start().await;
    let captured = fixture("author-response.json");
    let sha = captured["sha"].as_str().unwrap().to_string();
    {
        let mut w = gh.world();
        w.repos.insert("edaena/spartan-app".into());
        w.commits
            .insert(("edaena/spartan-app".into(), sha.clone()), captured.clone());
        let mut orphan = captured.clone();
        orphan["author"] = serde_json::Value::Null;
        orphan["sha"] = "1111111111111111111111111111111111111111".into();
        w.commits.insert(
            (
                "edaena/spartan-app".into(),
                "1111111111111111111111111111111111111111".into(),
            ),
            orphan,
        );
    }
    let repos = gh.client().repos();
    let a = repos
        .authors(&repo("edaena/spartan-app"), std::slice::from_ref(&sha))
        .await
        .unwrap()
        .remove(&sha)
        .unwrap();
    assert_eq!(
        (a.name.as_str(), a.login.as_deref()),
        ("Edaena Salinas", Some("edaena"))
    );
    let orphan = "1111111".to_string();
    let a = repos
        .authors(&repo("edaena/spartan-app"), std::slice::from_ref(&orphan))
        .await
        .unwrap()
        .remove(&orphan)
        .unwrap();
    assert_eq!(
        (a.name.as_str(), a.login.as_deref()),
        ("Edaena Salinas", None),
        "author: null keeps the git name"
    );
    let served = gh.served();
    assert!(served.iter().all(|s| !s.is_graphql()));
    assert_eq!(
        served[0].path,
        format!("/repos/edaena/spartan-app/commits/{sha}?per_page=1"),
        "one file of the diff, not up to 300 with their patches"
    );
    // An unknown commit: GitHub answers 422, which means "left out".
    let none = repos
        .authors(&repo("edaena/spartan-app"), &["abcdef1".to_string()])
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn merged_and_unmerged_pull_requests() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::hours(2);
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/hld".into());
        w.pulls.insert(
            ("fabrikam/hld".into(), 41),
            pull(
                "fabrikam/hld",
                41,
                "Deploy frontend-30 to prod",
                "frontend-30-prod",
                Some("mona"),
                t,
            ),
        );
        w.pulls.insert(
            ("fabrikam/hld".into(), 42),
            pull(
                "fabrikam/hld",
                42,
                "Deploy frontend-31 to prod",
                "frontend-31-prod",
                None,
                t + Duration::minutes(5),
            ),
        );
    }
    let repos = gh.client().repos();
    let ids: Vec<String> = ["41", "42", "977"].map(String::from).to_vec();
    let prs = repos
        .pull_requests(&repo("fabrikam/hld"), &ids)
        .await
        .unwrap();
    assert_eq!(prs.len(), 2, "an unknown number is left out");
    let merged = &prs["41"];
    assert!(merged.merged && !merged.closed);
    assert_eq!(merged.title, "Deploy frontend-30 to prod");
    assert_eq!(
        (
            merged.source_branch.as_deref(),
            merged.target_branch.as_deref()
        ),
        (Some("frontend-30-prod"), Some("main"))
    );
    assert_eq!(
        merged.merged_by.as_ref().and_then(|a| a.login.as_deref()),
        Some("mona")
    );
    assert_eq!(merged.merged_at.unwrap().timestamp(), t.timestamp());
    assert_eq!(
        merged.url.as_deref(),
        Some("https://github.com/fabrikam/hld/pull/41")
    );
    let open = &prs["42"];
    assert!(!open.merged && !open.closed && open.merged_by.is_none());
    let served = gh.served();
    assert_eq!(
        served.len(),
        2,
        "a change probe and one GraphQL query: {served:?}"
    );

    // One pull request goes through REST, shaped like the captured response.
    gh.world().repos.insert("catalystcode/spk".into());
    gh.world().pulls.insert(
        ("catalystcode/spk".into(), 408),
        fixture("pr-response.json"),
    );
    let pr = repos
        .pull_requests(&repo("CatalystCode/spk"), &["408".to_string()])
        .await
        .unwrap()
        .remove("408")
        .unwrap();
    assert!(pr.merged);
    assert_eq!(
        pr.merged_by.and_then(|a| a.login).as_deref(),
        Some("bnookala")
    );
}

#[tokio::test]
async fn unchanged_pull_requests_cost_one_304_and_a_merge_is_seen() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::hours(1);
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/hld".into());
        for n in 1..=5 {
            w.pulls.insert(
                ("fabrikam/hld".into(), n),
                pull(
                    "fabrikam/hld",
                    n,
                    &format!("Deploy {n}"),
                    &format!("b{n}"),
                    None,
                    t + Duration::minutes(n as i64),
                ),
            );
        }
    }
    let repos = gh.client().repos();
    let hld = repo("fabrikam/hld");
    let ids: Vec<String> = (1..=5).map(|n| n.to_string()).collect();
    repos.pull_requests(&hld, &ids).await.unwrap();
    gh.clear_log();

    let again = repos.pull_requests(&hld, &ids).await.unwrap();
    assert_eq!(again.len(), 5);
    let served = gh.served();
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(served[0].status, 304);
    assert!(
        served[0].if_none_match.is_some(),
        "revalidated with If-None-Match"
    );

    // Pull request 3 is merged: the probe changes and the pull requests are read again.
    gh.world().pulls.insert(
        ("fabrikam/hld".into(), 3),
        pull(
            "fabrikam/hld",
            3,
            "Deploy 3",
            "b3",
            Some("hubot"),
            Utc::now(),
        ),
    );
    gh.clear_log();
    let after = repos.pull_requests(&hld, &ids).await.unwrap();
    assert!(after["3"].merged);
    assert_eq!(
        after["3"]
            .merged_by
            .as_ref()
            .and_then(|a| a.login.as_deref()),
        Some("hubot")
    );
    assert!(!after["4"].merged);
    assert_eq!(
        gh.served().iter().filter(|s| s.status == 200).count(),
        2,
        "the probe and one query"
    );
}

#[tokio::test]
async fn annotated_and_lightweight_flux_tags() {
    let gh = FakeGitHub::start().await;
    let full = "samiyaakhtar/hello-bedrock-manifest";
    let alaska = fixture("sync-response-1.json");
    let sync = fixture("manifest-sync-tag-response.json");
    let mut refs = fixture("sync-response.json").as_array().unwrap().clone();
    // The captured flux-sync ref and tag object were taken at different times; point the
    // ref at the captured object.
    refs[1]["object"]["sha"] = sync["sha"].clone();
    let lightweight = sha_of("manifest-commit-edge");
    refs.push(git_ref(full, "flux-edge", &lightweight, "commit"));
    refs.push(git_ref(full, "v1.0.0", &sha_of("release"), "commit"));
    {
        let mut w = gh.world();
        w.repos.insert(full.into());
        w.refs.insert(full.into(), refs);
        w.tags.insert(
            (full.into(), alaska["sha"].as_str().unwrap().into()),
            alaska.clone(),
        );
        w.tags.insert(
            (full.into(), sync["sha"].as_str().unwrap().into()),
            sync.clone(),
        );
    }
    let client = gh.client();
    let repos = client.repos();
    let manifest = repo(full);
    let tags = repos.sync_tags(&manifest).await.unwrap();
    let seen: Vec<(&str, &str)> = tags
        .iter()
        .map(|c| (c.cluster.as_str(), c.commit.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("alaska", "57cb69b0594e45b5f3e2d5e505b42f5412349f76"),
            ("edge", lightweight.as_str()),
            ("sync", "096c95228c786715b14b0269a722a3de887c01bd"),
        ]
    );
    assert_eq!(tags[0].tagger.as_deref(), Some("Weave Flux"));
    assert_eq!(
        tags[0].synced_at.unwrap().to_rfc3339(),
        "2019-11-20T15:34:19+00:00"
    );
    assert!(
        tags[1].synced_at.is_none() && tags[1].tagger.is_none(),
        "a lightweight tag names only the commit"
    );
    let served = gh.served();
    assert_eq!(
        served.len(),
        2,
        "the refs and one GraphQL query for both tag objects: {served:?}"
    );
    assert!(served[0].path.ends_with("/git/matching-refs/tags/flux-"));

    // Nothing moved: one 304, tag objects never read again.
    gh.clear_log();
    assert_eq!(repos.sync_tags(&manifest).await.unwrap(), tags);
    let served = gh.served();
    assert_eq!((served.len(), served[0].status), (1, 304), "{served:?}");

    // Flux moves alaska to a new commit with a new tag object: only that one is read.
    let moved = sha_of("alaska-2");
    let next_commit = sha_of("manifest-commit-2");
    {
        let mut w = gh.world();
        w.tags.insert(
            (full.into(), moved.clone()),
            tag_object(full, &moved, "flux-alaska", &next_commit, Utc::now()),
        );
        let refs = w.refs.get_mut(full).unwrap();
        refs[0]["object"]["sha"] = moved.clone().into();
    }
    gh.clear_log();
    let tags = repos.sync_tags(&manifest).await.unwrap();
    assert_eq!(tags[0].commit, next_commit);
    let served = gh.served();
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(
        served[1].path.ends_with(&format!("/git/tags/{moved}")),
        "one tag object through REST: {served:?}"
    );
}

#[tokio::test]
async fn when_graphql_fails_rest_answers() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now();
    let shas: Vec<String> = (0..2).map(|i| sha_of(&format!("g{i}"))).collect();
    {
        let mut w = gh.world();
        w.graphql_broken = true;
        w.repos.insert("fabrikam/frontend".into());
        for s in &shas {
            w.commits.insert(
                ("fabrikam/frontend".into(), s.clone()),
                commit(
                    "fabrikam/frontend",
                    s,
                    "Mona Lisa",
                    "mona@fabrikam.example",
                    Some(("mona", 42)),
                    t,
                ),
            );
        }
        w.pulls.insert(
            ("fabrikam/frontend".into(), 7),
            pull("fabrikam/frontend", 7, "Seven", "b7", Some("mona"), t),
        );
        w.pulls.insert(
            ("fabrikam/frontend".into(), 8),
            pull("fabrikam/frontend", 8, "Eight", "b8", None, t),
        );
    }
    let repos = gh.client().repos();
    let authors = repos
        .authors(&repo("fabrikam/frontend"), &shas)
        .await
        .unwrap();
    assert_eq!(authors.len(), 2);
    let prs = repos
        .pull_requests(
            &repo("fabrikam/frontend"),
            &["7".to_string(), "8".to_string()],
        )
        .await
        .unwrap();
    assert!(prs["7"].merged && !prs["8"].merged);
    let served = gh.served();
    assert_eq!(
        served.iter().filter(|s| s.is_graphql()).count(),
        2,
        "one attempt each, then REST"
    );
    assert_eq!(
        served
            .iter()
            .filter(|s| s.path.contains("/commits/"))
            .count(),
        2
    );
    assert_eq!(
        served.iter().filter(|s| s.path.contains("/pulls/")).count(),
        2
    );
}

#[tokio::test]
async fn without_a_token_everything_goes_through_rest() {
    let gh = FakeGitHub::start().await;
    let shas: Vec<String> = (0..2).map(|i| sha_of(&format!("p{i}"))).collect();
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/public".into());
        for s in &shas {
            w.commits.insert(
                ("fabrikam/public".into(), s.clone()),
                commit(
                    "fabrikam/public",
                    s,
                    "Mona Lisa",
                    "m@x.example",
                    None,
                    Utc::now(),
                ),
            );
        }
    }
    let client = gh.builder().build().unwrap();
    assert!(client.graphql_url().is_none());
    let authors = client
        .repos()
        .authors(&repo("fabrikam/public"), &shas)
        .await
        .unwrap();
    assert_eq!(authors.len(), 2);
    assert!(gh.served().iter().all(|s| !s.is_graphql()));
}

#[tokio::test]
async fn an_unreadable_repository_is_an_error_naming_it() {
    let gh = FakeGitHub::start().await;
    let repos = gh.client().repos();
    let private = repo("fabrikam/private-hld");
    let e = repos
        .pull_requests(&private, &["1".to_string(), "2".to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fabrikam/private-hld") && e.contains("token cannot read it"),
        "{e}"
    );
    let e = repos
        .authors(&private, &[sha_of("a"), sha_of("b")])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fabrikam/private-hld") && e.contains("token cannot read it"),
        "{e}"
    );
    let e = repos.sync_tags(&private).await.unwrap_err().to_string();
    assert!(e.contains("fabrikam/private-hld"), "{e}");
    assert!(!repos.serves_repo(&RepoRef::parse("https://gitlab.com/fabrikam/hld").unwrap()));
}

#[tokio::test]
async fn a_sync_tag_prefix_is_percent_encoded_segment_by_segment() {
    let gh = FakeGitHub::start().await;
    let full = "fabrikam/manifests";
    gh.world().repos.insert(full.into());
    let repos = gh.client().repos().sync_tag_prefix("clusters/flux#&");
    assert!(repos.sync_tags(&repo(full)).await.unwrap().is_empty());
    let served = gh.served();
    assert!(
        served[0]
            .path
            .ends_with("/git/matching-refs/tags/clusters/flux%23%26"),
        "a `#` must not cut the path, a `/` stays a separator: {served:?}"
    );
}

/// Each annotated tag may cost a request: a listing of more tags than any fleet has clusters
/// is refused after the one listing, as Azure DevOps and GitLab refuse theirs.
#[tokio::test]
async fn a_listing_of_more_than_ten_thousand_sync_tags_is_refused() {
    let gh = FakeGitHub::start().await;
    let full = "fabrikam/manifests";
    let refs: Vec<_> = (0..=spektate_core::MAX_SYNC_TAGS)
        .map(|i| {
            git_ref(
                full,
                &format!("flux-c{i}"),
                &sha_of(&format!("t{i}")),
                "tag",
            )
        })
        .collect();
    {
        let mut w = gh.world();
        w.repos.insert(full.into());
        w.refs.insert(full.into(), refs);
    }
    let e = gh
        .client()
        .repos()
        .sync_tags(&repo(full))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fabrikam/manifests") && e.contains("more than 10000 sync tags"),
        "{e}"
    );
    assert_eq!(gh.served().len(), 1, "the listing only: {:?}", gh.served());
}

#[tokio::test]
async fn a_sync_tag_prefix_no_tag_can_start_is_refused_before_any_request() {
    let gh = FakeGitHub::start().await;
    let repos = gh.client().repos().sync_tag_prefix("flux sync");
    let e = repos
        .sync_tags(&repo("fabrikam/manifests"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("sync tag prefix"), "{e}");
    assert!(gh.served().is_empty());
}

#[tokio::test]
async fn histories_of_several_repositories_come_in_one_graphql_query() {
    let gh = FakeGitHub::start().await;
    let manifests: Vec<String> = (0..150).map(|i| sha_of(&format!("m{i}"))).collect();
    let hld: Vec<String> = (0..3).map(|i| sha_of(&format!("h{i}"))).collect();
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/manifests".into());
        w.repos.insert("fabrikam/hld".into());
        w.repos.insert("fabrikam/empty".into());
        w.history
            .insert("fabrikam/manifests".into(), manifests.clone());
        w.history.insert("fabrikam/hld".into(), hld.clone());
    }
    let asked = [
        repo("fabrikam/manifests"),
        repo("fabrikam/hld"),
        repo("fabrikam/empty"),
        repo("fabrikam/gone"),
    ];
    let got = gh
        .client()
        .repos()
        .commit_orders(&asked)
        .await
        .unwrap()
        .expect("GitHub offers histories");
    assert_eq!(got[&asked[0].key()], manifests[..100], "the newest 100");
    assert_eq!(got[&asked[1].key()], hld);
    assert!(got[&asked[2].key()].is_empty(), "no commit yet");
    assert!(
        !got.contains_key(&asked[3].key()),
        "a repository GitHub does not find is left out"
    );
    let served = gh.served();
    assert_eq!(served.len(), 1, "{served:?}");
    assert!(served[0].is_graphql());

    // Without a token (no GraphQL) there is no history, and nothing is asked.
    gh.clear_log();
    let anonymous = gh.builder().build().unwrap().repos();
    assert_eq!(anonymous.commit_orders(&asked).await.unwrap(), None);
    assert!(gh.served().is_empty());
}

/// A hundred pull requests of `fabrikam/hld`, numbered 1 to 100 (asked in that order, so
/// number 8 is alias `p7`), the 8th failing in GraphQL with an error of `kind`.
async fn hundred_pulls_one_failing(kind: Option<&str>, message: &str) -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::hours(1);
    let mut w = gh.world();
    w.repos.insert("fabrikam/hld".into());
    for n in 1..=100u64 {
        w.pulls.insert(
            ("fabrikam/hld".into(), n),
            pull(
                "fabrikam/hld",
                n,
                &format!("Deploy {n}"),
                &format!("b{n}"),
                None,
                t,
            ),
        );
    }
    w.pull_field_errors.insert(
        ("fabrikam/hld".into(), 8),
        (kind.map(String::from), message.to_string()),
    );
    drop(w);
    gh
}

fn pull_fetches(gh: &FakeGitHub) -> Vec<String> {
    gh.served()
        .into_iter()
        .filter(|s| s.path.contains("/pulls/"))
        .map(|s| s.path)
        .collect()
}

#[tokio::test]
async fn a_pull_request_graphql_refuses_fails_alone() {
    let saml = "Resource protected by organization SAML enforcement. You must grant your \
                Personal Access token access to this organization.";
    let gh = hundred_pulls_one_failing(Some("FORBIDDEN"), saml).await;
    let ids: Vec<String> = (1..=100).map(|n: u64| n.to_string()).collect();
    let (prs, notices) = spektate_core::warnings::collect_notices(
        gh.client()
            .repos()
            .pull_requests(&repo("fabrikam/hld"), &ids),
    )
    .await;
    let prs = prs.unwrap();
    assert_eq!(prs.len(), 99, "the other aliases keep their answers");
    assert!(!prs.contains_key("8"));
    let fetches = pull_fetches(&gh);
    assert!(fetches.len() <= 1, "{fetches:?}");
    assert_eq!(
        gh.served().iter().filter(|s| s.is_graphql()).count(),
        1,
        "one query"
    );
    let lines: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("1 pull request") && lines[0].contains("SAML enforcement"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_pull_request_whose_graphql_field_failed_alone_is_asked_over_rest() {
    let gh =
        hundred_pulls_one_failing(None, "Something went wrong while executing your query.").await;
    let ids: Vec<String> = (1..=100).map(|n: u64| n.to_string()).collect();
    let prs = gh
        .client()
        .repos()
        .pull_requests(&repo("fabrikam/hld"), &ids)
        .await
        .unwrap();
    assert_eq!(prs.len(), 100);
    assert_eq!(prs["8"].title, "Deploy 8");
    assert_eq!(pull_fetches(&gh), ["/repos/fabrikam/hld/pulls/8"]);
}
