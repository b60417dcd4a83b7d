//! Providers' final answers kept in the Azure table, against a real Azurite: the core's
//! answers conformance suite, entity group transactions, answers kept apart from records,
//! and answers the table cannot hold.

mod common;

use std::sync::Arc;

use common::azurite::Azurite;
use common::raw_table::raw;
use spektate_azdo::AzureTableStore;
use spektate_core::cache::{Answer, AnswerKey, Fact};
use spektate_core::http::Method;
use spektate_core::model::deployment::{Author, PullRequest};
use spektate_core::request_counts::request_counts;
use spektate_core::{Record, RecordQuery, RecordStore, Run, RunKind, RunResult, RunStatus};

fn store(az: &Azurite, table: &str) -> Arc<AzureTableStore> {
    Arc::new(AzureTableStore::new(az.account(), table).expect("store"))
}

const AZDO: &str = "https://dev.azure.com/fabrikam/fabrikam-project";
const REPO: &str = "github.com/fabrikam/frontend";

fn build(id: &str) -> Answer {
    let mut run = Run::new(id, RunKind::Build, RunStatus::Completed);
    run.result = Some(RunResult::Succeeded);
    run.pipeline = Some("frontend-ci".into());
    run.url = Some(format!("{AZDO}/_build/results?buildId={id}"));
    Answer {
        namespace: AZDO.into(),
        id: id.into(),
        fact: Fact::Build(run),
    }
}

fn author(commit: &str, name: &str) -> Answer {
    Answer {
        namespace: REPO.into(),
        id: commit.into(),
        fact: Fact::Author(Author {
            name: name.into(),
            email: Some("ana@fabrikam.example".into()),
            login: Some("asouza".into()),
            avatar_url: None,
            url: Some("https://github.com/asouza".into()),
            committed_at: None,
        }),
    }
}

