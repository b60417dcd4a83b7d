//! The JSON API: `/api/deployments` and `/api/health`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, OriginalUri, RawQuery, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use spektate_core::{Deployment, DeploymentKind, Filter, RepoRef, Snapshot, Status};

use crate::Error;
use crate::auth::{Grant, Principal};
use crate::partitions::Partitions;
use crate::refresh;
use crate::routes::{Access, Routes};

/// How many deployments `/api/deployments` returns when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 200;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 10_000;

/// The query parameters of `/api/deployments`: the filters of `spektate get`, plus `limit`.
///
/// | parameter | also accepted as | meaning |
/// |---|---|---|
/// | `service` | | service, shown (`frontend`) or stored (`fabrikam/frontend`) name |
/// | `ring` | `env` | ring (environment) |
/// | `author` | | author name, e-mail or login; a part matches, or in double quotes (`"Al"`) only the whole |
/// | `imageTag` | `image-tag` | image tag |
/// | `runId` | `build-id`, `buildId` | a p1, p2 or p3 run id |
/// | `commit` | `commit-id`, `commitId` | a source, HLD or manifest commit (7+ character prefix) |
/// | `deploymentId` | `deployment-id` | the deployment id |
/// | `kind` | `type` | `deployment` or `manual-hld-edit` |
/// | `status` | | `complete`, `in-progress`, `failed`, `canceled` or `incomplete` |
/// | `keyword` | | a word in any shown field |
/// | `top` | | only the newest N that match |
/// | `includeExpired` | `include-expired` | `true`: also deployments whose runs the CI no longer has (`"expired": true`); default `false` |
/// | `limit` | | return at most N (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]); `total` still counts every match |
/// | `sort` | | `service`, `ring`, `author`, `mergedBy` or `lastUpdated`: the order of the matches (default: newest first) |
/// | `order` | | `asc` (default) or `desc`, for `sort` |
/// | `partition` | | which partition, on a server of several (default: the first) |
///
/// `service`, `ring`, `author` and `kind` may be repeated (`service=frontend&service=backend`,
/// as the original dashboard's links repeat them): a deployment then passes when it matches
/// any of the values, at most [`MAX_VALUES`] each. An empty value means "no filter". An
/// unknown parameter, another parameter given twice or a value that does not parse is an
/// error naming the parameter and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentQuery {
    /// The filter.
    pub filter: Filter,
    /// Alternatives from repeated parameters: a deployment must pass at least one filter of
    /// each group (one group per parameter given more than once).
    pub any_of: Vec<Vec<Filter>>,
    /// The order asked for; none: newest first.
    pub sort: Option<Sort>,
    /// At most this many are returned.
    pub limit: usize,
    /// The partition asked for; none: the server's default.
    pub partition: Option<String>,
}

impl Default for DeploymentQuery {
    fn default() -> Self {
        DeploymentQuery {
            filter: Filter::default(),
            any_of: Vec::new(),
            sort: None,
            limit: DEFAULT_LIMIT,
            partition: None,
        }
    }
}

/// The most values a repeated parameter may have.
pub const MAX_VALUES: usize = 50;

/// A column `/api/deployments` sorts by (`sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortColumn {
    /// The service's shown name.
    Service,
    /// The ring.
    Ring,
    /// The author's name.
    Author,
    /// The name of whoever merged the approval pull request.
    MergedBy,
    /// When the journey last moved.
    LastUpdated,
}

impl SortColumn {
    /// Parses a column word in any spelling (`mergedBy`, `merged-by`), or says which are accepted.
    pub fn parse(word: &str) -> Result<Self, Error> {
        let folded: String = word
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Ok(match folded.as_str() {
            "service" => SortColumn::Service,
            "ring" | "env" => SortColumn::Ring,
            "author" => SortColumn::Author,
            "mergedby" => SortColumn::MergedBy,
            "lastupdated" | "updated" => SortColumn::LastUpdated,
            _ => {
                return Err(Error::invalid(
                    "sort",
                    format!("'{word}' is not one of service, ring, author, mergedBy, lastUpdated"),
                ));
            }
        })
    }
}

