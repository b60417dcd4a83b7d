//! What the store says when it cannot work: the store's URL without its password, what it
//! was doing, and the server's or the network's reason.

use spektate_core::{RecordQuery, RecordStore};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_a_closed_port_is_reported_without_the_password() {
    let server = TestServer::start();
    let secret = "not-the-password-7f3a";
    let wrong = format!(
        "postgres://postgres:{secret}@127.0.0.1:{}/postgres?sslmode=disable",
        server.port()
    );
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("postgres://postgres:{secret}@127.0.0.1:{closed_port}/postgres");
    let cases = [
        (
            wrong,
            format!(
                "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable store: connect failed",
                server.port()
            ),
            "password authentication failed for user \"postgres\" (SQLSTATE 28P01)",
        ),
        (
            closed,
            format!("postgres://postgres@127.0.0.1:{closed_port}/postgres store: connect failed"),
            "error connecting to server: Connection refused",
        ),
    ];
    for (url, store, reason) in cases {
        let s = PostgresStore::open(&url).unwrap();
        let e = s
            .query("p", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&store) && e.contains(reason), "{e}");
        for shown in [e, s.describe(), format!("{s:?}")] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_statement_names_the_operation_and_the_servers_reason() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    store.ready().await.unwrap();
    server.psql("postgres", "DROP TABLE spektate_run_reports");
    let e = store
        .run_reports("p", &["1".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("read run reports failed")
            && e.contains("relation \"spektate_run_reports\" does not exist (SQLSTATE 42P01)"),
        "{e}"
    );
    assert!(!e.contains(server.password()), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waiting_on_a_held_partition_lock_fails_after_the_lock_timeout() {
    let server = TestServer::start();
    // A lock timeout of one second, set in the URL's options, instead of the default 30 s.
    let url = format!("{}?options=-c%20lock_timeout%3D1s", server.url());
    let store = PostgresStore::open(&url).unwrap();
    store.ready().await.unwrap();
    // Another session holds partition p's write lock (a writer stalled in its transaction).
    let (holder, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder
        .execute("SELECT pg_advisory_lock(1397771092, hashtext('p'))", &[])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = store
        .insert(&spektate_core::Record::new("p"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lock timeout (SQLSTATE 55P03)") && e.contains("longer than lock_timeout"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Another partition is not held up.
    store
        .insert(&spektate_core::Record::new("q"))
        .await
        .unwrap();
}
