//! `@spektate/node`: Spektate for Node.js, a thin napi-rs layer over the Rust library.
//!
//! `Store`, `Recorder`, `Tracker` and `AzureDevOps` are classes; every I/O method returns a
//! Promise; results are plain objects with `Date`s; errors carry a `code` naming their kind.

mod errors;
mod objects;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use napi::Either;
use napi::bindgen_prelude::ClassInstance;
use napi_derive::napi;
use spektate::config::{
    self, Access, AzureDevOpsSettings, GitHubSettings, Names, ProviderSettings, StoreSettings,
};
use spektate::{
    DeploymentKind, Filter as CoreFilter, ImageBuilt as CoreImageBuilt,
    ManifestCommitted as CoreManifestCommitted, ManifestGenerated as CoreManifestGenerated,
    MemoryStore, MetadataUpdated as CoreMetadataUpdated, RecordStore, Recorder as CoreRecorder,
    RunReported, RunResult, RunStatus, Status, Tracker as CoreTracker, render,
};

use errors::{Result, Settled, failed, invalid, settle, sync, to_js};
use objects::{ClusterSync, Deployment, Record, RefreshStats, RunReport};

/// How messages name the settings: by the JavaScript option names.
const NAMES: Names = Names {
    store: "store",
    account: "account",
    access_key: "accessKey",
    table_name: "table",
    table_endpoint: "tableEndpoint",
    source_repo: "sourceRepo",
    hld_repo: "hldRepo",
    manifest_repo: "manifestRepo",
    github_url: "apiUrl",
    org: "org",
    project: "project",
    azdo_url: "url",
    top: "top",
};

/// The package version.
#[napi]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of `Store.open`.
#[napi(object)]
pub struct StoreOptions {
    /// The table of an `azure-table:` store.
    pub table: Option<String>,
    /// Create a missing SQLite file (default `false`: it must exist).
    pub create: Option<bool>,
}

/// A record store: where pipelines record and trackers read.
#[napi]
pub struct Store {
    inner: Arc<dyn RecordStore>,
}

#[napi]
impl Store {
    /// Opens the store `spec` names: `sqlite:PATH` or a plain path (SQLite, one file), or
    /// `azure-table:CONNECTION_STRING` with `options.table`.
    #[napi(factory)]
    pub fn open(spec: String, options: Option<StoreOptions>) -> Result<Store> {
        let (table, create) =
            options.map_or((None, false), |o| (o.table, o.create.unwrap_or(false)));
        let access = if create { Access::Write } else { Access::Read };
        let settings = StoreSettings {
            table_name: table,
            ..StoreSettings::spec(spec)
        };
        sync(|| settings.open(&NAMES, access)).map(|inner| Store { inner })
    }

    /// A store in memory, gone with the process.
    #[napi(factory)]
    pub fn memory() -> Store {
        Store {
            inner: Arc::new(MemoryStore::new()),
        }
    }

    /// What the store is (`sqlite:/srv/spektate.db`); never a credential.
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.inner.describe()
    }
}

/// A `Store`, or a spec or path to open with `access`.
fn store_arg(
    store: Either<ClassInstance<'_, Store>, String>,
    access: Access,
) -> Result<Arc<dyn RecordStore>> {
    match store {
        Either::A(s) => Ok(s.inner.clone()),
        Either::B(spec) => sync(|| StoreSettings::spec(spec).open(&NAMES, access)),
    }
}

/// p1 built and pushed an image.
#[napi(object)]
pub struct ImageBuilt {
    /// Image pipeline run id.
    pub p1: String,
    /// Image tag.
    pub image_tag: String,
    /// Source commit.
    pub commit_id: String,
    /// Service name.
    pub service: String,
    /// Source repository URL.
    pub repository: Option<String>,
}

/// p2 wrote the image tag into the HLD for a ring.
#[napi(object)]
pub struct MetadataUpdated {
    /// Metadata pipeline (release) id.
    pub p2: String,
    /// Image tag.
    pub image_tag: String,
    /// HLD commit.
    pub hld_commit_id: String,
    /// Ring.
    pub env: String,
    /// Service: keeps images of two services that share a tag apart.
    pub service: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// HLD repository URL.
    pub repository: Option<String>,
}