/// The order of `/api/deployments`: a column, ascending or descending. Deployments without
/// a value in the column come last either way; ties keep the newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The column.
    pub column: SortColumn,
    /// Z to A, or newest first for `lastUpdated`.
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Param {
    Service,
    Ring,
    Author,
    ImageTag,
    RunId,
    Commit,
    DeploymentId,
    Kind,
    Status,
    Keyword,
    Top,
    IncludeExpired,
    Limit,
    Sort,
    Order,
    Partition,
}

const ACCEPTED: &str = "service, ring, author, imageTag, runId, commit, deploymentId, kind, status, keyword, top, includeExpired, limit, sort, order, partition";

impl Param {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "service" => Param::Service,
            "ring" | "env" => Param::Ring,
            "author" => Param::Author,
            "imageTag" | "image-tag" => Param::ImageTag,
            "runId" | "build-id" | "buildId" => Param::RunId,
            "commit" | "commit-id" | "commitId" => Param::Commit,
            "deploymentId" | "deployment-id" => Param::DeploymentId,
            "kind" | "type" => Param::Kind,
            "status" => Param::Status,
            "keyword" => Param::Keyword,
            "top" => Param::Top,
            "includeExpired" | "include-expired" => Param::IncludeExpired,
            "limit" => Param::Limit,
            "sort" => Param::Sort,
            "order" => Param::Order,
            "partition" => Param::Partition,
            _ => return None,
        })
    }

    /// Whether the parameter may be repeated, each value an alternative.
    fn repeats(self) -> bool {
        matches!(
            self,
            Param::Service | Param::Ring | Param::Author | Param::Kind
        )
    }
}

/// A core parse error as the dashboard's, named by the query parameter the user wrote.
fn invalid_param(param: &str, e: spektate_core::Error) -> Error {
    let reason = match e {
        spektate_core::Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    };
    Error::invalid(param, reason)
}

fn count(name: &str, value: &str, max: usize) -> Result<usize, Error> {
    match value.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::invalid(
            name,
            format!("'{value}' is not a whole number from 1 to {max}"),
        )),
    }
}

