//! The parts of Argo CD's `GET /api/v1/applications` answer that Spektate reads
//! (`v1alpha1ApplicationList` in Argo CD's `assets/swagger.json`); everything else is skipped
//! unread. Every field is optional: an application missing one is read as far as it goes.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use spektate_core::fields::{first_of_optional, last_of_optional};

/// The most sources of one application read (Argo CD sets no limit; a multi-source
/// application has a handful), and of revisions per sync, operation or history entry.
pub const MAX_SOURCES: usize = 64;

/// The most history entries of one application read, the newest (Argo CD keeps 10 by
/// default, `revisionHistoryLimit`).
pub const MAX_HISTORY_ENTRIES: usize = 100;

/// The list: its metadata (compared before anything else is read), then each application,
/// left unparsed so one malformed application costs only itself.
#[derive(Debug, Deserialize)]
pub struct ApplicationList<'a> {
    /// `metadata.resourceVersion` changes whenever any application does.
    #[serde(default)]
    pub metadata: Option<ListMeta>,
    /// `null` when there is no application.
    #[serde(default, borrow)]
    pub items: Option<Vec<&'a RawValue>>,
}

/// `v1ListMeta`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default)]
    pub resource_version: Option<String>,
}

/// `v1alpha1Application`.
#[derive(Debug, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    #[serde(default)]
    pub spec: Option<Spec>,
    #[serde(default)]
    pub status: Option<Status>,
}

/// `v1ObjectMeta`.
#[derive(Debug, Default, Deserialize)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `v1alpha1ApplicationSpec`.
#[derive(Debug, Default, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub destination: Option<Destination>,
    #[serde(default)]
    pub source: Option<Source>,
    /// A multi-source application's sources; `status.sync.revisions` and each history
    /// entry's `revisions` follow their order.
    #[serde(default, deserialize_with = "first_of_optional::<MAX_SOURCES, _, _>")]
    pub sources: Option<Vec<Source>>,
}

/// `v1alpha1ApplicationDestination`: the cluster by name, or by its API server's URL.
#[derive(Debug, Default, Deserialize)]
pub struct Destination {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub server: Option<String>,
}

/// `v1alpha1ApplicationSource`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(default, rename = "repoURL")]
    pub repo_url: Option<String>,
    /// Set for a Helm chart repository: its revisions are chart versions, not commits.
    #[serde(default)]
    pub chart: Option<String>,
}

/// `v1alpha1ApplicationStatus`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub sync: Option<SyncStatus>,
    #[serde(default)]
    pub health: Option<Health>,
    #[serde(default)]
    pub operation_state: Option<OperationState>,
    /// Successful syncs, oldest first, each with an increasing `id`.
    #[serde(
        default,
        deserialize_with = "last_of_optional::<MAX_HISTORY_ENTRIES, _, _>"
    )]
    pub history: Option<Vec<History>>,
}

/// `v1alpha1SyncStatus`: the revision the live state was last compared with.
#[derive(Debug, Default, Deserialize)]
pub struct SyncStatus {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default, deserialize_with = "first_of_optional::<MAX_SOURCES, _, _>")]
    pub revisions: Option<Vec<String>>,
}

/// `v1alpha1AppHealthStatus`.
#[derive(Debug, Default, Deserialize)]
pub struct Health {
    #[serde(default)]
    pub status: Option<String>,
}

/// `v1alpha1OperationState`: the last (or running) operation.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sync_result: Option<SyncResult>,
    #[serde(default)]
    pub operation: Option<Operation>,
}

/// `v1alpha1Operation`: what the operation was asked to do.
#[derive(Debug, Default, Deserialize)]
pub struct Operation {
    #[serde(default)]
    pub sync: Option<SyncOperation>,
}

/// `v1alpha1SyncOperation`: the revision(s) the operation was asked to sync (a commit, or a
/// branch or tag not yet resolved).
#[derive(Debug, Default, Deserialize)]
pub struct SyncOperation {
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default, deserialize_with = "first_of_optional::<MAX_SOURCES, _, _>")]
    pub revisions: Option<Vec<String>>,
}

/// `v1alpha1SyncOperationResult`: the revision(s) the operation synced, once resolved.
#[derive(Debug, Default, Deserialize)]
pub struct SyncResult {
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default, deserialize_with = "first_of_optional::<MAX_SOURCES, _, _>")]
    pub revisions: Option<Vec<String>>,
}

/// `v1alpha1RevisionHistory`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default, deserialize_with = "first_of_optional::<MAX_SOURCES, _, _>")]
    pub revisions: Option<Vec<String>>,
    #[serde(default)]
    pub deployed_at: Option<DateTime<Utc>>,
}
