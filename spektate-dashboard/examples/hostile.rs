//! The dashboard mounted at `/spektate` in a service of its own, over a repository host and
//! a CI whose every text is markup or script, as a compromised or careless provider could
//! return, and whose sync tags fail with a reason in markup. The browser test opens it and
//! checks that each renders as plain text, the failure as the row's warning, and that no
//! `javascript:` URL becomes a link.
//!
//! ```text
//! cargo run -p spektate-dashboard --example hostile -- --port 4041
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use spektate_core::{
    Author, ClusterSync, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore,
    MetadataUpdated, PullRequest, Recorder, RepoDefaults, RepoRef, Repositories, Result,
    RunReported, RunStatus, Tracker, async_trait,
};
use spektate_dashboard::{Dashboard, shutdown_signal};

/// What the page must show as text.
const PR_TITLE: &str = "<img src=x onerror=alert(1)>";
const AUTHOR: &str = "\"><svg onload=alert(2)>";
const MERGED_BY: &str = "<script>alert(3)</script>";
const BAD_URL: &str = "javascript:alert(4)";
/// Why the host says its sync tags cannot be read: a warning the page shows.
const TAGS_FAILED: &str = "<img src=y onerror=alert(6)> tags are gone";

/// A host whose answers carry markup.
struct HostileHost;

fn person(name: &str) -> Author {
    Author {
        name: name.into(),
        email: Some("x@example.com".into()),
        login: None,
        avatar_url: None,
        url: Some(BAD_URL.into()),
        committed_at: None,
    }
}

#[async_trait]
impl Repositories for HostileHost {
    fn name(&self) -> String {
        "hostile host".into()
    }

    fn serves_repo(&self, _repo: &RepoRef) -> bool {
        true
    }

    async fn authors(
        &self,
        _repo: &RepoRef,
        commits: &[String],
    ) -> Result<HashMap<String, Author>> {
        Ok(commits
            .iter()
            .map(|c| (c.clone(), person(AUTHOR)))
            .collect())
    }

    async fn pull_requests(
        &self,
        _repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        let pr = |id: &String| PullRequest {
            id: id.clone(),
            title: PR_TITLE.into(),
            description: Some("<iframe src=javascript:alert(5)>".into()),
            source_branch: Some("<u>branch</u>".into()),
            target_branch: Some("main".into()),
            merged: true,
            merged_by: Some(person(MERGED_BY)),
            merged_at: None,
            closed: false,
            url: Some(BAD_URL.into()),
        };
        Ok(ids.iter().map(|id| (id.clone(), pr(id))).collect())
    }

    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        Err(spektate_core::Error::provider(
            "hostile host",
            "list tags",
            repo.key(),
            TAGS_FAILED,
        ))
    }
}

fn port() -> std::result::Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 4041;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v.parse().map_err(|_| {
                    format!("invalid --port: '{v}' is not a port number from 0 to 65535")
                })?;
            }
            other => return Err(format!("unknown argument '{other}'; use --port N")),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "hostile")?;
    let hld = "https://github.com/example/hld";
    recorder
        .image_built(&ImageBuilt {
            p1: "1".into(),
            image_tag: "web-1".into(),
            commit_id: "1111111111111111111111111111111111111111".into(),
            service: "web".into(),
            repository: Some("https://github.com/example/web".into()),
        })
        .await?;
    recorder
        .metadata_updated(&MetadataUpdated {
            p2: "2".into(),
            image_tag: "web-1".into(),
            hld_commit_id: "2222222222222222222222222222222222222222".into(),
            env: "prod".into(),
            pr: Some("7".into()),
            repository: Some(hld.into()),
            service: None,
        })
        .await?;
    recorder
        .manifest_generated(&ManifestGenerated {
            p3: "3".into(),
            hld_commit_id: "2222222222222222222222222222222222222222".into(),
            manifest_commit_id: None,
            pr: Some("7".into()),
            repository: Some("https://github.com/example/manifests".into()),
        })
        .await?;
    recorder
        .manifest_committed(&ManifestCommitted {
            p3: "3".into(),
            manifest_commit_id: "3333333333333333333333333333333333333333".into(),
            repository: None,
        })
        .await?;
    for id in ["1", "2", "3"] {
        let mut run = RunReported::new(id, RunStatus::Completed);
        run.url = Some(BAD_URL.into());
        recorder.run_reported(&run).await?;
    }
    recorder
        .cluster_synced("<b>east</b>", "3333333", Some("<i>flux</i>"))
        .await?;

    let defaults = RepoDefaults {
        hld_repo: RepoRef::parse(hld).ok(),
        ..Default::default()
    };
    let tracker = Tracker::builder(store)
        .partition("hostile")
        .repositories(Arc::new(HostileHost))
        .defaults(defaults)
        .build();
    let dashboard = Dashboard::new(tracker);
    let _refresher = dashboard.spawn_refresher();
    let app = Router::new()
        .route(
            "/",
            get(|| async { "This service mounts the Spektate dashboard at /spektate\n" }),
        )
        .nest("/spektate", dashboard.router());

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "Hostile dashboard on http://{}/spektate",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