impl DeploymentQuery {
    /// Parses a raw query string (without the `?`).
    ///
    /// ```
    /// use spektate_dashboard::DeploymentQuery;
    /// let q = DeploymentQuery::parse(Some("service=frontend&type=manual-hld-edit&limit=20")).unwrap();
    /// assert_eq!(q.filter.service.as_deref(), Some("frontend"));
    /// assert_eq!(q.limit, 20);
    /// let e = DeploymentQuery::parse(Some("limit=lots")).unwrap_err().to_string();
    /// assert_eq!(e, "invalid limit: 'lots' is not a whole number from 1 to 10000");
    /// ```
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        let mut q = DeploymentQuery::default();
        let mut seen: HashMap<Param, (String, String)> = HashMap::new();
        let mut repeated: Vec<(Param, Vec<Filter>)> = Vec::new();
        let mut order: Option<bool> = None;
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let Some(param) = Param::from_name(&name) else {
                return Err(Error::invalid(
                    "query parameter",
                    format!("'{name}' is not one of {ACCEPTED}"),
                ));
            };
            let value = value.trim().to_string();
            if param.repeats() {
                if !value.is_empty() {
                    let one = one_value(param, &name, value)?;
                    match repeated.iter_mut().find(|(p, _)| *p == param) {
                        Some((_, values)) if values.len() >= MAX_VALUES => {
                            return Err(Error::invalid(
                                name.as_ref(),
                                format!("is given more than {MAX_VALUES} times"),
                            ));
                        }
                        Some((_, values)) => values.push(one),
                        None => repeated.push((param, vec![one])),
                    }
                }
                continue;
            }
            if let Some((first_name, first)) = seen.get(&param) {
                return Err(Error::invalid(
                    name.as_ref(),
                    format!(
                        "is given twice ('{first_name}={first}' and '{name}={value}'); give it once"
                    ),
                ));
            }
            seen.insert(param, (name.to_string(), value.clone()));
            if value.is_empty() {
                continue;
            }
            let f = &mut q.filter;
            match param {
                Param::Service | Param::Ring | Param::Author | Param::Kind => {}
                Param::ImageTag => f.image_tag = Some(value),
                Param::RunId => f.run_id = Some(value),
                Param::Commit => f.commit = Some(value),
                Param::DeploymentId => f.deployment_id = Some(value),
                Param::Keyword => f.keyword = Some(value),
                Param::Status => {
                    f.status = Some(Status::parse(&value).map_err(|e| invalid_param("status", e))?)
                }
                Param::Top => f.top = Some(count("top", &value, usize::MAX)?),
                Param::IncludeExpired => {
                    f.include_expired = match value.to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => {
                            return Err(Error::invalid(
                                name.as_ref(),
                                format!("'{value}' is not one of true, false"),
                            ));
                        }
                    }
                }
                Param::Limit => q.limit = count("limit", &value, MAX_LIMIT)?,
                Param::Sort => {
                    q.sort = Some(Sort {
                        column: SortColumn::parse(&value)?,
                        descending: false,
                    })
                }
                Param::Order => {
                    order = Some(match value.to_ascii_lowercase().as_str() {
                        "asc" | "ascending" => false,
                        "desc" | "descending" => true,
                        _ => {
                            return Err(Error::invalid(
                                "order",
                                format!("'{value}' is not one of asc, desc"),
                            ));
                        }
                    })
                }
                Param::Partition => q.partition = Some(value),
            }
        }
        if let Some(descending) = order {
            let Some(sort) = q.sort.as_mut() else {
                return Err(Error::invalid(
                    "order",
                    "needs sort (the column to order by)",
                ));
            };
            sort.descending = descending;
        }
        for (_, mut values) in repeated {
            if values.len() == 1 {
                let one = values.remove(0);
                let f = &mut q.filter;
                f.service = f.service.take().or(one.service);
                f.ring = f.ring.take().or(one.ring);
                f.author = f.author.take().or(one.author);
                f.kind = f.kind.or(one.kind);
            } else {
                q.any_of.push(values);
            }
        }
        // An alternative admits what the filter admits: expired deployments when asked.
        for f in q.any_of.iter_mut().flatten() {
            f.include_expired = q.filter.include_expired;
        }
        Ok(q)
    }

    /// Whether `d` passes the filter and one alternative of each repeated parameter.
    pub fn matches(&self, d: &Deployment) -> bool {
        self.filter.matches(d)
            && self
                .any_of
                .iter()
                .all(|group| group.iter().any(|f| f.matches(d)))
    }
}

/// The filter of one value of a repeatable parameter.
fn one_value(param: Param, name: &str, value: String) -> Result<Filter, Error> {
    let mut f = Filter::default();
    match param {
        Param::Service => f.service = Some(value),
        Param::Ring => f.ring = Some(value),
        Param::Author => f.author = Some(value),
        Param::Kind => {
            f.kind = Some(DeploymentKind::parse(&value).map_err(|e| invalid_param(name, e))?)
        }
        _ => unreachable!("only repeatable parameters have alternatives"),
    }
    Ok(f)
}

/// The text a deployment sorts by in `column`, lower-cased; `None` sorts last.
fn sort_text(d: &Deployment, column: SortColumn) -> Option<String> {
    let text = match column {
        SortColumn::Service => d.service(),
        SortColumn::Ring => d.ring(),
        SortColumn::Author => d.author.as_ref().map(|a| a.name.as_str()),
        SortColumn::MergedBy => d
            .pull_request
            .as_ref()
            .and_then(|p| p.merged_by.as_ref())
            .map(|a| a.name.as_str()),
        SortColumn::LastUpdated => return None,
    };
    text.filter(|t| !t.trim().is_empty()).map(str::to_lowercase)
}

