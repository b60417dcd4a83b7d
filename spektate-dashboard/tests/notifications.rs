//! Notifications of a running server, to fake destinations: Slack, Teams and JSON webhooks,
//! a CDEvents sink, and deployment statuses. Deployments are recorded into the store while
//! the server refreshes every second; each test waits for what the destinations receive.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use spektate_core::events::{DeploymentStatus, DeploymentStatuses, NewDeployment, RepoScope};
use spektate_core::http::Policy;
use spektate_core::{
    ClusterReport, ClusterSync, Outcome, RecordStore, RepoRef, RunResult, RunStatus, async_trait,
};
use spektate_dashboard::{Dashboard, Format, Notifications, Service, Webhook};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use common::{FRONTEND, Team, team};

const M1: &str = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
const H1: &str = "c0ffee0000000000000000000000000000000001";

/// A destination answering like the real one: Slack `200 ok`, Teams Workflows `202`.
async fn sink(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect()
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// Waits until `server` received `n` requests (at most 20 s).
async fn received(server: &MockServer, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let got = bodies(server).await;
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} received {:?}", server.uri(), bodies(server).await);
}

/// GitHub Deployments, faked: what was written, in order, and the deployments created.
#[derive(Default)]
struct Statuses {
    log: Mutex<Vec<String>>,
    created: Mutex<Vec<(u64, NewDeployment)>>,
}

#[async_trait]
impl DeploymentStatuses for Statuses {
    fn name(&self) -> String {
        "github github.com".into()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.host == "github.com"
    }

    async fn create_deployment(
        &self,
        repo: &RepoRef,
        d: &NewDeployment,
    ) -> spektate_core::Result<u64> {
        let mut log = self.log.lock().unwrap();
        log.push(format!(
            "deployment {}/{}@{} {}",
            repo.owner, repo.name, d.git_ref, d.environment
        ));
        let id = log.len() as u64;
        self.created.lock().unwrap().push((id, d.clone()));
        Ok(id)
    }

    async fn find_deployment(
        &self,
        _repo: &RepoRef,
        d: &NewDeployment,
    ) -> spektate_core::Result<Option<u64>> {
        let created = self.created.lock().unwrap();
        Ok(created
            .iter()
            .find(|(_, c)| {
                (&c.git_ref, &c.environment, &c.payload) == (&d.git_ref, &d.environment, &d.payload)
            })
            .map(|(id, _)| *id))
    }

    async fn create_status(
        &self,
        _repo: &RepoRef,
        id: u64,
        s: &DeploymentStatus,
    ) -> spektate_core::Result<()> {
        self.log.lock().unwrap().push(format!(
            "status {id} {} {}",
            s.state.as_str(),
            s.description
        ));
        Ok(())
    }
}