/// p3 rendered manifests from an HLD commit.
#[napi(object)]
pub struct ManifestGenerated {
    /// Manifest pipeline run id.
    pub p3: String,
    /// HLD commit it rendered.
    pub hld_commit_id: String,
    /// Manifest commit it pushed, when already known.
    pub manifest_commit_id: Option<String>,
    /// Pull request that was merged.
    pub pr: Option<String>,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// p3 pushed its manifest commit.
#[napi(object)]
pub struct ManifestCommitted {
    /// Manifest pipeline run id.
    pub p3: String,
    /// Manifest commit.
    pub manifest_commit_id: String,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// What a pipeline says about its own run; what is not given keeps an earlier report's value.
#[napi(object)]
pub struct RunReportInput {
    /// Run id, as recorded in p1, p2 or p3.
    pub id: String,
    /// Status: `queued`, `inProgress`, `completed` (or a provider's word for them).
    #[napi(ts_type = "'queued' | 'inProgress' | 'completed' | string")]
    pub status: String,
    /// Result, with status `completed`: `succeeded` (the default), `failed`, `canceled`, ...
    #[napi(
        ts_type = "'succeeded' | 'partiallySucceeded' | 'failed' | 'canceled' | 'skipped' | string"
    )]
    pub result: Option<String>,
    /// Web page of the run.
    pub url: Option<String>,
    /// Source commit.
    pub commit: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
    /// Repository URL.
    pub repository: Option<String>,
    /// Queue time.
    pub queued_at: Option<DateTime<Utc>>,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// Finish time.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Records what each pipeline did, by the linking rules, into one partition of a store.
#[napi]
pub struct Recorder {
    inner: CoreRecorder,
}

#[napi]
impl Recorder {
    /// A recorder writing to `partition` (default `default`) of `store`: a `Store`, or a
    /// spec or path (created when missing).
    #[napi(constructor)]
    pub fn new(
        store: Either<ClassInstance<'_, Store>, String>,
        partition: Option<String>,
    ) -> Result<Self> {
        let store = store_arg(store, Access::Write)?;
        sync(|| CoreRecorder::new(store, partition.unwrap_or_else(|| "default".to_string())))
            .map(|inner| Recorder { inner })
    }

    /// The partition written to.
    #[napi(getter)]
    pub fn partition(&self) -> String {
        self.inner.partition().to_string()
    }

