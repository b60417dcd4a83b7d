//! `Tracker`: a store's records joined with what providers know into deployments, and the
//! filter its methods take.

use chrono::{DateTime, Utc};
use napi_derive::napi;
use spektate::config::{Access, ProviderSettings};
use spektate::correlate::placement::{PlacementFilter, placements};
use spektate::{Filter as CoreFilter, Tracker as CoreTracker, render};
use spektate_bindings_common::filter::FilterArgs;
use spektate_bindings_common::metrics::{MetricsArgs, metrics};

use crate::NAMES;
use crate::errors::{Result, Settled, failed, settle, sync, to_js};
use crate::input::{Date, time, whole};
use crate::insights::Metrics;
use crate::objects::{Deployment, Placement, RefreshStats};
use crate::providers::{
    AzureDevOpsOptions, GitHubOptions, GitLabOptions, azdo_settings, github_settings,
    gitlab_settings,
};
use crate::store::{StoreArg, store_arg};

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
    /// GitLab, asked after GitHub.
    pub gitlab: Option<GitLabOptions>,
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
    /// Deployment or manual HLD edit: a `Deployment.kind` word, or `spektate get`'s
    /// `manual-hld-edit`.
    #[napi(ts_type = "'deployment' | 'manualHldEdit' | 'manual-hld-edit'")]
    pub kind: Option<String>,
    /// Overall status: a `Deployment.status` word, `spektate get`'s `in-progress`, or
    /// `succeeded` (the dashboard's word for `complete`).
    #[napi(
        ts_type = "'complete' | 'inProgress' | 'failed' | 'canceled' | 'incomplete' | 'in-progress' | 'succeeded'"
    )]
    pub status: Option<String>,
    /// A word found in any shown field.
    pub keyword: Option<String>,
    /// At most this many, newest first.
    pub top: Option<f64>,
    /// Also the deployments whose runs the CI no longer has (`Deployment.expired`).
    pub include_expired: Option<bool>,
}

impl Filter {
    /// The library's filter, or a `ConfigError` naming the criterion and its value.
    fn into_core(self) -> Result<CoreFilter> {
        FilterArgs {
            service: self.service,
            ring: self.ring,
            author: self.author,
            image_tag: self.image_tag,
            run_id: self.run_id,
            commit: self.commit,
            deployment_id: self.deployment_id,
            kind: self.kind,
            status: self.status,
            keyword: self.keyword,
            top: whole("top", self.top)?,
            include_expired: self.include_expired.unwrap_or(false),
        }
        .into_filter()
        .map_err(to_js)
    }
}

/// The window and breakdown of `Tracker.metrics`, with the criteria of a `Filter` but
/// `includeExpired`: the metrics count the deployments whose runs the CI no longer has.
#[napi(object, object_to_js = false)]
pub struct MetricsOptions {
    /// The window's start; by default the first deployment that finished.
    pub since: Option<Date>,
    /// The window's end; by default now.
    pub until: Option<Date>,
    /// Break the figures down by service, ring or ISO week.
    #[napi(ts_type = "'service' | 'ring' | 'week'")]
    pub by: Option<String>,
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
    /// Deployment or manual HLD edit, as in `Filter`.
    #[napi(ts_type = "'deployment' | 'manualHldEdit' | 'manual-hld-edit'")]
    pub kind: Option<String>,
    /// Overall status, as in `Filter`.
    #[napi(
        ts_type = "'complete' | 'inProgress' | 'failed' | 'canceled' | 'incomplete' | 'in-progress' | 'succeeded'"
    )]
    pub status: Option<String>,
    /// A word found in any shown field.
    pub keyword: Option<String>,
    /// Only the newest this many.
    pub top: Option<f64>,
}

impl MetricsOptions {
    /// The library's filter and metrics options, or a `ConfigError` naming the option.
    fn into_core(
        self,
        now: DateTime<Utc>,
    ) -> Result<(CoreFilter, spektate::insights::MetricsOptions)> {
        let filter = FilterArgs {
            service: self.service,
            ring: self.ring,
            author: self.author,
            image_tag: self.image_tag,
            run_id: self.run_id,
            commit: self.commit,
            deployment_id: self.deployment_id,
            kind: self.kind,
            status: self.status,
            keyword: self.keyword,
            top: whole("top", self.top)?,
            include_expired: true,
        }
        .into_filter()
        .map_err(to_js)?;
        let options = MetricsArgs {
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            by: self.by,
        }
        .into_options(now)
        .map_err(to_js)?;
        Ok((filter, options))
    }
}