impl Statuses {
    async fn until(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let log = self.log.lock().unwrap().clone();
            if log.len() >= n {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("statuses: {:?}", self.log.lock().unwrap());
    }
}

/// A running server over `team`'s tracker; stops when the sender is dropped.
async fn serve(team: &Team, notify: Notifications) -> (String, tokio::sync::oneshot::Sender<()>) {
    let board = Dashboard::new(team.tracker.clone()).refresh_every(Duration::from_secs(1));
    let server = Service::new(board)
        .notify(notify)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    // The first refresh primes what the notifications remember.
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{url}api/health"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            tokio::time::Instant::now() < until,
            "the server never refreshed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (url, stop)
}

fn hook(format: &str, server: &MockServer) -> Webhook {
    Webhook::parse(&format!("{format}:{}/hook", server.uri()), Format::Json).unwrap()
}

fn quick() -> Policy {
    Policy {
        timeout: Duration::from_secs(2),
        max_retries: 1,
        base_delay: Duration::from_millis(50),
        ..Policy::default()
    }
}

/// frontend-1001 to ring prod, through p1, p2 (PR 41) and p3 (manifest commit M1).
async fn frontend(t: &Team) {
    t.image(
        "101",
        "fabrikam/frontend",
        "frontend-1001",
        "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        FRONTEND,
    )
    .await;
    t.ok("101").await;
    t.metadata("201", "frontend-1001", H1, "prod", "41").await;
    t.ok("201").await;
    t.manifest("301", H1, Some("41"), M1).await;
    t.ok("301").await;
}

/// A small JSON Schema check, enough for the CDEvents schemas: `type`, `required`,
/// `properties`, `additionalProperties: false`, `enum`, `minLength`, `oneOf` and the
/// `date-time` format; a `$ref` reached in the instance is reported, not skipped.
fn check(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if schema.get("$ref").is_some() {
        errors.push(format!("{at}: $ref not followed"));
        return;
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                check(o, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if ok != 1 {
            errors.push(format!("{at}: matches {ok} of oneOf"));
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") if !v.is_object() => errors.push(format!("{at}: not an object")),
        Some("string") if !v.is_string() => errors.push(format!("{at}: not a string")),
        _ => {}
    }
    if let Some(s) = v.as_str() {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && (s.chars().count() as u64) < min
        {
            errors.push(format!("{at}: shorter than {min}"));
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| a == v)
        {
            errors.push(format!("{at}: {s} not in {allowed:?}"));
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && chrono::DateTime::parse_from_rfc3339(s).is_err()
        {
            errors.push(format!("{at}: {s} is not a date-time"));
        }
    }
    let Some(obj) = v.as_object() else { return };
    let props = schema.get("properties").and_then(Value::as_object);
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let r = r.as_str().unwrap();
        if !obj.contains_key(r) {
            errors.push(format!("{at}: {r} is required"));
        }
    }
    for (k, value) in obj {
        match props.and_then(|p| p.get(k)) {
            Some(sub) => check(sub, value, &format!("{at}.{k}"), errors),
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                errors.push(format!("{at}: {k} is not allowed"))
            }
            None => {}
        }
    }
}

fn schema_errors(file: &str, v: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/cdevents/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let mut errors = Vec::new();
    check(&schema, v, "$", &mut errors);
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_live_in_two_clusters_is_told_once_per_cluster_in_each_format() {
    let t = team();
    let (slack, teams, json, cdevents) = (
        sink(200, "ok").await,
        sink(202, "").await,
        sink(200, "").await,
        sink(202, "").await,
    );
    let statuses = Arc::new(Statuses::default());
    let notify = Notifications::new()
        .webhook(hook("slack", &slack))
        .webhook(hook("teams", &teams))
        .webhook(hook("json", &json))
        .cdevents_sink(&format!("{}/hook", cdevents.uri()))
        .unwrap()
        .github_deployments(statuses.clone(), RepoScope::parse(["fabrikam/*"]).unwrap())
        .link("https://spektate.fabrikam.com/")
        .unwrap()
        .policy(quick());
    let (_url, _stop) = serve(&t, notify).await;

    frontend(&t).await;
    // The manifests are ready before any cluster runs them: in progress on GitHub.
    let log = statuses.until(2).await;
    assert_eq!(
        log,
        [
            "deployment fabrikam/frontend@a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 prod",
            "status 1 in_progress frontend-1001: manifests ready, waiting for a cluster",
        ]
    );
    t.recorder
        .cluster_synced("east-us", M1, Some("flux"))
        .await
        .unwrap();
    received(&slack, 1).await;
    t.recorder
        .cluster_synced("west-eu", M1, Some("flux"))
        .await
        .unwrap();
    received(&slack, 2).await;
    received(&teams, 2).await;
    received(&json, 2).await;
    received(&cdevents, 2).await;
    statuses.until(4).await;
    // Three more refreshes: nothing is told twice.
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let s = bodies(&slack).await;
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        s[0]["text"],
        "frontend-1001 is live in east-us (ring prod reached)"
    );
    assert_eq!(s[1]["text"], "frontend-1001 is live in west-eu");
    assert_eq!(
        s[0]["blocks"][0]["text"]["text"],
        "*frontend-1001 is live in east-us (ring prod reached)*"
    );
    let fields: Vec<&str> = s[0]["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields[..5],
        [
            "*Service*\nfrontend",
            "*Ring*\nprod",
            "*Image tag*\nfrontend-1001",
            "*Cluster*\neast-us",
            "*Manifest commit*\ne9f8a7b6c5d4"
        ]
    );
    assert_eq!(
        s[0]["blocks"][2]["elements"][0]["text"],
        "<https://spektate.fabrikam.com/|Open in Spektate>"
    );

    let m = bodies(&teams).await;
    assert_eq!(m.len(), 2);
    assert_eq!(m[1]["type"], "message");
    let card = &m[1]["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(
        card["content"]["body"][0]["text"],
        "frontend-1001 is live in west-eu"
    );
    assert_eq!(
        card["content"]["body"][1]["facts"][3],
        serde_json::json!({"title": "Cluster", "value": "west-eu"})
    );
    assert_eq!(
        card["content"]["actions"][0]["url"],
        "https://spektate.fabrikam.com/"
    );

    let j = bodies(&json).await;
    assert_eq!(j.len(), 2);
    assert_eq!(
        (
            j[0]["event"].as_str(),
            j[0]["cluster"].as_str(),
            j[0]["firstInRing"].as_bool()
        ),
        (Some("live"), Some("east-us"), Some(true))
    );
    assert_eq!(
        (j[1]["cluster"].as_str(), j[1]["firstInRing"].as_bool()),
        (Some("west-eu"), Some(false))
    );
    assert_eq!(j[0]["deployment"]["imageTag"], "frontend-1001");
    assert_eq!(j[0]["deployment"]["manifestCommitId"], M1);
    assert_eq!(j[0]["partition"], "fabrikam");

    let c = requests(&cdevents).await;
    assert_eq!(c.len(), 2);
    for (r, cluster) in c.iter().zip(["east-us", "west-eu"]) {
        let e: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            schema_errors("servicedeployed.json", &e),
            Vec::<String>::new(),
            "{e}"
        );
        assert_eq!(e["context"]["type"], "dev.cdevents.service.deployed.0.2.0");
        assert_eq!(e["context"]["version"], "0.4.1");
        assert_eq!(e["subject"]["content"]["environment"]["id"], cluster);
        assert_eq!(
            e["subject"]["content"]["artifactId"],
            "pkg:oci/frontend?tag=frontend-1001"
        );
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(h("ce-specversion"), "1.0");
        assert_eq!(h("ce-type"), "dev.cdevents.service.deployed.0.2.0");
        assert_eq!(h("ce-id"), e["context"]["id"].as_str().unwrap());
        assert_eq!(h("ce-source"), "/spektate/fabrikam");
        assert_eq!(h("ce-subject"), "service/frontend");
    }
    // The validator refuses what the schema refuses.
    let mut broken: Value = serde_json::from_slice(&c[0].body).unwrap();
    broken["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("artifactId");
    broken["context"]["type"] = "dev.cdevents.service.upgraded.0.2.0".into();
    assert_eq!(
        schema_errors("servicedeployed.json", &broken),
        [
            "$.context.type: dev.cdevents.service.upgraded.0.2.0 not in [String(\"dev.cdevents.service.deployed.0.2.0\")]",
            "$.subject.content: artifactId is required"
        ]
    );

    assert_eq!(
        statuses.log.lock().unwrap()[2..],
        [
            "status 1 success frontend-1001: live in east-us",
            "status 1 success frontend-1001: live in east-us, west-eu",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_live_where_another_ran_is_an_upgrade() {
    let t = team();
    let cdevents = sink(202, "").await;
    frontend(&t).await;
    t.recorder
        .cluster_synced("east-us", M1, Some("flux"))
        .await
        .unwrap();
    let notify = Notifications::new()
        .cdevents_sink(&format!("{}/hook", cdevents.uri()))
        .unwrap()
        .policy(quick());
    let (_url, _stop) = serve(&t, notify).await;

    let h2 = "c0ffee0000000000000000000000000000000002";
    let m2 = "f00dfeed00000000000000000000000000000002";
    t.image(
        "102",
        "fabrikam/frontend",
        "frontend-1002",
        "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        FRONTEND,
    )
    .await;
    t.ok("102").await;
    t.metadata("202", "frontend-1002", h2, "prod", "42").await;
    t.ok("202").await;
    t.manifest("302", h2, Some("42"), m2).await;
    t.ok("302").await;
    t.recorder
        .cluster_synced("east-us", m2, Some("flux"))
        .await
        .unwrap();
    let got = received(&cdevents, 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        bodies(&cdevents).await.len(),
        1,
        "the replaced one is not told"
    );
    let e = &got[0];
    assert_eq!(
        schema_errors("serviceupgraded.json", e),
        Vec::<String>::new(),
        "{e}"
    );
    assert_eq!(e["context"]["type"], "dev.cdevents.service.upgraded.0.2.0");
    assert_eq!(
        e["subject"]["content"]["artifactId"],
        "pkg:oci/frontend?tag=frontend-1002"
    );
    assert_eq!(
        e["customData"]["spektate"]["replaced"]["imageTag"],
        "frontend-1001"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_an_approval_waiting_too_long_and_a_failed_cluster_are_told_once() {
    let t = team();
    let slack = sink(200, "ok").await;
    let notify = Notifications::new()
        .webhook(hook("slack", &slack))
        .pr_wait(Duration::from_secs(2))
        .unwrap()
        .policy(quick());
    let (_url, _stop) = serve(&t, notify).await;

    // A service named to ping the channel: the push text shows the name, and pings no one.
    t.image(
        "103",
        "fabrikam/<!channel>",
        "api-103",
        "3333333333333333333333333333333333333333",
        FRONTEND,
    )
    .await;
    t.run("103", RunStatus::Completed, Some(RunResult::Failed))
        .await;
    let got = received(&slack, 1).await;
    assert_eq!(
        got[0]["text"],
        "&lt;!channel&gt; api-103: the image step failed"
    );
    let fields = got[0]["blocks"][1]["fields"].to_string();
    assert!(
        fields.contains("*Run*\\n103") && fields.contains("https://ci.fabrikam.com/runs/103"),
        "{fields}"
    );

    t.image(
        "104",
        "fabrikam/backend",
        "backend-104",
        "4444444444444444444444444444444444444444",
        FRONTEND,
    )
    .await;
    t.ok("104").await;
    t.metadata(
        "204",
        "backend-104",
        "d00d000000000000000000000000000000000004",
        "staging",
        "42",
    )
    .await;
    t.ok("204").await;
    let got = received(&slack, 2).await;
    let text = got[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("backend-104: approval pull request 42 has waited"),
        "{text}"
    );

    // The cluster step: Flux could not apply frontend-1001's manifests in west-eu.
    frontend(&t).await;
    let mut report = ClusterReport::applied(ClusterSync {
        cluster: "west-eu".into(),
        commit: M1.into(),
        synced_at: Some(chrono::Utc::now()),
        tagger: Some("flux".into()),
    });
    report.outcome = Outcome::Failed;
    report.reason = Some("ReconciliationFailed".into());
    report.message = Some("kustomize build failed: <!channel> accumulating resources".into());
    t.store
        .put_cluster_report("fabrikam", &report)
        .await
        .unwrap();
    let got = received(&slack, 3).await;
    assert_eq!(
        got[2]["text"],
        "frontend-1001: the cluster step failed in west-eu"
    );
    let fields = got[2]["blocks"][1]["fields"].to_string();
    assert!(
        fields.contains("*Reason*\\nReconciliationFailed")
            && fields.contains("&lt;!channel&gt;")
            && !fields.contains("<!channel>"),
        "{fields}"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(bodies(&slack).await.len(), 3, "nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_sends_nothing_it_sent_before() {
    let t = team();
    let json = sink(200, "").await;
    let (_url, stop) = serve(
        &t,
        Notifications::new()
            .webhook(hook("json", &json))
            .policy(quick()),
    )
    .await;
    frontend(&t).await;
    t.recorder
        .cluster_synced("east-us", M1, Some("flux"))
        .await
        .unwrap();
    received(&json, 1).await;
    drop(stop);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let again = sink(200, "").await;
    let (_url, _stop) = serve(
        &t,
        Notifications::new()
            .webhook(hook("json", &again))
            .policy(quick()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(
        bodies(&again).await.is_empty(),
        "{:?}",
        bodies(&again).await
    );
    // What happens after the restart is told.
    t.recorder
        .cluster_synced("west-eu", M1, Some("flux"))
        .await
        .unwrap();
    let got = received(&again, 1).await;
    assert_eq!(
        (got[0]["cluster"].as_str(), got[0]["firstInRing"].as_bool()),
        (Some("west-eu"), Some(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_a_store_tell_each_event_once() {
    let t = team();
    let replica = t.replica();
    // The replicas of one deployment have the same flags: the same destinations.
    let one = sink(200, "").await;
    let statuses = Arc::new(Statuses::default());
    let notify = |server: &MockServer| {
        Notifications::new()
            .webhook(hook("json", server))
            .github_deployments(statuses.clone(), RepoScope::parse(["fabrikam/*"]).unwrap())
            .policy(quick())
    };
    let (_url, _stop) = serve(&t, notify(&one)).await;
    let (_url2, _stop2) = serve(&replica, notify(&one)).await;
    // Both servers refresh every second: each step waits until its events are told, then
    // two refreshes more, so a second telling would have come.
    let told = |n: usize| {
        let one = &one;
        async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(20);
            while bodies(one).await.len() < n {
                assert!(tokio::time::Instant::now() < until, "{n} events never told");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
    };
    frontend(&t).await;
    statuses.until(2).await;
    for (n, cluster) in ["east-us", "west-eu"].into_iter().enumerate() {
        t.recorder
            .cluster_synced(cluster, M1, Some("flux"))
            .await
            .unwrap();
        told(n + 1).await;
    }
    let mut told: Vec<String> = bodies(&one)
        .await
        .iter()
        .map(|b| {
            format!(
                "{} {}",
                b["event"].as_str().unwrap_or_default(),
                b["cluster"].as_str().unwrap_or_default()
            )
        })
        .collect();
    told.sort();
    assert_eq!(told, ["live east-us", "live west-eu"], "each event once");
    // One GitHub deployment, whichever server told each event: the second finds the first's.
    let log = statuses.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "deployment fabrikam/frontend@a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 prod",
            "status 1 in_progress frontend-1001: manifests ready, waiting for a cluster",
            "status 1 success frontend-1001: live in east-us",
            "status 1 success frontend-1001: live in east-us, west-eu",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_failing_destination_stalls_neither_refreshes_nor_the_others() {
    let t = team();
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let failing = sink(500, "{\"message\": \"down\"}").await;
    let json = sink(200, "").await;
    let notify = Notifications::new()
        .webhook(hook("slack", &slow))
        .webhook(hook("teams", &failing))
        .webhook(hook("json", &json))
        .policy(Policy {
            timeout: Duration::from_secs(20),
            max_retries: 3,
            base_delay: Duration::from_millis(50),
            ..Policy::default()
        });
    let (url, _stop) = serve(&t, notify).await;
    frontend(&t).await;
    t.recorder
        .cluster_synced("east-us", M1, Some("flux"))
        .await
        .unwrap();
    received(&json, 1).await;
    t.recorder
        .cluster_synced("west-eu", M1, Some("flux"))
        .await
        .unwrap();
    received(&json, 2).await;
    // The slow destination still holds its first request; refreshes went on: a record
    // written now shows within a few seconds.
    assert_eq!(requests(&slow).await.len(), 1);
    assert!(requests(&failing).await.len() >= 2, "retried");
    t.image(
        "105",
        "fabrikam/api",
        "api-105",
        "5555555555555555555555555555555555555555",
        FRONTEND,
    )
    .await;
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = reqwest::get(format!("{url}api/deployments"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("api-105") {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "refreshes stalled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A policy with no retry inside a send, so each attempt is one request.
fn one_request_per_attempt() -> Policy {
    Policy {
        timeout: Duration::from_secs(2),
        max_retries: 0,
        ..Policy::default()
    }
}

/// `(event, cluster)` of each JSON body `server` received.
async fn told(server: &MockServer) -> Vec<(String, String)> {
    bodies(server)
        .await
        .iter()
        .map(|b| (b["event"].to_string(), b["cluster"].to_string()))
        .collect()
}

/// `told`'s entry of a `live` event in `cluster`.
fn live(cluster: &str) -> (String, String) {
    ("\"live\"".to_string(), format!("\"{cluster}\""))
}

/// A server over a new team telling `webhook`, each failed event sent again `after` each
/// failure, one request per attempt; frontend-1001 is then recorded and applied in
/// east-us, its first `live` event. The team, to record more, and the server's stop.
async fn live_in_east_us(
    webhook: Webhook,
    queue: usize,
    after: &[Duration],
) -> (Team, tokio::sync::oneshot::Sender<()>) {
    let t = team();
    let notify = Notifications::new()
        .webhook(webhook)
        .queue(queue)
        .resend_after(after)
        .policy(one_request_per_attempt());
    let (_url, stop) = serve(&t, notify).await;
    frontend(&t).await;
    applied_in(&t, "east-us").await;
    (t, stop)
}

/// M1 applied in `cluster`.
async fn applied_in(t: &Team, cluster: &str) {
    t.recorder
        .cluster_synced(cluster, M1, Some("flux"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_destination_failed_is_sent_again_when_it_is_back() {
    // Down for two requests, then back, as a webhook behind a restarting proxy is.
    let hook_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream restarting"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hook_server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook_server)
        .await;
    let again = [Duration::from_millis(300), Duration::from_millis(300)];
    let _running = live_in_east_us(hook("json", &hook_server), 100, &again).await;

    let got = received(&hook_server, 3).await;
    assert_eq!(got[0], got[2], "the same event, sent again");
    assert_eq!(
        (got[2]["event"].as_str(), got[2]["cluster"].as_str()),
        (Some("live"), Some("east-us"))
    );
    assert_eq!(got[2]["deployment"]["imageTag"], "frontend-1001");
    // Delivered: not sent a fourth time.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(requests(&hook_server).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_destination_keeps_refusing_is_dropped_after_its_attempts() {
    let down = sink(500, "{\"message\": \"down\"}").await;
    let again = [Duration::from_millis(200), Duration::from_millis(200)];
    let (t, _stop) = live_in_east_us(hook("json", &down), 100, &again).await;
    received(&down, 3).await;
    // Three attempts, then given up; the next event still gets its own three.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(told(&down).await, vec![live("east-us"); 3]);
    applied_in(&t, "west-eu").await;
    received(&down, 6).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let mut want = vec![live("east-us"); 3];
    want.extend(vec![live("west-eu"); 3]);
    assert_eq!(told(&down).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_set_aside_are_bounded_by_the_queue() {
    let down = sink(503, "down").await;
    let (t, _stop) = live_in_east_us(hook("json", &down), 1, &[Duration::from_secs(8)]).await;
    received(&down, 1).await;
    // West-eu's event fails while east-us's waits to be sent again, and the one place is
    // taken: it is dropped, not kept.
    applied_in(&t, "west-eu").await;
    received(&down, 3).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        told(&down).await,
        [live("east-us"), live("west-eu"), live("east-us")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_destination_refuses_as_wrong_is_not_sent_again() {
    // A webhook that was deleted: 404 will not pass.
    let gone = sink(404, "no_team").await;
    let again = [Duration::from_millis(200), Duration::from_millis(200)];
    let _running = live_in_east_us(hook("slack", &gone), 100, &again).await;
    received(&gone, 1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(requests(&gone).await.len(), 1);
}