/// Sorts `matching` (newest first) by `sort`, stably: ties keep the newest first, and
/// deployments without a value come last.
fn sort_deployments(matching: &mut Vec<&Deployment>, sort: Sort) {
    use std::cmp::Ordering;
    let directed = |o: Ordering| if sort.descending { o.reverse() } else { o };
    if sort.column == SortColumn::LastUpdated {
        matching.sort_by(|a, b| directed(a.last_updated.cmp(&b.last_updated)));
        return;
    }
    let mut keyed: Vec<(Option<String>, &Deployment)> = matching
        .iter()
        .map(|d| (sort_text(d, sort.column), *d))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => directed(a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    *matching = keyed.into_iter().map(|(_, d)| d).collect();
}

/// The state a row shows, with its icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// A run is queued or running.
    InProgress,
    /// The manifests are pushed: ready to deploy, or deployed.
    Succeeded,
    /// A run failed.
    Failed,
    /// A run was canceled.
    Canceled,
    /// The approval pull request is open.
    WaitingForApproval,
    /// Nothing runs and nothing failed, but the manifests are not there yet.
    Incomplete,
}

/// The state a row of `d` shows.
pub fn state(d: &Deployment) -> State {
    match d.status {
        Status::Failed => State::Failed,
        Status::Canceled => State::Canceled,
        Status::InProgress => State::InProgress,
        Status::Complete => State::Succeeded,
        Status::Incomplete if d.awaiting_approval() => State::WaitingForApproval,
        Status::Incomplete => State::Incomplete,
    }
}

/// The web pages a row links to; only `http` and `https` URLs are given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    /// The image pipeline run (p1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_run: Option<String>,
    /// The metadata pipeline run (p2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_run: Option<String>,
    /// The manifest pipeline run (p3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_run: Option<String>,
    /// The source commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The HLD commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hld_commit: Option<String>,
    /// The manifest commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_commit: Option<String>,
    /// The approval pull request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// The author's profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The profile of whoever merged the pull request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    /// The source repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repo: Option<String>,
    /// The manifest repository's tags, where Flux's `flux-<cluster>` sync tags name the
    /// commit each cluster runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_tags: Option<String>,
    /// For a multi-stage run that did not succeed: the image step's stage (stage 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_stage: Option<String>,
    /// For a multi-stage run that did not succeed: the metadata step's stage (stage 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_stage: Option<String>,
}

/// `url` if it is an absolute `http` or `https` URL with nothing a browser would re-read
/// (no whitespace or control characters); `None` for anything else, such as `javascript:`.
fn web(url: impl AsRef<str>) -> Option<String> {
    let url = url.as_ref();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let http = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\');
    (http && clean && url.len() > "http://".len()).then(|| url.to_string())
}

