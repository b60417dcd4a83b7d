//! Load on a Spektate server's write API: N clients post image records (each a new p1) as
//! fast as the server answers, a bounded number of them, to a server on this machine; prints
//! records per second and the latency of a POST (median, p99, max).
//!
//!     cargo run --release -p spektate-dashboard --example ingest_load -- URL TOKEN [REQUESTS] [CLIENTS]
//!
//! `scripts/bench-serve.sh` starts a server on SQLite and runs this against it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(token)) = (args.first(), args.get(1)) else {
        eprintln!("usage: ingest_load URL TOKEN [REQUESTS] [CLIENTS]");
        std::process::exit(2);
    };
    let authority = url.trim_start_matches("http://");
    let host = if authority.starts_with("[::1]") {
        "[::1]"
    } else {
        authority.split([':', '/']).next().unwrap_or_default()
    };
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        eprintln!(
            "ingest_load only loads a server on this machine (127.0.0.1 or localhost), not {host}"
        );
        std::process::exit(2);
    }
    let requests: usize = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000)
        .min(1_000_000);
    let clients: usize = args
        .get(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or(8)
        .clamp(1, 256);
    let endpoint = format!(
        "{}/api/records/image?partition=bench",
        url.trim_end_matches('/')
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let run = std::process::id();
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (client, endpoint, token, next) = (client.clone(), endpoint.clone(), token.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let body = serde_json::json!({
                        "p1": format!("{run}-{i}"), "imageTag": format!("svc-{}-{i}", i % 10),
                        "commitId": format!("{i:040x}"), "service": format!("fabrikam/svc-{}", i % 10)
                    });
                    let t = Instant::now();
                    let ok = client
                        .post(&endpoint)
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("{run}-{i}"))
                        .json(&body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    latencies.push(t.elapsed());
                    failed += usize::from(!ok);
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    let mut failed = 0;
    for w in workers {
        let (l, f) = w.await.unwrap();
        latencies.extend(l);
        failed += f;
    }
    let took = started.elapsed();
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len() - 1)]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} record POSTs from {clients} clients in {:.2} s: {:.0} records/s; latency median {:.2} ms, p99 {:.2} ms, max {:.2} ms; {failed} failed",
        latencies.len(),
        took.as_secs_f64(),
        (latencies.len() - failed) as f64 / took.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
