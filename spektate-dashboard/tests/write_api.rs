//! The write API over HTTP: who may write, what a retried write does, what is refused, and
//! that nothing is written unless every check passes.

mod support;

use serde_json::{Value, json};
use spektate_core::ingest::Kind;
use spektate_dashboard::{ViewerAuth, example};
use support::{PARTITION, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_and_wrong_partition_writes_are_refused_and_write_nothing() {
    // The server serves both partitions, so a refusal is about the token alone.
    let store = std::sync::Arc::new(support::Counting::default());
    let server = support::start_partitions(ViewerAuth::None, store, &[PARTITION, "contoso"]).await;
    for kind in Kind::ALL {
        let body = example(kind);
        let cases = [
            (kind.path().to_string(), String::new(), 401),
            (
                kind.path().to_string(),
                "spk_0badc0de_not-a-token".to_string(),
                401,
            ),
            (kind.path().to_string(), server.other_writer.clone(), 403),
            (kind.path().to_string(), server.reader.clone(), 403),
            (
                format!("{}?partition=contoso", kind.path()),
                server.writer.clone(),
                403,
            ),
        ];
        for (path, token, want) in cases {
            let r = server.post(&path, &token, Some("k1"), &body).await;
            assert_eq!(r.status().as_u16(), want, "{path} with {token:.12}");
            if want == 401 {
                assert_eq!(r.headers()["www-authenticate"], "Bearer");
            }
            let error: Value = r.json().await.unwrap();
            assert_eq!(error["kind"], "AuthError", "{error}");
            for t in [&server.writer, &server.other_writer, &server.reader] {
                assert!(
                    !error.to_string().contains(t.as_str()),
                    "a token in {error}"
                );
            }
        }
    }
    assert_eq!(server.store.writes(), 0, "a refused write wrote something");
    for partition in [PARTITION, "contoso"] {
        let (records, syncs) = server.store.contents(partition).await;
        assert!(records.is_empty() && syncs.is_empty());
    }
    // The same requests with the right token are written: the refusals were about the token.
    let r = server
        .post(
            Kind::Image.path(),
            &server.writer,
            None,
            &example(Kind::Image),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = server
        .post(
            &format!("{}?partition=contoso", Kind::Sync.path()),
            &server.other_writer,
            None,
            &example(Kind::Sync),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(server.store.contents("contoso").await.1.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_post_with_the_same_key_writes_once() {
    let server = start(ViewerAuth::None).await;
    let sync = example(Kind::Sync);
    let first = server
        .post(Kind::Sync.path(), &server.writer, Some("sync-7"), &sync)
        .await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first,
        json!({"id": "east-us", "partition": PARTITION, "kind": "sync"})
    );
    assert_eq!(server.store.writes(), 1);

    // Retries, one after another and eight at once: the first answer, and no write.
    let again = server
        .post(Kind::Sync.path(), &server.writer, Some("sync-7"), &sync)
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let racing =
        (0..8).map(|_| server.post(Kind::Sync.path(), &server.writer, Some("sync-8"), &sync));
    let answers = futures::future::join_all(racing).await;
    let mut bodies = Vec::new();
    for r in answers {
        assert_eq!(r.status(), 200);
        bodies.push(r.json::<Value>().await.unwrap());
    }
    assert!(bodies.iter().all(|b| *b == first), "{bodies:?}");
    assert_eq!(
        server.store.writes(),
        2,
        "eight racing retries of one key wrote once"
    );

    // The key is the writer's: the same key with another body is refused, writing nothing.
    let other = json!({"cluster": "west-eu", "commit": "c3d4e5f6a1b2"});
    let r = server
        .post(Kind::Sync.path(), &server.writer, Some("sync-7"), &other)
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(server.store.writes(), 2);

    // Without a key each POST writes: the cache is what kept the retries from writing.
    server
        .post(Kind::Sync.path(), &server.writer, None, &sync)
        .await;
    server
        .post(Kind::Sync.path(), &server.writer, None, &sync)
        .await;
    assert_eq!(server.store.writes(), 4);
    let bad_key = server
        .post(Kind::Sync.path(), &server.writer, Some("a key"), &sync)
        .await;
    assert_eq!(bad_key.status(), 400);
    assert_eq!(
        bad_key.json::<Value>().await.unwrap()["field"],
        "Idempotency-Key"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_mb_body_is_refused_with_413_whether_its_length_is_declared_or_not() {
    let server = start(ViewerAuth::None).await;
    let big = json!({"p1": "1", "imageTag": "t", "commitId": "c", "service": "x".repeat(2 << 20)});
    let r = server
        .post(Kind::Image.path(), &server.writer, None, &big)
        .await;
    assert_eq!(r.status(), 413);
    let error: Value = r.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("larger than 65536 bytes"),
        "{error}"
    );

    // Chunked, with no Content-Length: refused once the limit is passed.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        Kind::Image.path(),
        server.writer
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..32 {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await
        };
        if sent.await.is_err() {
            break; // the server answered and closed
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 64];
    let n = stream.read(&mut answer).await.unwrap();
    let status_line = String::from_utf8_lossy(&answer[..n]);
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

/// README: "A body over 64 KiB gets 413".
const README_LIMIT: usize = 64 * 1024;

/// An image record of `len` bytes exactly: JSON whitespace between its first field and the
/// rest, so the closing brace is the last byte and the body parses only when read whole.
fn image_body(p1: &str, len: usize) -> Vec<u8> {
    let head = format!("{{\"p1\":\"{p1}\",");
    let tail = format!(
        "\"imageTag\":\"frontend-{p1}\",\"commitId\":\"a1b2c3d4e5f6\",\"service\":\"fabrikam/frontend\"}}"
    );
    let pad = len - head.len() - tail.len();
    let body = format!("{head}{}{tail}", " ".repeat(pad)).into_bytes();
    assert_eq!(body.len(), len);
    serde_json::from_slice::<Value>(&body).expect("the padded body is JSON");
    body
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) in 4 KiB chunks and
/// returns the status of the answer and its body.
async fn post_chunked(addr: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = async {
        for chunk in body.chunks(4096) {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await?;
        }
        stream.write_all(b"0\r\n\r\n").await
    };
    let _ = sent.await; // a refusal may close the connection before the body is all sent
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answered within 10 s");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(read.is_ok() || !answer.is_empty(), "{read:?}");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_exactly_64_kib_is_written_and_one_byte_more_is_a_413_declared_or_chunked() {
    let server = start(ViewerAuth::None).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let path = Kind::Image.path();

    // Content-Length declared: 65,536 bytes are read and written, 65,537 refused.
    let at_limit = server
        .client
        .post(server.url(path))
        .bearer_auth(&server.writer)
        .header("content-type", "application/json")
        .body(image_body("2001", README_LIMIT))
        .send()
        .await
        .unwrap();
    assert_eq!(at_limit.status(), 200, "{}", at_limit.text().await.unwrap());
    assert_eq!(server.store.writes(), 1);

    let over = server
        .client
        .post(server.url(path))
        .bearer_auth(&server.writer)
        .header("content-type", "application/json")
        .body(image_body("2002", README_LIMIT + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 413);
    let error: Value = over.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains(&format!("larger than {README_LIMIT} bytes")),
        "{error}"
    );
    assert_eq!(server.store.writes(), 1, "a refused body wrote something");

    // Chunked, no Content-Length: the same boundary, found by counting what arrives.
    let (status, body) = post_chunked(
        &addr,
        path,
        &server.writer,
        &image_body("2003", README_LIMIT),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.store.writes(), 2);
    let (status, body) = post_chunked(
        &addr,
        path,
        &server.writer,
        &image_body("2004", README_LIMIT + 1),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(server.store.writes(), 2, "a refused body wrote something");

    // What was written is the whole record, read to its last byte.
    let (records, _) = server.store.contents(PARTITION).await;
    let mut p1s: Vec<_> = records.iter().filter_map(|r| r.p1.clone()).collect();
    p1s.sort();
    assert_eq!(p1s, ["2001", "2003"]);
    assert!(
        records
            .iter()
            .all(|r| r.service.as_deref() == Some("fabrikam/frontend")),
        "{records:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_naming_the_field_and_value_and_writes_nothing() {
    let server = start(ViewerAuth::None).await;
    let long = "x".repeat(3000);
    let cases: Vec<(Kind, Value, &str, Value)> = vec![
        (
            Kind::Image,
            json!({"p1": "1", "commitId": "c", "service": "s"}),
            "imageTag",
            Value::Null,
        ),
        (
            Kind::Image,
            json!({"p1": "1", "imageTag": "t", "commitId": "c", "service": "s", "colour": "red"}),
            "colour",
            json!("colour"),
        ),
        (
            Kind::Image,
            json!({"p1": "1", "imageTag": "t", "commitId": "c", "service": "s", "repository": "ftp://x"}),
            "repository",
            json!("ftp://x"),
        ),
        (
            Kind::Metadata,
            json!({"p2": "2", "imageTag": long, "hldCommitId": "h", "env": "dev"}),
            "imageTag",
            json!(format!("{}...", "x".repeat(200))),
        ),
        (
            Kind::Run,
            json!({"id": "1", "status": "done"}),
            "status",
            json!("done"),
        ),
        // A URL's credentials are never echoed: the value is given without them.
        (
            Kind::Run,
            json!({"id": "1", "status": "completed", "url": "https://ci:ghp_s3cret@github.com/x\u{7}"}),
            "url",
            json!("https://github.com/x\u{7}"),
        ),
        (
            Kind::Run,
            json!({"id": "1", "status": "completed", "attempt": "two"}),
            "attempt",
            json!("two"),
        ),
        (
            Kind::Run,
            json!({"id": "1", "status": "queued", "result": "failed"}),
            "result",
            json!("failed"),
        ),
        // An object or array is named, not repeated: what it holds may be a secret.
        (
            Kind::Sync,
            json!({"cluster": ["east"], "commit": "c"}),
            "cluster",
            Value::Null,
        ),
        (
            Kind::Run,
            json!({"id": "1", "status": "completed", "url": {"u": "https://ci:ghp_s3cret@github.com/x"}}),
            "url",
            Value::Null,
        ),
    ];
    for (kind, body, field, value) in cases {
        let r = server
            .post(kind.path(), &server.writer, Some("same-key-for-all"), &body)
            .await;
        assert_eq!(r.status(), 400, "{body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["field"], field, "{error}");
        assert_eq!(error["kind"], "ConfigError");
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("invalid {field}: ")),
            "{error}"
        );
        if value.is_null() {
            assert!(error["value"].is_null(), "{error}");
        } else {
            assert_eq!(error["value"], value, "{error}");
        }
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
    let not_json = server
        .client
        .post(server.url(Kind::Image.path()))
        .bearer_auth(&server.writer)
        .body("p1=1&imageTag=t")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.json::<Value>().await.unwrap()["field"], "body");
    let r = server
        .post(
            &format!("{}?partition=fabrikam&colour=red", Kind::Image.path()),
            &server.writer,
            None,
            &example(Kind::Image),
        )
        .await;
    assert_eq!(r.status(), 400);
    // A query parameter's name is repeated cut, whatever its length.
    let r = server
        .post(
            &format!("{}?{}=1", Kind::Image.path(), "n".repeat(60_000)),
            &server.writer,
            None,
            &example(Kind::Image),
        )
        .await;
    assert_eq!(r.status(), 400);
    let answer = r.text().await.unwrap();
    assert!(answer.len() < 1024, "{} bytes", answer.len());
    assert_eq!(
        server.store.writes(),
        0,
        "a refused request wrote something"
    );
    // A manifest commit of a p3 nobody recorded: the rule finds nothing and writes nothing.
    let r = server
        .post(
            Kind::ManifestCommit.path(),
            &server.writer,
            None,
            &example(Kind::ManifestCommit),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["kind"], "NotFoundError");
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_link_up_as_spektate_record_does_and_metrics_count_them() {
    let server = start(ViewerAuth::None).await;
    let mut ids = Vec::new();
    for kind in Kind::ALL {
        let r = server
            .post(kind.path(), &server.writer, None, &example(kind))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // p2, p3 and the manifest commit found p1's record: one deployment, one id.
    assert_eq!(ids[0].len(), 12);
    assert!(ids[..4].iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(ids[4..], ["1044".to_string(), "east-us".to_string()]);
    let (records, syncs) = server.store.contents(PARTITION).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].manifest_commit_id.as_deref(),
        Some("c3d4e5f6a1b2")
    );
    assert_eq!(syncs[0].cluster, "east-us");
    // The server refreshes soon after a write: the page shows the journey within seconds.
    let started = std::time::Instant::now();
    let list = loop {
        let list: Value = server
            .client
            .get(server.url("/api/deployments"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list["total"] == 1 || started.elapsed() > std::time::Duration::from_secs(5) {
            break list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(list["total"], 1, "{list:#}");
    let d = &list["deployments"][0];
    assert_eq!(
        d["status"], "complete",
        "the manifest run reported success: {d:#}"
    );
    assert_eq!(d["clusters"][0]["cluster"], "east-us");

    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let odd = server
        .client
        .request(brew, server.url("/coffee"))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 404);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = metrics.text().await.unwrap();
    for kind in Kind::ALL {
        let line = format!(
            "spektate_records_written_total{{kind=\"{}\"}} 1",
            kind.name()
        );
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line} in\n{metrics}"
        );
    }
    assert!(
        metrics.contains("spektate_deployments{partition=\"fabrikam\",state=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("spektate_http_requests_total{method=\"POST\",route=\"/api/records/image\",status=\"200\"} 1"), "{metrics}");
    assert!(
        !metrics.contains("spektate_refresh_duration_seconds_count 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "spektate_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("BREW"), "an odd method became a label");
    server.stop().await;
}