/// The links of a row of `d`.
pub fn links(d: &Deployment) -> Links {
    let run = |step: &Option<spektate_core::Step>| {
        step.as_ref()
            .and_then(|s| s.run.as_ref())
            .and_then(|r| r.url.as_deref())
            .and_then(web)
    };
    let stage = |step: &Option<spektate_core::Step>| {
        step.as_ref()
            .and_then(|s| s.stage.as_deref())
            .and_then(|s| s.url.as_deref())
            .and_then(web)
    };
    let image_repo = || {
        d.image
            .as_ref()
            .and_then(|s| s.run.as_ref())
            .and_then(|r| r.repository.clone())
    };
    let source_repo: Option<RepoRef> = d
        .source_repo
        .as_ref()
        .map(|r| RepoRef::clone(r))
        .or_else(image_repo);
    let pr_url = d
        .pull_request
        .as_ref()
        .and_then(|p| p.url.as_deref())
        .and_then(web)
        .or_else(|| {
            let (repo, id) = (d.hld_repo.as_ref()?, d.pr()?);
            web(repo.pull_request_url(id))
        });
    Links {
        image_run: run(&d.image),
        metadata_run: run(&d.metadata),
        manifest_run: run(&d.manifest),
        commit: source_repo
            .as_ref()
            .zip(d.commit_id())
            .and_then(|(r, c)| web(r.commit_url(c))),
        hld_commit: d
            .hld_repo
            .as_ref()
            .zip(d.hld_commit_id())
            .and_then(|(r, c)| web(r.commit_url(c))),
        manifest_commit: d
            .manifest_repo
            .as_ref()
            .zip(d.manifest_commit_id())
            .and_then(|(r, c)| web(r.commit_url(c))),
        pull_request: pr_url,
        author: d
            .author
            .as_ref()
            .and_then(|a| a.url.as_deref())
            .and_then(web),
        merged_by: d
            .pull_request
            .as_ref()
            .and_then(|p| p.merged_by.as_ref())
            .and_then(|a| a.url.as_deref())
            .and_then(web),
        source_repo: source_repo.and_then(|r| web(r.web_url())),
        manifest_tags: d.manifest_repo.as_ref().and_then(|r| web(r.tags_url())),
        image_stage: stage(&d.image),
        metadata_stage: stage(&d.metadata),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    #[serde(flatten)]
    deployment: &'a Deployment,
    state: State,
    links: Links,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    in_progress: usize,
    succeeded: usize,
    failed: usize,
    canceled: usize,
    waiting_for_approval: usize,
    incomplete: usize,
    synced: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentsBody<'a> {
    partition: &'a str,
    /// The partitions the server serves that this viewer may read, the default first.
    partitions: &'a [String],
    version: &'static str,
    /// The server's clock, so the page can tell "5 minutes ago" whatever its own clock says.
    now: DateTime<Utc>,
    refreshed_at: Option<DateTime<Utc>>,
    refresh_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_error: Option<String>,
    /// Who is looking, when the server asks viewers to sign in.
    #[serde(skip_serializing_if = "Option::is_none")]
    viewer: Option<String>,
    total: usize,
    limit: usize,
    summary: Summary,
    /// What the filters can pick: every service, ring and author of the partition.
    options: Options<'a>,
    deployments: Vec<Row<'a>>,
}

/// The most values of each kind in `options`.
const MAX_OPTIONS: usize = 1000;

/// The distinct services, rings and authors of every deployment of the partition (not only
/// those that match), sorted, at most [`MAX_OPTIONS`] each.
#[derive(Default, Serialize)]
struct Options<'a> {
    services: Vec<&'a str>,
    rings: Vec<&'a str>,
    authors: Vec<&'a str>,
}

impl<'a> Options<'a> {
    fn of(deployments: &'a [Deployment]) -> Self {
        use std::collections::BTreeSet;
        let (mut services, mut rings, mut authors) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for d in deployments {
            services.extend(d.service());
            rings.extend(d.ring());
            authors.extend(d.author.as_ref().map(|a| a.name.as_str()));
        }
        let first = |set: BTreeSet<&'a str>| {
            set.into_iter()
                .filter(|v| !v.trim().is_empty())
                .take(MAX_OPTIONS)
                .collect()
        };
        Options {
            services: first(services),
            rings: first(rings),
            authors: first(authors),
        }
    }
}

/// The read API's error answer: `field` and `value` name the input refused, left out when none.
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<&'a str>,
}

impl ErrorBody<'_> {
    /// The body as a JSON response with `status`.
    pub(crate) fn respond(&self, status: StatusCode) -> Response {
        json(status, self)
    }
}

/// Adds the read API's routes.
pub(crate) fn routes(routes: Routes, partitions: &Arc<Partitions>) -> Routes {
    routes.get(
        "/api/deployments",
        Access::Viewer,
        get(deployments).with_state(partitions.clone()),
    )
}

/// Answers every other path under `/api` with a JSON 404.
pub(crate) fn api_fallbacks() -> Router {
    Router::new()
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
}

