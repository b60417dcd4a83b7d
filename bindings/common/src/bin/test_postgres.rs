//! `spektate-test-postgres [DATABASE...]`: a private PostgreSQL server for the Python and Node
//! tests, from `spektate_postgres::testkit` (initdb into a temporary folder, on a free loopback
//! port, as the `postgres` user when run as root). It creates each DATABASE, prints one JSON
//! line `{"url": URL, "databases": {"NAME": URL, ...}}` (URLs with the superuser's password)
//! and runs until its standard input closes; then it stops the server and removes its folder.
//! A test that dies closes that input too, and if this process is killed, the testkit's
//! watchdog stops the server.
//!
//! Built by `bash bindings/test.sh`:
//! `cargo build -p spektate-bindings-common --features testkit --bin spektate-test-postgres`.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use spektate_postgres::testkit::TestServer;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    for name in &names {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            eprintln!(
                "spektate-test-postgres: '{name}' is not a database name of lower-case letters, digits and _"
            );
            std::process::exit(2);
        }
    }
    let server = TestServer::start();
    let databases: BTreeMap<&str, String> = names
        .iter()
        .map(|name| (name.as_str(), server.create_database(name)))
        .collect();
    let line = serde_json::json!({"url": server.url(), "databases": databases});
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("write the server's URL");
    out.flush().expect("write the server's URL");
    drop(out);
    // Runs until the test closes standard input (or dies, which closes it as well).
    let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
    drop(server);
}
