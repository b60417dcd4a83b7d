//! `ServerRecorder`: the steps a `Recorder` records, sent to a Spektate server
//! (`spektate serve`) instead of written to a store, as `spektate record --server` sends them.
//! Each step becomes the core's write request ([`Ingest`]), checked here with the server's
//! rules, and goes out through the core's [`IngestClient`]: retried with backoff on transport
//! errors, 429 and 5xx, every retry with the same `Idempotency-Key`, so the server writes once.
//! The answer is the id written: the record's row key (the deployment id), the run id or the
//! cluster.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use spektate::http::{Policy, Secret};
use spektate::ingest::client::{IngestClient, default_policy};
use spektate::ingest::{Ingest, Kind};
use spektate::model::url::has_credentials;
use spektate::{
    Error, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated,
    Recorder, Result, RunReported,
};

/// Records through a Spektate server into one partition, with a write token.
#[derive(Debug, Clone)]
pub struct ServerRecorder {
    client: IngestClient,
    partition: String,
}

impl ServerRecorder {
    /// A recorder sending to the server at `server` (`https://spektate.example.com`, or the
    /// path it is served under) with `token` (from `spektate token create`, or a CI's OIDC
    /// ID token the server accepts), writing to `partition`. Nothing is sent yet. Errors
    /// name the argument (`server`, `token`, `partition key`), never the token.
    pub fn new(server: &str, token: &str, partition: String) -> Result<Self> {
        Self::with_policy(server, token, partition, default_policy())
    }

    /// [`Self::new`] with the HTTP policy (timeouts, retries, backoff) given.
    pub fn with_policy(
        server: &str,
        token: &str,
        partition: String,
        policy: Policy,
    ) -> Result<Self> {
        // The same partition check as a local recorder's, with its message.
        Recorder::new(Arc::new(MemoryStore::new()), partition.clone())?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::invalid(
                "token",
                "is empty; give a write token for the partition (spektate token create)",
            ));
        }
        if has_credentials(server.trim()) {
            return Err(Error::invalid(
                "server",
                "holds user info; give the token as the token argument, never in the URL",
            ));
        }
        let client = IngestClient::with_policy(server, Some(Secret::new(token)), policy).map_err(
            |e| match e {
                Error::Invalid { field, reason } if field == "--server" => Error::Invalid {
                    field: "server".to_string(),
                    reason,
                },
                other => other,
            },
        )?;
        Ok(ServerRecorder { client, partition })
    }

    /// The server's URL, without a trailing `/`.
    pub fn server(&self) -> &str {
        self.client.server()
    }

    /// The partition written to.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// p1 built and pushed an image (linking rule 1); the record's id.
    pub async fn image_built(&self, e: &ImageBuilt) -> Result<String> {
        let body = Body::new()
            .text("p1", &e.p1)
            .text("imageTag", &e.image_tag)
            .text("commitId", &e.commit_id)
            .text("service", &e.service)
            .opt("repository", e.repository.as_deref());
        self.send(Kind::Image, body).await
    }

    /// p2 wrote the image tag into the HLD for a ring (rule 2); the record's id.
    pub async fn metadata_updated(&self, e: &MetadataUpdated) -> Result<String> {
        let body = Body::new()
            .text("p2", &e.p2)
            .text("imageTag", &e.image_tag)
            .text("hldCommitId", &e.hld_commit_id)
            .text("env", &e.env)
            .opt("service", e.service.as_deref())
            .opt("pr", e.pr.as_deref())
            .opt("repository", e.repository.as_deref());
        self.send(Kind::Metadata, body).await
    }

    /// p3 rendered manifests from an HLD commit (rule 3); the record's id.
    pub async fn manifest_generated(&self, e: &ManifestGenerated) -> Result<String> {
        let body = Body::new()
            .text("p3", &e.p3)
            .text("hldCommitId", &e.hld_commit_id)
            .opt("manifestCommitId", e.manifest_commit_id.as_deref())
            .opt("pr", e.pr.as_deref())
            .opt("repository", e.repository.as_deref());
        self.send(Kind::Manifest, body).await
    }

    /// p3 pushed its manifest commit (rule 4); the id of a record it updated.
    pub async fn manifest_committed(&self, e: &ManifestCommitted) -> Result<String> {
        let body = Body::new()
            .text("p3", &e.p3)
            .text("manifestCommitId", &e.manifest_commit_id)
            .opt("repository", e.repository.as_deref());
        self.send(Kind::ManifestCommit, body).await
    }

    /// A pipeline reports its own run; the run id.
    pub async fn run_reported(&self, e: &RunReported) -> Result<String> {
        let body = Body::new()
            .text("id", &e.id)
            .value("status", serde_json::to_value(e.status).ok())
            .value(
                "result",
                e.result.and_then(|r| serde_json::to_value(r).ok()),
            )
            .opt("url", e.url.as_deref())
            .opt("commit", e.commit.as_deref())
            .opt("branch", e.branch.as_deref())
            .opt("repository", e.repository.as_deref())
            .time("queuedAt", e.queued_at)
            .time("startedAt", e.started_at)
            .time("finishedAt", e.finished_at)
            .value("attempt", e.attempt.map(Value::from));
        self.send(Kind::Run, body).await
    }

    /// A cluster reports the manifest commit it runs; the cluster.
    pub async fn cluster_synced(&self, cluster: &str, commit: &str) -> Result<String> {
        let body = Body::new().text("cluster", cluster).text("commit", commit);
        self.send(Kind::Sync, body).await
    }

    async fn send(&self, kind: Kind, body: Body) -> Result<String> {
        let ingest = Ingest::from_json(kind, &Value::Object(body.0))?;
        let written = self.client.send(&self.partition, &ingest).await;
        written.map(|w| w.id).map_err(|e| json_names(kind, e))
    }
}