async fn deployments(
    AxumState(partitions): AxumState<Arc<Partitions>>,
    viewer: Option<Extension<Principal>>,
    grant: Option<Extension<Grant>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let viewer = viewer.map(|Extension(p)| p.0).filter(|v| !v.is_empty());
    let grant = grant.map(|Extension(g)| g).unwrap_or_default();
    let query = match DeploymentQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let shared = match partitions.readable(query.partition.as_deref(), &grant) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let partition = shared.tracker.partition().to_string();
    let readable: Vec<String> = partitions
        .names()
        .into_iter()
        .filter(|p| grant.allows(p))
        .collect();
    refresh::before_read(&shared).await;
    let snapshot = shared.tracker.snapshot();
    let refresh_error = shared.refresh.error();
    if snapshot.refreshed_at.is_none() {
        let message = match &refresh_error {
            Some(e) => format!("the deployments could not be read yet: {e}"),
            None => "the deployments are not read yet; try again in a moment".to_string(),
        };
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            &ErrorBody {
                error: &message,
                field: None,
                value: None,
            },
        );
    }
    // Filtering and encoding thousands of deployments is CPU work: it runs on the blocking
    // pool, a few lists at a time (a turn ends with the job, not with a client that left),
    // so it holds up neither the async workers nor each other.
    let Ok(turn) = shared.listing.clone().acquire_owned().await else {
        return internal_error("the deployments could not be listed: no turn to list them");
    };
    let refresh_seconds = shared.refresh_every().as_secs();
    let listed = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        list(
            &snapshot,
            &query,
            &partition,
            &readable,
            refresh_seconds,
            refresh_error,
            viewer,
        )
    })
    .await;
    match listed {
        Ok(body) => json_bytes(StatusCode::OK, body),
        Err(e) => {
            tracing::error!("listing the deployments failed: {e}");
            internal_error("the deployments could not be listed; the server's log says why")
        }
    }
}

/// The body of `/api/deployments`: the deployments of `snapshot` that `query` asks for.
fn list(
    snapshot: &Snapshot,
    query: &DeploymentQuery,
    partition: &str,
    partitions: &[String],
    refresh_seconds: u64,
    refresh_error: Option<String>,
    viewer: Option<String>,
) -> Vec<u8> {
    let mut summary = Summary::default();
    let mut total = 0;
    let mut rows = Vec::new();
    let mut matching: Vec<&Deployment> = snapshot
        .deployments
        .iter()
        .filter(|d| query.matches(d))
        .take(query.filter.top.unwrap_or(usize::MAX))
        .collect();
    if let Some(sort) = query.sort {
        sort_deployments(&mut matching, sort);
    }
    for d in matching {
        total += 1;
        let state = state(d);
        *match state {
            State::InProgress => &mut summary.in_progress,
            State::Succeeded => &mut summary.succeeded,
            State::Failed => &mut summary.failed,
            State::Canceled => &mut summary.canceled,
            State::WaitingForApproval => &mut summary.waiting_for_approval,
            State::Incomplete => &mut summary.incomplete,
        } += 1;
        summary.synced += usize::from(d.is_synced());
        if rows.len() < query.limit {
            rows.push(Row {
                deployment: d,
                state,
                links: links(d),
            });
        }
    }
    to_json(&DeploymentsBody {
        partition,
        partitions,
        version: env!("CARGO_PKG_VERSION"),
        now: Utc::now(),
        refreshed_at: snapshot.refreshed_at,
        refresh_seconds,
        refresh_error,
        viewer,
        total,
        limit: query.limit,
        summary,
        options: Options::of(&snapshot.deployments),
        deployments: rows,
    })
}

async fn api_not_found(OriginalUri(uri): OriginalUri) -> Response {
    let message = format!(
        "no such API endpoint: {}; /api/openapi.json lists the API",
        uri.path()
    );
    json(
        StatusCode::NOT_FOUND,
        &ErrorBody {
            error: &message,
            field: None,
            value: None,
        },
    )
}

fn error(status: StatusCode, e: &Error) -> Response {
    let field = match e {
        Error::Invalid { field, .. } => Some(field.as_str()),
        _ => None,
    };
    json(
        status,
        &ErrorBody {
            error: &e.to_string(),
            field,
            value: None,
        },
    )
}

