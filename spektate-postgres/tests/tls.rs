//! TLS by the URL's `sslmode`, against a server that accepts only TLS connections on TCP.

mod common;

use spektate_core::{Record, RecordStore};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::{ServerOptions, ServerTls, TestServer};

fn tls_only_server(certs: &common::certs::Certs) -> TestServer {
    TestServer::start_with(&ServerOptions {
        tls: Some(ServerTls {
            cert: certs.cert.clone(),
            key: certs.key.clone(),
            required: true,
        }),
        ..ServerOptions::default()
    })
}

/// The server's URL with these query parameters.
fn url(server: &TestServer, params: &str) -> String {
    format!("{}?{params}", server.url())
}

/// Whether every session of the store's application name is encrypted, and how many there are.
fn encrypted_sessions(server: &TestServer) -> String {
    server.psql(
        "postgres",
        "SELECT bool_and(s.ssl), count(*) > 0 FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'spektate'",
    )
}

async fn write_one(url: &str) -> spektate_core::Result<Record> {
    let mut r = Record::new("tls");
    r.image_tag = Some("t".into());
    PostgresStore::open(url)?.insert(&r).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_servers_ca_connects_encrypted() {
    let certs = common::certs::generate();
    let server = tls_only_server(&certs);
    let url = url(
        &server,
        &format!("sslmode=verify-full&sslrootcert={}", certs.ca.display()),
    );
    let store = PostgresStore::open(&url).unwrap();
    store.ready().await.unwrap();
    assert_eq!(encrypted_sessions(&server), "t|t");
    assert!(store.describe().contains("sslmode=verify-full"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_name_the_certificate_lacks_and_verify_ca_accepts_it() {
    let certs = common::certs::generate();
    let server = tls_only_server(&certs);
    // TCP to 127.0.0.1, TLS checked against the name localhost, which the certificate lacks.
    let by_name = |mode: &str| {
        format!(
            "postgres://postgres:{}@localhost:{}/postgres?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}",
            server.password(),
            server.port(),
            certs.ca.display()
        )
    };
    let e = write_one(&by_name("verify-full"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TLS") && e.contains("certificate not valid for name \"localhost\""),
        "{e}"
    );
    assert!(!e.contains(server.password()), "{e}");
    write_one(&by_name("verify-ca"))
        .await
        .expect("verify-ca checks the chain, not the name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_another_ca_is_refused() {
    let certs = common::certs::generate();
    let server = tls_only_server(&certs);
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = url(
            &server,
            &format!("sslmode={mode}&sslrootcert={}", certs.other_ca.display()),
        );
        let e = write_one(&url).await.unwrap_err().to_string();
        assert!(
            e.contains("TLS") && e.contains("UnknownIssuer"),
            "{mode}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_prefer_encrypt_without_roots_and_disable_is_refused() {
    let certs = common::certs::generate();
    let server = tls_only_server(&certs);
    let require = PostgresStore::open(&url(&server, "sslmode=require")).unwrap();
    require.ready().await.unwrap();
    let prefer = PostgresStore::open(&server.url()).unwrap();
    prefer
        .ready()
        .await
        .expect("prefer, the default, takes TLS when offered");
    assert_eq!(
        server.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'spektate' AND s.ssl"
        ),
        "2",
        "both stores' sessions are encrypted"
    );
    let e = write_one(&url(&server, "sslmode=disable"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no encryption"), "{e}");
}

#[test]
fn a_missing_or_empty_root_file_is_named_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.pem");
    for (file, says) in [
        (&missing, "cannot read sslrootcert"),
        (&empty, "holds no PEM certificate"),
    ] {
        let url = format!(
            "postgres://app:hunter2@db.example.com/s?sslmode=verify-full&sslrootcert={}",
            file.display()
        );
        let e = PostgresStore::open(&url).unwrap_err().to_string();
        assert!(
            e.contains(says) && e.contains(&file.display().to_string()),
            "{e}"
        );
        assert!(
            e.contains("postgres://app@db.example.com/s") && !e.contains("hunter2"),
            "{e}"
        );
    }
}
