//! The Fabrikam demo: the talk's scenario played step by step on a fresh SQLite file, with
//! run reports instead of a CI account, printing the deployments after each step.
//!
//! ```text
//! cargo run --example fabrikam             # play it, print the table after each step, then where each service runs
//! cargo run --example fabrikam -- --keep   # leave fabrikam.db behind for `spektate get`
//! cargo run --example fabrikam -- --serve  # play it slowly while the dashboard shows it
//! ```
//!
//! `--serve` serves the dashboard on http://127.0.0.1:4040/ (`--port N` for another port, 0
//! for a free one) and plays a step every 3 seconds (`--pace SECONDS`) after the first pause:
//! open the page and watch the rows move from in progress to synced. It keeps serving after
//! the last step, until Ctrl-C.

mod scenario;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate::correlate::placement::{self, PlacementFilter, placements};
use spektate::{Filter, Recorder, SqliteStore, render};

const PARTITION: &str = "fabrikam";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args().any(|a| a == "--keep");
    let serve = Serve::from_args(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("fabrikam: {e}");
        std::process::exit(2)
    });
    let dir = tempfile::tempdir()?;
    let path = if keep {
        std::path::PathBuf::from("fabrikam.db")
    } else {
        dir.path().join("fabrikam.db")
    };
    if keep {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("fabrikam.db{suffix}"));
        }
    }
    let store = Arc::new(SqliteStore::open(&path)?);
    let recorder = Recorder::new(store.clone(), PARTITION)?;
    let repos = Arc::new(scenario::FabrikamRepos::default());
    let tracker = scenario::tracker(store, PARTITION, repos.clone());
    let t0 = Utc::now() - Duration::minutes(22);

    if let Some(serve) = serve {
        return serve.run(tracker, &recorder, &repos, t0).await;
    }

    println!(
        "Fabrikam: where is my container? (store: {})\n",
        path.display()
    );
    for (i, step) in scenario::steps().iter().enumerate() {
        scenario::play(step, &recorder, &repos, t0).await?;
        tracker.refresh().await?;
        let deployments = tracker.deployments(&Filter::default()).await?;
        println!("── Step {}: {}", i + 1, step.title);
        print!("{}", render::table(&deployments, true, Utc::now()));
        println!();
    }
    // Where each service is running now, as `spektate status` shows it.
    let deployments = tracker.deployments(&Filter::default()).await?;
    let rows = placements(&deployments, &PlacementFilter::default());
    println!("── Where is each service running? (spektate status)");
    print!("{}", placement::table(&rows, Utc::now()));
    println!();
    if keep {
        println!(
            "The store is in fabrikam.db: try `spektate get --store sqlite:fabrikam.db -p {PARTITION} -o wide`."
        );
    }
    Ok(())
}

/// `--serve`: the dashboard on a port, with the scenario played at a pace a person can follow.
struct Serve {
    port: u16,
    pace: std::time::Duration,
}

impl Serve {
    /// `Some` with `--serve`; `--port` and `--pace` checked, naming the flag and the value.
    fn from_args(args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let mut serve = Serve {
            port: 4040,
            pace: std::time::Duration::from_secs(3),
        };
        let (mut on, mut args) = (false, args);
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let mut value = |flag: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or(format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--serve" => on = true,
                "--port" => {
                    let v = value("--port")?;
                    serve.port = v.parse().map_err(|_| {
                        format!("invalid --port: '{v}' is not a port number from 0 to 65535")
                    })?;
                }
                "--pace" => {
                    let v = value("--pace")?;
                    let secs: f64 = v
                        .parse()
                        .map_err(|_| format!("invalid --pace: '{v}' is not a number of seconds"))?;
                    if !(0.0..=3600.0).contains(&secs) {
                        return Err(format!(
                            "invalid --pace: '{v}' is not a number of seconds from 0 to 3600"
                        ));
                    }
                    serve.pace = std::time::Duration::from_secs_f64(secs);
                }
                "--keep" => {}
                other => {
                    return Err(format!(
                        "unknown argument '{other}'; use --keep, or --serve [--port N] [--pace SECONDS]"
                    ));
                }
            }
        }
        Ok(on.then_some(serve))
    }

    async fn run(
        self,
        tracker: spektate::Tracker,
        recorder: &Recorder,
        repos: &scenario::FabrikamRepos,
        t0: chrono::DateTime<Utc>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        use spektate_dashboard::{Dashboard, shutdown_signal};

        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let server = Dashboard::new(tracker)
            .refresh_every(std::time::Duration::from_secs(1))
            .bind(addr)
            .await?;
        println!("Fabrikam dashboard on {}", server.url());
        println!(
            "Open it now: the scenario plays a step every {:?}, then the page stays up until Ctrl-C.\n",
            self.pace
        );
        let mut serving = tokio::spawn(server.run(shutdown_signal()));
        let play = async {
            for (i, step) in scenario::steps().iter().enumerate() {
                tokio::time::sleep(self.pace).await;
                scenario::play(step, recorder, repos, t0).await?;
                println!("── Step {}: {}", i + 1, step.title);
            }
            println!("\nThe scenario is over; the dashboard stays up until Ctrl-C.");
            Ok::<(), spektate::Error>(())
        };
        tokio::select! {
            played = play => played?,
            // Ctrl-C before the last step: stop there.
            served = &mut serving => return Ok(served??),
        }
        serving.await??;
        Ok(())
    }
}