/// JSON with `<`, `>`, `&` and the JavaScript line separators escaped as `\uXXXX`, so the
/// body stays inert even if something pastes it into HTML.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, HtmlSafe);
    match value.serialize(&mut ser) {
        Ok(()) => out,
        // Serializing plain data to memory does not fail; say so rather than send half a body.
        Err(e) => serde_json::json!({ "error": format!("the response could not be encoded: {e}") })
            .to_string()
            .into_bytes(),
    }
}

fn internal_error(message: &str) -> Response {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody {
            error: message,
            field: None,
            value: None,
        },
    )
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    json_bytes(status, to_json(value))
}

pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

struct HtmlSafe;

impl serde_json::ser::Formatter for HtmlSafe {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_the_cli_names_too() {
        let q = DeploymentQuery::parse(Some(
            "env=prod&build-id=42&commit-id=a1b2c3d&image-tag=t&deployment-id=x",
        ))
        .unwrap();
        assert_eq!(q.filter.ring.as_deref(), Some("prod"));
        assert_eq!(q.filter.run_id.as_deref(), Some("42"));
        assert_eq!(q.filter.commit.as_deref(), Some("a1b2c3d"));
        assert_eq!(q.filter.image_tag.as_deref(), Some("t"));
        assert_eq!(q.filter.deployment_id.as_deref(), Some("x"));
        let q =
            DeploymentQuery::parse(Some("kind=manualHldEdit&status=in-progress&top=3")).unwrap();
        assert_eq!(q.filter.kind, Some(DeploymentKind::ManualHldEdit));
        assert_eq!(q.filter.status, Some(Status::InProgress));
        assert_eq!(q.filter.top, Some(3));
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn repeated_filters_are_alternatives_and_one_value_is_a_plain_filter() {
        let q = DeploymentQuery::parse(Some(
            "service=frontend&env=dev&service=backend&ring=prod&author=alice&type=manual-hld-edit&type=deployment&sort=mergedBy&order=desc",
        ))
        .unwrap();
        assert_eq!(q.filter.author.as_deref(), Some("alice"));
        assert_eq!(q.filter.service, None);
        let groups: Vec<Vec<String>> = q
            .any_of
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| {
                        f.service
                            .clone()
                            .or(f.ring.clone())
                            .or(f.kind.map(|k| format!("{k:?}")))
                            .unwrap()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            groups,
            [
                vec!["frontend", "backend"],
                vec!["dev", "prod"],
                vec!["ManualHldEdit", "Deployment"]
            ]
        );
        assert_eq!(
            q.sort,
            Some(Sort {
                column: SortColumn::MergedBy,
                descending: true
            })
        );
        let q = DeploymentQuery::parse(Some("service=&service=frontend&type=manual")).unwrap();
        assert_eq!(q.filter.service.as_deref(), Some("frontend"));
        assert_eq!(q.filter.kind, Some(DeploymentKind::ManualHldEdit));
        assert!(q.any_of.is_empty());
        let many = vec!["service=s"; MAX_VALUES + 1].join("&");
        assert_eq!(
            DeploymentQuery::parse(Some(&many)).unwrap_err().to_string(),
            "invalid service: is given more than 50 times"
        );
    }