    /// p1 built and pushed an image: inserts a new record.
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn image_built(&self, step: ImageBuilt) -> napi::Result<Settled<Record>> {
        let e = CoreImageBuilt {
            p1: step.p1,
            image_tag: step.image_tag,
            commit_id: step.commit_id,
            service: step.service,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.image_built(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p2 wrote the image tag into the HLD for a ring: updates the image's record, or
    /// inserts one (the same image going to another ring).
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn metadata_updated(&self, step: MetadataUpdated) -> napi::Result<Settled<Record>> {
        let e = CoreMetadataUpdated {
            p2: step.p2,
            image_tag: step.image_tag,
            hld_commit_id: step.hld_commit_id,
            env: step.env,
            service: step.service,
            pr: step.pr,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.metadata_updated(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p3 rendered manifests from an HLD commit (no matching record: a manual HLD edit).
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn manifest_generated(
        &self,
        step: ManifestGenerated,
    ) -> napi::Result<Settled<Record>> {
        let e = CoreManifestGenerated {
            p3: step.p3,
            hld_commit_id: step.hld_commit_id,
            manifest_commit_id: step.manifest_commit_id,
            pr: step.pr,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_generated(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p3 pushed its manifest commit; rejects with `NotFoundError` when no record has that p3.
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn manifest_committed(
        &self,
        step: ManifestCommitted,
    ) -> napi::Result<Settled<Record>> {
        let e = CoreManifestCommitted {
            p3: step.p3,
            manifest_commit_id: step.manifest_commit_id,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_committed(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// A pipeline reports its own run.
    #[napi(ts_return_type = "Promise<RunReport>")]
    pub async fn run_reported(&self, report: RunReportInput) -> napi::Result<Settled<RunReport>> {
        let status = match RunStatus::parse(&report.status) {
            Ok(s) => s,
            Err(e) => return failed(to_js(e)),
        };
        let result = match report.result.as_deref().map(RunResult::parse).transpose() {
            Ok(r) => r,
            Err(e) => return failed(to_js(e)),
        };
        let mut e = RunReported::new(report.id, status);
        e.result = result;
        e.url = report.url;
        e.commit = report.commit;
        e.branch = report.branch;
        e.repository = report.repository;
        e.queued_at = report.queued_at;
        e.started_at = report.started_at;
        e.finished_at = report.finished_at;
        let r = self.inner.clone();
        settle(async move { r.run_reported(&e).await.map(|rep| RunReport::from(&rep)) }).await
    }

    /// A cluster (or a hook beside it) reports the manifest commit it runs.
    #[napi(ts_return_type = "Promise<ClusterSync>")]
    pub async fn cluster_synced(
        &self,
        cluster: String,
        commit: String,
        reporter: Option<String>,
    ) -> napi::Result<Settled<ClusterSync>> {
        let r = self.inner.clone();
        settle(async move {
            r.cluster_synced(&cluster, &commit, reporter.as_deref())
                .await
                .map(|c| ClusterSync::from(&c))
        })
        .await
    }
}

/// GitHub or GitHub Enterprise Server.
#[napi(object)]
#[derive(Clone)]
pub struct GitHubOptions {
    /// A token that can read the repositories.
    pub token: Option<String>,
    /// `https://api.github.com` by default; for Enterprise `https://HOST` or
    /// `https://HOST/api/v3`.
    pub api_url: Option<String>,
    /// What a bare recorded run id names: `run` (a workflow run, the default) or `job`.
    #[napi(ts_type = "'run' | 'job'")]
    pub ids: Option<String>,
}

/// One Azure DevOps project and the Azure Repos of its organisation.
#[napi(object)]
#[derive(Clone)]
pub struct AzureDevOpsOptions {
    /// The organisation (or Server collection).
    pub org: String,
    /// The project.
    pub project: String,
    /// A personal access token.
    pub token: Option<String>,
    /// Where the organisation lives: `https://dev.azure.com` by default, or a Server's URL
    /// above its collections (`https://tfs.example.com/tfs`).
    pub url: Option<String>,
}

fn azdo_settings(o: AzureDevOpsOptions) -> AzureDevOpsSettings {
    AzureDevOpsSettings {
        org: Some(o.org),
        project: Some(o.project),
        token: o.token,
        url: o.url,
    }
}

fn github_settings(o: GitHubOptions) -> Result<GitHubSettings> {
    let ids = o.ids.as_deref().unwrap_or("run");
    Ok(GitHubSettings {
        api_url: o.api_url,
        token: o.token,
        bare_ids: config::id_kind_setting("ids", ids).map_err(to_js)?,
    })
}

/// An Azure DevOps project, to check its settings and token before tracking.
#[napi]
pub struct AzureDevOps {
    inner: Arc<spektate::azdo::AzureDevOps>,
}

#[napi]
impl AzureDevOps {
    /// The project `options` name; a malformed URL or a missing project throws `ConfigError`.
    #[napi(constructor)]
    pub fn new(options: AzureDevOpsOptions) -> Result<Self> {
        let settings = azdo_settings(options);
        let pipelines = sync(|| settings.pipelines(&NAMES))?
            .ok_or_else(|| invalid("org", "an organisation and a project are needed"))?;
        sync(|| settings.repos(&NAMES))?;
        Ok(AzureDevOps {
            inner: Arc::new(pipelines),
        })
    }

    /// The organisation (collection) URL.
    #[napi(getter)]
    pub fn org_url(&self) -> String {
        self.inner.org_url().to_string()
    }

    /// The project.
    #[napi(getter)]
    pub fn project(&self) -> String {
        self.inner.project().to_string()
    }

    /// The project's name, once the project is found and the token accepted (a rejected
    /// token rejects with code `AuthError`).
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn check(&self) -> napi::Result<Settled<String>> {
        let p = self.inner.clone();
        settle(async move { p.check().await }).await
    }
}

/// Options of a `Tracker`.
#[napi(object)]
pub struct TrackerOptions {
    /// The partition (project); `default` by default.
    pub partition: Option<String>,
    /// Azure DevOps, asked first for runs.
    #[napi(js_name = "azureDevOps")]
    pub azure_devops: Option<AzureDevOpsOptions>,
    /// GitHub.
    pub github: Option<GitHubOptions>,
    /// The source repository, for records that name none.
    pub source_repo: Option<String>,
    /// The HLD repository, for records that name none.
    pub hld_repo: Option<String>,
    /// The manifest repository whose `flux-<cluster>` tags tell which cluster runs what.
    pub manifest_repo: Option<String>,
}

/// Which deployments to show; every given criterion must hold.
#[napi(object)]
pub struct Filter {
    /// Service, by shown name or stored name.
    pub service: Option<String>,
    /// Ring (environment).
    pub ring: Option<String>,
    /// Author name, e-mail or login; a part matches.
    pub author: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// A run id: p1, p2 or p3.
    pub run_id: Option<String>,
    /// A commit: source, HLD or manifest; a prefix of 7 or more characters matches.
    pub commit: Option<String>,
    /// The deployment id.
    pub deployment_id: Option<String>,
    /// Deployment or manual HLD edit.
    #[napi(ts_type = "'deployment' | 'manualHldEdit'")]
    pub kind: Option<String>,
    /// Overall status.
    #[napi(ts_type = "'complete' | 'inProgress' | 'failed' | 'canceled' | 'incomplete'")]
    pub status: Option<String>,
    /// A word found in any shown field.
    pub keyword: Option<String>,
    /// At most this many, newest first.
    pub top: Option<i64>,
}

/// A library enum from its JSON word, or a `ConfigError` listing the accepted words.
fn parse_word<E: serde::de::DeserializeOwned>(
    field: &str,
    value: Option<String>,
) -> Result<Option<E>> {
    value
        .map(|w| {
            serde_json::from_value(serde_json::Value::String(w.clone())).map_err(|e| {
                let reason = e.to_string();
                let reason = reason.split(" at line ").next().unwrap_or_default();
                invalid(field, format!("'{w}': {reason}"))
            })
        })
        .transpose()
}

fn core_filter(filter: Option<Filter>) -> Result<CoreFilter> {
    let Some(f) = filter else {
        return Ok(CoreFilter::default());
    };
    Ok(CoreFilter {
        service: f.service,
        ring: f.ring,
        author: f.author,
        image_tag: f.image_tag,
        run_id: f.run_id,
        commit: f.commit,
        deployment_id: f.deployment_id,
        kind: parse_word::<DeploymentKind>("kind", f.kind)?,
        status: parse_word::<Status>("status", f.status)?,
        keyword: f.keyword,
        top: config::top_setting(NAMES.top, f.top).map_err(to_js)?,
    })
}

/// Joins a store's records with what providers know into deployments, and keeps them fresh.
#[napi]
pub struct Tracker {
    inner: CoreTracker,
}

#[napi]
impl Tracker {
    /// A tracker over `store` (a `Store`, or a spec or path that must exist), reading runs
    /// from the providers given (Azure DevOps first, then GitHub) and from the run reports
    /// in the store.
    #[napi(constructor)]
    pub fn new(
        store: Either<ClassInstance<'_, Store>, String>,
        options: Option<TrackerOptions>,
    ) -> Result<Self> {
        let store = store_arg(store, Access::Read)?;
        let o = options.unwrap_or(TrackerOptions {
            partition: None,
            azure_devops: None,
            github: None,
            source_repo: None,
            hld_repo: None,
            manifest_repo: None,
        });
        let settings = ProviderSettings {
            azure_devops: o.azure_devops.map(azdo_settings).unwrap_or_default(),
            github: o.github.map(github_settings).transpose()?,
            source_repo: o.source_repo,
            hld_repo: o.hld_repo,
            manifest_repo: o.manifest_repo,
        };
        let providers = sync(|| settings.build(&NAMES))?;
        let partition = o.partition.unwrap_or_else(|| "default".to_string());
        Ok(Tracker {
            inner: providers.tracker(store, partition).build(),
        })
    }

    /// The partition tracked.
    #[napi(getter)]
    pub fn partition(&self) -> String {
        self.inner.partition().to_string()
    }

    /// The deployments that pass `filter`, newest first. The first call refreshes; later
    /// calls answer from the last refresh (call `refresh()` to pick up what changed).
    #[napi(ts_return_type = "Promise<Array<Deployment>>")]
    pub async fn deployments(
        &self,
        filter: Option<Filter>,
    ) -> napi::Result<Settled<Vec<Deployment>>> {
        let f = match core_filter(filter) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let t = self.inner.clone();
        settle(async move {
            Ok(t.deployments(&f)
                .await?
                .iter()
                .map(Deployment::from)
                .collect())
        })
        .await
    }

    /// The deployments that pass `filter` as the text table `spektate get` prints for
    /// them (`wide`: `-o wide`); just the header when there are none.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn table(
        &self,
        filter: Option<Filter>,
        wide: Option<bool>,
    ) -> napi::Result<Settled<String>> {
        let f = match core_filter(filter) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let t = self.inner.clone();
        let wide = wide.unwrap_or(false);
        settle(async move { Ok(render::table(&t.deployments(&f).await?, wide, Utc::now())) }).await
    }

    /// Reads what changed in the store and re-fetches only what can still change.
    #[napi(ts_return_type = "Promise<RefreshStats>")]
    pub async fn refresh(&self) -> napi::Result<Settled<RefreshStats>> {
        let t = self.inner.clone();
        settle(async move { t.refresh().await.map(RefreshStats::from) }).await
    }

    /// Deletes the records whose runs the CI says are gone; resolves to how many.
    #[napi(ts_return_type = "Promise<number>")]
    pub async fn prune_expired(&self) -> napi::Result<Settled<u32>> {
        let t = self.inner.clone();
        settle(async move {
            t.prune_expired()
                .await
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        })
        .await
    }
}