/// Which rows `Tracker.status` shows: every criterion given must hold.
#[napi(object)]
pub struct StatusOptions {
    /// Service, by shown name (`frontend`) or stored name (`fabrikam/frontend`).
    pub service: Option<String>,
    /// Ring.
    pub ring: Option<String>,
    /// Only where this image tag is live.
    pub image_tag: Option<String>,
    /// Cluster.
    pub cluster: Option<String>,
}

impl StatusOptions {
    fn into_core(self) -> PlacementFilter {
        PlacementFilter {
            service: self.service,
            ring: self.ring,
            image_tag: self.image_tag,
            cluster: self.cluster,
        }
    }
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
        #[napi(ts_arg_type = "Store | string")] store: StoreArg<'_>,
        options: Option<TrackerOptions>,
    ) -> Result<Self> {
        let store = store_arg(store, Access::Read)?;
        let o = options.unwrap_or(TrackerOptions {
            partition: None,
            azure_devops: None,
            github: None,
            gitlab: None,
            source_repo: None,
            hld_repo: None,
            manifest_repo: None,
        });
        let settings = ProviderSettings {
            azure_devops: o.azure_devops.map(azdo_settings).unwrap_or_default(),
            github: o.github.map(github_settings).transpose()?,
            gitlab: o.gitlab.map(gitlab_settings).transpose()?,
            source_repo: o.source_repo,
            hld_repo: o.hld_repo,
            manifest_repo: o.manifest_repo,
        };
        let providers = sync(|| settings.build(&NAMES))?;
        let partition = o.partition.unwrap_or_else(|| "default".to_string());
        sync(|| spektate::recorder::check_partition(&partition))?;
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
        let f = match filter.map_or(Ok(CoreFilter::default()), Filter::into_core) {
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

    /// Where each service is running, as `spektate status -o json` says: per service, ring
    /// and cluster, the image tag live there, the commit the cluster runs, since when, and
    /// how far behind the newest image of its service and ring it is. `options` pick rows;
    /// newer images still count.
    #[napi(ts_return_type = "Promise<Array<Placement>>")]
    pub async fn status(
        &self,
        options: Option<StatusOptions>,
    ) -> napi::Result<Settled<Vec<Placement>>> {
        let only = options.map(StatusOptions::into_core).unwrap_or_default();
        let t = self.inner.clone();
        // Every deployment: the commit a cluster runs may be another service's.
        settle(async move {
            let all = t.deployments(&CoreFilter::default()).await?;
            Ok(placements(&all, &only)
                .iter()
                .map(Placement::from)
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
        let f = match filter.map_or(Ok(CoreFilter::default()), Filter::into_core) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let t = self.inner.clone();
        let wide = wide.unwrap_or(false);
        settle(async move { Ok(render::table(&t.deployments(&f).await?, wide, Utc::now())) }).await
    }

    /// The DORA metrics of the deployments that pass the criteria of `options`, as `spektate
    /// metrics -o json` computes them: deployments count by the time they finished, from
    /// `since` (by default the first that finished) to `until` (by default now); `by` breaks
    /// them down by service, ring or ISO week. A `by` that is none of these, or an `until` not
    /// after `since`, rejects with a `ConfigError` naming it.
    #[napi(ts_return_type = "Promise<Metrics>")]
    pub async fn metrics(&self, options: Option<MetricsOptions>) -> napi::Result<Settled<Metrics>> {
        let now = Utc::now();
        let (f, o) = match options.map(|o| o.into_core(now)) {
            Some(Ok(both)) => both,
            Some(Err(e)) => return failed(e),
            None => (
                CoreFilter::default(),
                spektate::insights::MetricsOptions {
                    since: None,
                    until: now,
                    by: None,
                },
            ),
        };
        let t = self.inner.clone();
        settle(async move { Ok(Metrics::from(&metrics(&t, &f, o).await?)) }).await
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