    #[test]
    fn the_api_document_lists_every_parameter_and_which_repeat() {
        let doc = crate::openapi::document(&crate::auth::ViewerAuth::None, false, false);
        let params = doc["paths"]["/api/deployments"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let documented: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        let accepted: Vec<&str> = ACCEPTED.split(", ").collect();
        assert_eq!(documented, accepted);
        for p in params {
            let name = p["name"].as_str().unwrap();
            let repeats = Param::from_name(name).unwrap().repeats();
            assert_eq!(p["schema"]["type"] == "array", repeats, "{name}");
        }
    }

    #[test]
    fn empty_values_are_no_filter() {
        let q = DeploymentQuery::parse(Some("service=&author=%20&keyword=")).unwrap();
        assert_eq!(q, DeploymentQuery::default());
        assert_eq!(
            DeploymentQuery::parse(None).unwrap(),
            DeploymentQuery::default()
        );
    }

    #[test]
    fn bad_parameters_name_the_parameter_and_the_value() {
        let cases = [
            (
                "limit=0",
                "invalid limit: '0' is not a whole number from 1 to 10000",
            ),
            (
                "limit=10001",
                "invalid limit: '10001' is not a whole number from 1 to 10000",
            ),
            (
                "limit=-1",
                "invalid limit: '-1' is not a whole number from 1 to 10000",
            ),
            (
                "top=many",
                "invalid top: 'many' is not a whole number from 1 to",
            ),
            (
                "type=rocket",
                "invalid type: 'rocket' is not one of deployment, manual-hld-edit",
            ),
            (
                "status=done",
                "invalid status: 'done' is not one of complete, in-progress",
            ),
            (
                "colour=red",
                "invalid query parameter: 'colour' is not one of service, ring",
            ),
            (
                "keyword=a&keyword=b",
                "invalid keyword: is given twice ('keyword=a' and 'keyword=b'); give it once",
            ),
            (
                "sort=colour",
                "invalid sort: 'colour' is not one of service, ring, author, mergedBy, lastUpdated",
            ),
            (
                "order=up&sort=ring",
                "invalid order: 'up' is not one of asc, desc",
            ),
            (
                "order=desc",
                "invalid order: needs sort (the column to order by)",
            ),
            (
                "type=deployment&type=rocket",
                "invalid type: 'rocket' is not one of deployment, manual-hld-edit",
            ),
        ];
        for (raw, want) in cases {
            let got = DeploymentQuery::parse(Some(raw)).unwrap_err().to_string();
            assert!(got.starts_with(want), "{raw}: {got}");
        }
    }

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(
            web("https://ci.example.com/runs/1").as_deref(),
            Some("https://ci.example.com/runs/1")
        );
        assert_eq!(
            web("HTTP://ci.example.com/").as_deref(),
            Some("HTTP://ci.example.com/")
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "https://a b",
            "http://",
            "https:\\\\evil",
        ] {
            assert_eq!(web(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_escapes_markup_and_line_separators() {
        let body = String::from_utf8(to_json(
            &serde_json::json!({"t": "<img src=x onerror=alert(1)> & \u{2028}"}),
        ))
        .unwrap();
        assert_eq!(
            body,
            r#"{"t":"\u003cimg src=x onerror=alert(1)\u003e \u0026 \u2028"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(back["t"], "<img src=x onerror=alert(1)> & \u{2028}");
    }

    /// A deployment whose only run the CI says is gone: expired.
    fn expired(service: &str) -> Deployment {
        let mut record = spektate_core::Record::new("p");
        record.service = Some(service.into());
        record.p1 = Some("41".into());
        let mut k = spektate_core::Knowledge::default();
        k.builds.insert("41".into(), spektate_core::Lookup::Missing);
        spektate_core::correlate::deployment(
            &std::sync::Arc::new(record),
            &k,
            &spektate_core::RepoDefaults::default(),
            chrono::Utc::now(),
        )
    }

    #[test]
    fn expired_deployments_are_listed_only_with_include_expired() {
        let d = expired("frontend");
        assert!(d.expired);
        let hidden = DeploymentQuery::parse(None).unwrap();
        assert!(!hidden.matches(&d), "hidden by default");
        for raw in ["includeExpired=true", "include-expired=1"] {
            let q = DeploymentQuery::parse(Some(raw)).unwrap();
            assert!(q.filter.include_expired, "{raw}");
            assert!(q.matches(&d), "{raw}");
        }
        assert!(
            !DeploymentQuery::parse(Some("includeExpired=false"))
                .unwrap()
                .matches(&d)
        );
        // Repeated parameters' alternatives admit what the filter admits.
        let q =
            DeploymentQuery::parse(Some("service=frontend&service=backend&includeExpired=true"))
                .unwrap();
        assert!(q.matches(&d));
        assert!(!q.matches(&expired("billing")));
        let e = DeploymentQuery::parse(Some("includeExpired=maybe"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid includeExpired: 'maybe' is not one of true, false"
        );
    }
}