/// The JSON body of a write request, by the fields' JSON names; absent values are left out.
struct Body(Map<String, Value>);

impl Body {
    fn new() -> Self {
        Body(Map::new())
    }

    fn value(mut self, name: &str, value: Option<Value>) -> Self {
        if let Some(v) = value {
            self.0.insert(name.to_string(), v);
        }
        self
    }

    fn text(self, name: &str, value: &str) -> Self {
        self.value(name, Some(Value::from(value)))
    }

    fn opt(self, name: &str, value: Option<&str>) -> Self {
        self.value(name, value.map(Value::from))
    }

    fn time(self, name: &str, value: Option<DateTime<Utc>>) -> Self {
        let text = value.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        self.value(name, text.map(Value::from))
    }
}

/// An error the client named by its `spektate record` flag (`--image-tag`), named as a local
/// recorder names it: by the JSON name (`imageTag`), and the partition as `partition key`.
fn json_names(kind: Kind, e: Error) -> Error {
    match e {
        Error::Invalid { field, reason } => {
            let field = match kind.fields().iter().find(|f| f.flag == field) {
                Some(f) => f.name.to_string(),
                None if field == "--partition-key" => "partition key".to_string(),
                None => field,
            };
            Error::Invalid { field, reason }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;
    use std::time::Duration;

    use spektate::{RunResult, RunStatus};

    use super::*;

    fn fast() -> Policy {
        Policy {
            base_delay: Duration::from_millis(5),
            max_retries: 2,
            ..default_policy()
        }
    }

    /// One HTTP request as a tiny server read it: request line, headers (lower-cased names)
    /// and body.
    #[derive(Debug, Clone)]
    struct Seen {
        line: String,
        headers: Vec<(String, String)>,
        body: Value,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// A server on a free loopback port answering each request with the next of `answers`
    /// (status, JSON body), recording what it was sent.
    fn serve(answers: Vec<(u16, Value)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (answer, conn) in answers.into_iter().zip(listener.incoming()) {
                let mut conn = conn.unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (n, v) = h.split_once(':').unwrap();
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                log.lock().unwrap().push(Seen {
                    line: line.trim_end().to_string(),
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let (status, json) = answer;
                let text = json.to_string();
                write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                )
                .unwrap();
            }
        });
        (url, seen)
    }

    fn written(id: &str, kind: &str) -> (u16, Value) {
        (
            200,
            serde_json::json!({"id": id, "partition": "fabrikam", "kind": kind}),
        )
    }

    #[tokio::test]
    async fn each_step_is_posted_by_its_json_names_and_answers_with_the_id() {
        let (url, seen) = serve(vec![
            written("0123456789ab", "image"),
            written("0123456789ab", "metadata"),
            written("7", "run"),
            written("east-us", "sync"),
        ]);
        let recorder =
            ServerRecorder::with_policy(&url, " spk_token ", "fabrikam".into(), fast()).unwrap();
        assert_eq!(recorder.server(), url);
        assert_eq!(recorder.partition(), "fabrikam");
        let image = ImageBuilt {
            p1: "101".into(),
            image_tag: "frontend-101".into(),
            commit_id: "a1b2c3d".into(),
            service: "fabrikam/frontend".into(),
            repository: None,
        };
        assert_eq!(recorder.image_built(&image).await.unwrap(), "0123456789ab");
        let metadata = MetadataUpdated {
            p2: "201".into(),
            image_tag: "frontend-101".into(),
            hld_commit_id: "b2c3d4e".into(),
            env: "prod".into(),
            service: None,
            pr: Some("7".into()),
            repository: Some("https://github.com/fabrikam/hld".into()),
        };
        assert_eq!(
            recorder.metadata_updated(&metadata).await.unwrap(),
            "0123456789ab"
        );
        let mut run = RunReported::new("7", RunStatus::Completed);
        run.result = Some(RunResult::PartiallySucceeded);
        run.finished_at = Some(
            DateTime::parse_from_rfc3339("2026-11-26T10:04:00Z")
                .unwrap()
                .into(),
        );
        run.attempt = Some(2);
        assert_eq!(recorder.run_reported(&run).await.unwrap(), "7");
        assert_eq!(
            recorder.cluster_synced("east-us", "c3d4e5f").await.unwrap(),
            "east-us"
        );

        let seen = seen.lock().unwrap().clone();
        let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
        assert_eq!(
            lines,
            [
                "POST /api/records/image?partition=fabrikam HTTP/1.1",
                "POST /api/records/metadata?partition=fabrikam HTTP/1.1",
                "POST /api/runs?partition=fabrikam HTTP/1.1",
                "POST /api/syncs?partition=fabrikam HTTP/1.1",
            ]
        );
        assert_eq!(
            seen[0].body,
            serde_json::json!({"p1": "101", "imageTag": "frontend-101", "commitId": "a1b2c3d", "service": "fabrikam/frontend"})
        );
        assert_eq!(
            seen[1].body,
            serde_json::json!({"p2": "201", "imageTag": "frontend-101", "hldCommitId": "b2c3d4e", "env": "prod", "pr": "7", "repository": "https://github.com/fabrikam/hld"})
        );
        assert_eq!(
            seen[2].body,
            serde_json::json!({"id": "7", "status": "completed", "result": "partiallySucceeded", "finishedAt": "2026-11-26T10:04:00Z", "attempt": 2})
        );
        assert_eq!(
            seen[3].body,
            serde_json::json!({"cluster": "east-us", "commit": "c3d4e5f"})
        );
        for s in &seen {
            assert_eq!(s.header("authorization"), Some("Bearer spk_token"));
            assert_eq!(s.header("idempotency-key").map(str::len), Some(32));
        }
    }

    #[tokio::test]
    async fn a_retried_step_carries_one_idempotency_key() {
        let (url, seen) = serve(vec![
            (503, serde_json::json!({"error": "busy"})),
            written("0123456789ab", "image"),
        ]);
        let recorder =
            ServerRecorder::with_policy(&url, "spk_token", "fabrikam".into(), fast()).unwrap();
        let commit = ManifestCommitted {
            p3: "301".into(),
            manifest_commit_id: "c3d4e5f".into(),
            repository: None,
        };
        assert_eq!(
            recorder.manifest_committed(&commit).await.unwrap(),
            "0123456789ab"
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        let keys: Vec<_> = seen.iter().map(|s| s.header("idempotency-key")).collect();
        assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");
    }

    #[tokio::test]
    async fn refusals_name_the_field_as_a_local_recorder_does() {
        let (url, seen) = serve(vec![(
            400,
            serde_json::json!({
                "error": "invalid repository: 'x' is not an Azure DevOps, GitHub or GitLab repository URL",
                "kind": "ConfigError", "field": "repository",
                "reason": "'x' is not an Azure DevOps, GitHub or GitLab repository URL"
            }),
        )]);
        let recorder =
            ServerRecorder::with_policy(&url, "spk_token", "fabrikam".into(), fast()).unwrap();
        let generated = ManifestGenerated {
            p3: "301".into(),
            hld_commit_id: "b2c3d4e".into(),
            manifest_commit_id: None,
            pr: None,
            repository: Some("x".into()),
        };
        let e = recorder.manifest_generated(&generated).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid repository: 'x' is not an Azure DevOps, GitHub or GitLab repository URL"
        );
        // Checked before sending, with the server's rules and names.
        let e = recorder
            .image_built(&ImageBuilt {
                p1: "1".into(),
                image_tag: " ".into(),
                commit_id: "c".into(),
                service: "s".into(),
                repository: None,
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid imageTag: is empty; a value is required"
        );
        let e = recorder.cluster_synced("", "c").await.unwrap_err();
        assert_eq!(e.kind(), "ConfigError");
        assert_eq!(seen.lock().unwrap().len(), 1, "bad input is not sent");
    }

    #[test]
    fn settings_are_checked_and_the_token_never_shown() {
        let e = |server: &str, token: &str, partition: &str| {
            ServerRecorder::new(server, token, partition.into())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("https://x", "t", "a/b"),
            "invalid partition key: \"a/b\" contains a character a table key cannot hold (/ \\ # ? or a control character)"
        );
        assert!(e("https://x", " ", "p").starts_with("invalid token: is empty"));
        let shown = e("https://ci:spk_secret@x", "t", "p");
        assert!(
            shown.starts_with("invalid server: holds user info") && !shown.contains("spk_secret"),
            "{shown}"
        );
        assert_eq!(
            e("spektate.example.com", "t", "p"),
            "invalid server: 'spektate.example.com' is not a server URL such as https://spektate.example.com"
        );
        let recorder = ServerRecorder::new("https://x/", "spk_secret", "p".into()).unwrap();
        assert!(!format!("{recorder:?}").contains("spk_secret"));
        assert_eq!(recorder.server(), "https://x");
    }
}