/// Requests of this store's client that the service answered with `status`.
fn answered(table: &str, status: &str) -> u64 {
    let provider = format!("azure-table devstoreaccount1/{table}");
    request_counts()
        .into_iter()
        .filter(|c| c.provider == provider && c.status == status)
        .map(|c| c.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_passes_the_answers_conformance_suite() {
    let az = Azurite::start();
    let store = store(&az, "answersconformance");
    spektate_core::testkit::answers_conformance(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_are_written_in_transactions_of_at_most_a_hundred() {
    let az = Azurite::start();
    let table = "answerbatches";
    let store = store(&az, table);
    let put: Vec<Answer> = (0..250).map(|i| build(&(5000 + i).to_string())).collect();
    store.put_answers("fabrikam", &put).await.unwrap();
    assert_eq!(answered(table, "202"), 3, "250 answers: 100 + 100 + 50");
    // Read back by point reads (a few keys) and by ranges (many keys).
    let few: Vec<AnswerKey> = put[..10].iter().map(Answer::key).collect();
    assert_eq!(
        store.answers("fabrikam", &few).await.unwrap(),
        put[..10].to_vec()
    );
    let all: Vec<AnswerKey> = put.iter().map(Answer::key).collect();
    assert_eq!(
        store.answers("fabrikam", &all).await.unwrap(),
        put,
        "in the order asked"
    );
    // The rows as another client reads them: hashed row keys, the key's parts, the value.
    let (status, rows) = raw(
        &az,
        Method::GET,
        &format!("/{table}()"),
        "$filter=PartitionKey%20eq%20%27fabrikam~answers%27&$top=1",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let row = &rows["value"][0];
    assert_eq!(row["RowKey"].as_str().unwrap().len(), 64, "{row}");
    assert_eq!(
        (&row["namespace"], &row["kind"]),
        (&AZDO.into(), &"build".into())
    );
    assert_eq!(row["factParts"], 1);
    let fact: serde_json::Value = serde_json::from_str(row["fact"].as_str().unwrap()).unwrap();
    assert_eq!(fact["kind"], "build", "{fact}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_never_show_among_records_and_their_partition_is_not_a_record_partition() {
    let az = Azurite::start();
    let store = store(&az, "answersapart");
    let mut r = Record::new("fabrikam");
    r.set_column("imageTag", Some("frontend-4711".into()));
    r.set_column("p1", Some("4711".into()));
    store.insert(&r).await.unwrap();
    store
        .put_answers(
            "fabrikam",
            &[build("4711"), author("8c5f2a1e", "Ana Souza")],
        )
        .await
        .unwrap();
    let records = store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].row_key, r.row_key);
    let by_run = store
        .query_shared("fabrikam", &RecordQuery::all().run_id("4711"))
        .await
        .unwrap();
    assert_eq!(by_run.len(), 1);
    assert!(
        store
            .cluster_histories("fabrikam")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .run_reports("fabrikam", &["4711".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    let e = store
        .query("fabrikam~answers", &RecordQuery::all())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'fabrikam~answers'") && e.contains("~answers"),
        "{e}"
    );
    let mut sneaky = Record::new("fabrikam~answers");
    sneaky.set_column("p1", Some("1".into()));
    assert!(store.insert(&sneaky).await.is_err());
    // Nor is a row kept beside the records deleted as if it were one.
    for partition in ["fabrikam~answers", "fabrikam~claims", "fabrikam~runs"] {
        let e = store
            .delete(partition, "4711", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("'{partition}'")), "{e}");
    }
    let e = store
        .put_answers("a~runs", &[build("1")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("'a~runs'"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answer_the_table_cannot_hold_is_skipped_and_the_others_kept() {
    let az = Azurite::start();
    let store = store(&az, "answerlimits");
    // 2 MB of pull request description: over the service's 1 MiB entity.
    let huge = Answer {
        namespace: REPO.into(),
        id: "118".into(),
        fact: Fact::PullRequest(PullRequest {
            id: "118".into(),
            title: "Updating frontend image tag to frontend-4711.".into(),
            description: Some("d".repeat(2_000_000)),
            source_branch: None,
            target_branch: None,
            merged: true,
            merged_by: None,
            merged_at: None,
            closed: false,
            url: None,
        }),
    };
    // 150 kB of name: more than one 64 KiB property, kept in pieces.
    let long = author("0a1b2c3d", &"Ana Souza — ".repeat(12_500));
    // A namespace of 2,000 characters with every character a key may not hold.
    let odd = Answer {
        namespace: format!("{}/#?\\\u{7}'", "n".repeat(2000)),
        ..author("8c5f2a1e", "Ana Souza")
    };
    // U+2028 in a value: JSON allows it raw; the batch must still parse.
    let separator = author("ffee", "Ana\u{2028}Souza\u{2029}");
    let put = vec![huge.clone(), long.clone(), odd.clone(), separator.clone()];
    store
        .put_answers("fabrikam", &put)
        .await
        .expect("the answer too large is skipped, not an error");
    let keys: Vec<AnswerKey> = put.iter().map(Answer::key).collect();
    let got = store.answers("fabrikam", &keys).await.unwrap();
    assert_eq!(got, vec![long, odd, separator]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_row_that_names_another_key_answers_nothing() {
    let az = Azurite::start();
    let table = "answerforged";
    let store = store(&az, table);
    let a = build("4711");
    store
        .put_answers("fabrikam", std::slice::from_ref(&a))
        .await
        .unwrap();
    // Another writer puts a row under the row key of build 4711 naming build 4712.
    let (status, rows) = raw(
        &az,
        Method::GET,
        &format!("/{table}()"),
        "$filter=PartitionKey%20eq%20%27fabrikam~answers%27",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let mut row = rows["value"][0].clone();
    row["id"] = "4712".into();
    let path = format!(
        "/{table}(PartitionKey='fabrikam~answers',RowKey='{}')",
        row["RowKey"].as_str().unwrap()
    );
    let (status, _) = raw(&az, Method::PUT, &path, "", Some(&row)).await;
    assert_eq!(status, 204);
    assert!(
        store
            .answers("fabrikam", &[a.key()])
            .await
            .unwrap()
            .is_empty()
    );
    // A value cut short is an error naming the answer.
    row["id"] = "4711".into();
    row["fact"] = "{\"kind\":\"build\",\"value\":{".into();
    let (status, _) = raw(&az, Method::PUT, &path, "", Some(&row)).await;
    assert_eq!(status, 204);
    let e = store
        .answers("fabrikam", &[a.key()])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("kept answer build 4711"), "{e}");
}

/// A transaction the service refuses, as its documentation shows one: `202 Accepted` with
/// one response, the failing write's index before its message. Nothing was kept, and the
/// error names the answer and the service's code.
#[tokio::test]
async fn a_refused_transaction_names_the_answer_that_failed() {
    use wiremock::matchers::{header_regex, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/Tables"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let refusal = "--batchresponse_4c637ba4-b2e8-40f8-adb0-aaef1ae8e3fc\r\n\
        Content-Type: multipart/mixed; boundary=changesetresponse_ba83dbfc-f8bb-4d65-a36e-3a4ab1b39e09\r\n\r\n\
        --changesetresponse_ba83dbfc-f8bb-4d65-a36e-3a4ab1b39e09\r\n\
        Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
        HTTP/1.1 400 Bad Request\r\nContent-ID: 2\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n\
        DataServiceVersion: 3.0;\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\r\n\
        {\"odata.error\":{\"code\":\"InvalidInput\",\"message\":{\"lang\":\"en-US\",\"value\":\"1:One of the request inputs is not valid.\\nRequestId:5a0c4d6e-0002-0031-1f2d-b0c5e3000000\\nTime:2026-11-30T04:31:07.5512345Z\"}}}\r\n\
        --changesetresponse_ba83dbfc-f8bb-4d65-a36e-3a4ab1b39e09--\r\n\
        --batchresponse_4c637ba4-b2e8-40f8-adb0-aaef1ae8e3fc--\r\n";
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/$batch"))
        .and(header_regex(
            "content-type",
            "^multipart/mixed; boundary=batch_[0-9a-f-]+$",
        ))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header(
                    "content-type",
                    "multipart/mixed; boundary=batchresponse_4c637ba4-b2e8-40f8-adb0-aaef1ae8e3fc",
                )
                .set_body_string(refusal),
        )
        .expect(1)
        .mount(&server)
        .await;
    let account = spektate_azdo::TableAccount::development(Some(&format!(
        "{}/devstoreaccount1",
        server.uri()
    )))
    .unwrap();
    let store = AzureTableStore::new(account, "refused").unwrap();
    let e = store
        .put_answers("fabrikam", &[build("5000"), build("5001")])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("at answer build \"5001\"")
            && e.contains("HTTP 400 InvalidInput")
            && e.contains("One of the request inputs is not valid.")
            && !e.contains("RequestId"),
        "{e}"
    );
    let sent = server.received_requests().await.unwrap();
    let body = sent
        .iter()
        .find(|r| r.url.path().ends_with("$batch"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert_eq!(body.matches(" HTTP/1.1\r\n").count(), 2, "{body}");
    assert!(
        body.contains("PUT http://") && !body.contains("If-Match"),
        "{body}"
    );
}
