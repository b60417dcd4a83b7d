//! Where each service is running (docs/ARCHITECTURE.md, Correlation): for each service, ring
//! and cluster, the image tag live there, since when, and how far behind the newest image of
//! that service and ring it is. A pure view over deployments whose `live_in` the join filled
//! (`live.rs::mark`); `spektate status`, `GET /api/status` and the dashboard's status page
//! show it.
//!
//! - **Rows.** One per service, ring and cluster where a deployment of that service and ring
//!   is live. When two deployments of one service and ring are live in one cluster (through
//!   the manifest repository and through an application rendering the HLD repository), the
//!   row shows the one running its own commit, else the newer image.
//! - **Since.** When the cluster applied the commit it runs. When that is the deployment's own
//!   commit, the tag went live then; when it is a later commit (of another service, or a
//!   manual HLD edit), the tag was live there by then at the latest.
//! - **Behind.** The images of the same service sent to the same ring (a metadata step for
//!   it) built after the live one, counted once per tag; an image whose build failed, was
//!   canceled or is still running is no image yet. An image's build time is when its image
//!   step finished (the image stage of a multi-stage run), else when its journey started,
//!   else when it last moved.
//!
//! Manual HLD edits carry no image and are not rows.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::model::deployment::{Deployment, DeploymentKind, StepState};
use crate::model::record::normalize;
use crate::render::{ago, aligned_text, short};

/// Where one image of a service runs: a service, ring and cluster, and the tag live there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The service, as shown (`org/name` shown as `name`); none when no step named it.
    pub service: Option<String>,
    /// The ring (environment).
    pub ring: Option<String>,
    /// The cluster.
    pub cluster: String,
    /// The image tag live in the cluster.
    pub image_tag: Option<String>,
    /// The deployment that brought it (its id).
    pub deployment_id: String,
    /// The commit the cluster runs: the deployment's own, or a later one of the same repository.
    pub commit: String,
    /// Whether `commit` is the deployment's own commit.
    pub exact: bool,
    /// When the cluster applied `commit`: when `exact`, when the tag went live there;
    /// otherwise the tag was live there by then at the latest. None when the agent said no time.
    pub since: Option<DateTime<Utc>>,
    /// When the image was built.
    pub built_at: Option<DateTime<Utc>>,
    /// How far behind the newest image of its service and ring it is.
    pub behind: Behind,
}

/// How far an image lags behind the newest image of its service and ring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Behind {
    /// Images of the same service sent to the same ring and built later (distinct tags);
    /// 0 when the live image is the newest.
    pub images: usize,
    /// The newest of them.
    pub newest_tag: Option<String>,
    /// The deployment of the newest.
    pub newest_deployment_id: Option<String>,
    /// When the newest was built: the cluster has lagged since then.
    pub newest_built_at: Option<DateTime<Utc>>,
}

impl Placement {
    /// Whether the cluster runs the newest image of the service and ring.
    pub fn is_current(&self) -> bool {
        self.behind.images == 0
    }
}

/// Which rows to show: every given criterion must hold; text compares case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlacementFilter {
    /// Service, by shown name (`frontend`) or stored name (`fabrikam/frontend`).
    pub service: Option<String>,
    /// Ring.
    pub ring: Option<String>,
    /// The image tag live.
    pub image_tag: Option<String>,
    /// Cluster.
    pub cluster: Option<String>,
}

impl PlacementFilter {
    /// Whether `d` is of the service and ring asked for. Applied here, over every
    /// deployment, never pushed down to a tracker: a cluster's place in a repository is set by
    /// whichever record names the commit it runs, of any service or ring.
    fn admits(&self, d: &Deployment) -> bool {
        Filter {
            service: self.service.clone(),
            ring: self.ring.clone(),
            ..Filter::default()
        }
        .admits_record(&d.record)
    }

    fn admits_row(&self, tag: Option<&str>, cluster: &str) -> bool {
        let tag_ok = match self.image_tag.as_deref().and_then(normalize) {
            None => true,
            Some(want) => tag.is_some_and(|t| t.eq_ignore_ascii_case(&want)),
        };
        let cluster_ok = match self.cluster.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(want) => cluster.eq_ignore_ascii_case(want),
        };
        tag_ok && cluster_ok
    }
}

/// When the image of `d` was built: its image step's (or image stage's) finish, else its
/// run's last activity; none when no run is known.
pub fn built_at(d: &Deployment) -> Option<DateTime<Utc>> {
    let run = d.image.as_ref()?.run.as_ref()?;
    let stage = d
        .multi_stage
        .then(|| run.stages.iter().find(|s| s.order == 1))
        .flatten()
        .and_then(|s| s.finished_at);
    stage.or(run.finished_at).or_else(|| run.last_activity())
}

/// An image's place among the images of its service and ring: its build time (else when
/// its journey started, else last moved), then the store's order of its record.
type Age = (DateTime<Utc>, Option<i64>, Option<DateTime<Utc>>);

fn age(d: &Deployment) -> Age {
    let at = built_at(d).or(d.started_at).unwrap_or(d.last_updated);
    (at, d.record.sequence, d.record.timestamp)
}

/// Whether the image of `d` exists: its build did not fail, was not canceled, and is not
/// still running (an image recorded with no known run, or only by p2, counts).
fn image_exists(d: &Deployment) -> bool {
    d.image.as_ref().is_none_or(|s| {
        matches!(
            s.state,
            StepState::Succeeded | StepState::Unknown | StepState::Expired
        )
    })
}

/// Service and ring as stored: the group of images a row is compared with.
type Group<'d> = (Option<&'d str>, Option<&'d str>);

fn group(d: &Deployment) -> Group<'_> {
    (d.record.service.as_deref(), d.record.env.as_deref())
}

/// The rows of `deployments` that `only` admits, sorted by service, ring and cluster.
pub fn placements(deployments: &[Deployment], only: &PlacementFilter) -> Vec<Placement> {
    let images = |d: &&Deployment| d.kind == DeploymentKind::Deployment && d.image_tag().is_some();
    let mut groups: HashMap<Group, Vec<(Age, &Deployment)>> = HashMap::new();
    for d in deployments.iter().filter(images).filter(|d| only.admits(d)) {
        if image_exists(d) || d.is_live() {
            groups.entry(group(d)).or_default().push((age(d), d));
        }
    }
    // Per row, the deployment shown: its own commit first, then the newer image.
    let mut rows: BTreeMap<(Group, &str), (bool, Age, &Deployment, usize)> = BTreeMap::new();
    for entries in groups.values() {
        for &(age, d) in entries {
            for (i, live) in d.live_in.iter().enumerate() {
                if !only.admits_row(d.image_tag(), &live.cluster) {
                    continue;
                }
                let candidate = (live.exact, age, d, i);
                rows.entry((group(d), live.cluster.as_str()))
                    .and_modify(|best| {
                        if (candidate.0, candidate.1) > (best.0, best.1) {
                            *best = candidate;
                        }
                    })
                    .or_insert(candidate);
            }
        }
    }
    let mut out: Vec<Placement> = rows
        .into_values()
        .map(|(_, age, d, i)| {
            let live = &d.live_in[i];
            Placement {
                service: d.service().map(str::to_string),
                ring: d.ring().map(str::to_string),
                cluster: live.cluster.clone(),
                image_tag: d.image_tag().map(str::to_string),
                deployment_id: d.id().to_string(),
                commit: live.commit.clone(),
                exact: live.exact,
                since: live.applied_at,
                built_at: built_at(d),
                behind: behind(d, age, &groups[&group(d)]),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.service.is_none(), &a.service, &a.ring, &a.cluster).cmp(&(
            b.service.is_none(),
            &b.service,
            &b.ring,
            &b.cluster,
        ))
    });
    out
}

/// The images of `images` (one service and ring) built after `live`'s.
fn behind(live: &Deployment, live_age: Age, images: &[(Age, &Deployment)]) -> Behind {
    let tag = live.image_tag();
    let mut newer: HashMap<&str, (Age, &Deployment)> = HashMap::new();
    for &(age, d) in images {
        let Some(other) = d.image_tag() else { continue };
        if Some(other) == tag || age <= live_age || !image_exists(d) {
            continue;
        }
        let slot = newer.entry(other).or_insert((age, d));
        if age > slot.0 {
            *slot = (age, d);
        }
    }
    let newest = newer.values().max_by_key(|(age, _)| *age).map(|&(_, d)| d);
    Behind {
        images: newer.len(),
        newest_tag: newest.and_then(|d| d.image_tag()).map(str::to_string),
        newest_deployment_id: newest.map(|d| d.id().to_string()),
        newest_built_at: newest.and_then(|d| built_at(d).or(d.started_at)),
    }
}

/// Columns of the text table.
pub const COLUMNS: [&str; 7] = [
    "Service",
    "Ring",
    "Cluster",
    "Image Tag",
    "Commit",
    "Since",
    "Behind",
];

/// The cells of one row, times shown relative to `now`.
pub fn row(p: &Placement, now: DateTime<Utc>) -> Vec<String> {
    let dash = || "-".to_string();
    let commit = if p.exact {
        short(&p.commit).to_string()
    } else {
        format!("{} (later)", short(&p.commit))
    };
    let since = match p.since {
        Some(t) if p.exact => ago(t, now),
        Some(t) => format!("{} or earlier", ago(t, now)),
        None => dash(),
    };
    vec![
        p.service.clone().unwrap_or_else(dash),
        p.ring.clone().unwrap_or_else(dash),
        p.cluster.clone(),
        p.image_tag.clone().unwrap_or_else(dash),
        commit,
        since,
        behind_text(&p.behind, now),
    ]
}

/// `up to date`, or `2 newer: frontend-1003 (built 3 hours ago)`.
pub fn behind_text(b: &Behind, now: DateTime<Utc>) -> String {
    if b.images == 0 {
        return "up to date".to_string();
    }
    let tag = b.newest_tag.as_deref().unwrap_or("-");
    match b.newest_built_at {
        Some(t) => format!("{} newer: {tag} (built {})", b.images, ago(t, now)),
        None => format!("{} newer: {tag}", b.images),
    }
}

/// `placements` as an aligned text table.
pub fn table(placements: &[Placement], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = placements.iter().map(|p| row(p, now)).collect();
    aligned_text(&COLUMNS, &rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::correlate::{Knowledge, Lookup, RepoDefaults, correlate};
    use crate::model::deployment::ClusterSync;
    use crate::model::record::Record;
    use crate::model::run::{Run, RunKind, RunResult, RunStatus};

    const HLD: &str = "https://github.com/fabrikam/hld";

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    /// A commit id: 40 hex digits, distinct in their first seven.
    fn sha(n: u32) -> String {
        format!("{n:07x}{}", "c".repeat(33))
    }

    /// One image's journey, as the pipelines record it: p1 built `service-build` at minute
    /// `built`, p2 sent it to `ring` (HLD commit `h`), p3 wrote manifest commit `m` into the
    /// ring's manifest repository; the record is the store's `seq`-th write.
    struct Journey {
        service: &'static str,
        build: u32,
        ring: &'static str,
        built: i64,
        image: RunResult,
        h: u32,
        m: Option<u32>,
        seq: i64,
    }

    fn journey(service: &'static str, build: u32, ring: &'static str, seq: i64) -> Journey {
        Journey {
            service,
            build,
            ring,
            built: seq * 10,
            image: RunResult::Succeeded,
            h: 100 + seq as u32,
            m: Some(200 + seq as u32),
            seq,
        }
    }

    fn record(j: &Journey) -> Arc<Record> {
        let mut r = Record::new("fabrikam");
        r.service = Some(format!("fabrikam/{}", j.service));
        r.image_tag = Some(format!("{}-{}", j.service, j.build));
        r.p1 = Some(j.build.to_string());
        r.commit_id = Some(sha(j.build));
        r.source_repo = Some(format!("https://github.com/fabrikam/{}", j.service));
        r.env = Some(j.ring.into());
        r.p2 = Some(format!("3{:03}", j.seq));
        r.hld_commit_id = Some(sha(j.h));
        r.hld_repo = Some(HLD.into());
        if let Some(m) = j.m {
            r.p3 = Some(format!("5{:03}", j.seq));
            r.manifest_commit_id = Some(sha(m));
            r.manifest_repo = Some(format!("https://github.com/fabrikam/manifests-{}", j.ring));
        }
        r.sequence = Some(j.seq);
        r.timestamp = Some(t(j.built + 5));
        Arc::new(r)
    }

    fn run(
        id: &str,
        kind: RunKind,
        result: RunResult,
        finished: DateTime<Utc>,
    ) -> Lookup<Arc<Run>> {
        let mut run = Run::new(id, kind, RunStatus::Completed);
        run.result = Some(result);
        run.queued_at = Some(finished - Duration::minutes(3));
        run.started_at = Some(finished - Duration::minutes(3));
        run.finished_at = Some(finished);
        Lookup::Found(Arc::new(run))
    }

    /// The store's records and what the CI and the clusters say; every p2 and p3 succeeded.
    fn deployments(journeys: &[Journey], clusters: &[(&str, u32, i64)]) -> Vec<Deployment> {
        let records: Vec<Arc<Record>> = journeys.iter().map(record).collect();
        let mut k = Knowledge::default();
        for (j, r) in journeys.iter().zip(&records) {
            let p1 = r.p1.clone().unwrap();
            k.builds.insert(
                p1.as_str().into(),
                run(&p1, RunKind::Build, j.image, t(j.built)),
            );
            let p2 = r.p2.clone().unwrap();
            k.releases.insert(
                p2.as_str().into(),
                run(&p2, RunKind::Release, RunResult::Succeeded, t(j.built + 2)),
            );
            if let Some(p3) = r.p3.clone() {
                k.builds.insert(
                    p3.as_str().into(),
                    run(&p3, RunKind::Build, RunResult::Succeeded, t(j.built + 4)),
                );
            }
        }
        k.cluster_reports = clusters
            .iter()
            .map(|&(cluster, m, at)| ClusterSync {
                cluster: cluster.into(),
                commit: sha(m),
                synced_at: Some(t(at)),
                tagger: Some("flux".into()),
            })
            .collect();
        correlate(&records, &k, &RepoDefaults::default(), t(500))
    }

    /// `(service, ring, cluster, tag, exact, behind)` of each row.
    fn grid(rows: &[Placement]) -> Vec<(String, String, String, String, bool, usize)> {
        rows.iter()
            .map(|p| {
                (
                    p.service.clone().unwrap_or_default(),
                    p.ring.clone().unwrap_or_default(),
                    p.cluster.clone(),
                    p.image_tag.clone().unwrap_or_default(),
                    p.exact,
                    p.behind.images,
                )
            })
            .collect()
    }

    fn row_of<'a>(rows: &'a [Placement], service: &str, cluster: &str) -> &'a Placement {
        rows.iter()
            .find(|p| p.service.as_deref() == Some(service) && p.cluster == cluster)
            .unwrap_or_else(|| panic!("no {service} in {cluster}: {rows:#?}"))
    }

    #[test]
    fn live_in_three_clusters_and_superseded_in_one() {
        // frontend-1001 reaches prod and three clusters apply it; then frontend-1002 is
        // built, and only west-eu applies its manifests.
        let ds = deployments(
            &[
                journey("frontend", 1001, "prod", 1),
                journey("frontend", 1002, "prod", 2),
            ],
            &[
                ("east-us", 201, 20),
                ("west-us", 201, 21),
                ("central-eu", 201, 22),
                ("west-eu", 202, 40),
            ],
        );
        let rows = placements(&ds, &PlacementFilter::default());
        let s = |v: &str| v.to_string();
        assert_eq!(
            grid(&rows),
            vec![
                (
                    s("frontend"),
                    s("prod"),
                    s("central-eu"),
                    s("frontend-1001"),
                    true,
                    1
                ),
                (
                    s("frontend"),
                    s("prod"),
                    s("east-us"),
                    s("frontend-1001"),
                    true,
                    1
                ),
                (
                    s("frontend"),
                    s("prod"),
                    s("west-eu"),
                    s("frontend-1002"),
                    true,
                    0
                ),
                (
                    s("frontend"),
                    s("prod"),
                    s("west-us"),
                    s("frontend-1001"),
                    true,
                    1
                ),
            ]
        );
        let east = row_of(&rows, "frontend", "east-us");
        assert_eq!(east.since, Some(t(20)), "when east-us applied it");
        assert_eq!(east.built_at, Some(t(10)), "when p1 finished");
        assert_eq!(east.commit, sha(201));
        assert_eq!(east.behind.newest_tag.as_deref(), Some("frontend-1002"));
        assert_eq!(east.behind.newest_built_at, Some(t(20)));
        assert_eq!(
            east.behind.newest_deployment_id.as_deref(),
            Some(ds_id(&ds, "frontend-1002"))
        );
        assert!(!east.is_current());
        let west_eu = row_of(&rows, "frontend", "west-eu");
        assert!(west_eu.is_current());
        assert_eq!(west_eu.behind, Behind::default());

        let text = table(&rows, t(80));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Service   Ring  Cluster     Image Tag      Commit   Since           Behind"
        );
        assert_eq!(
            lines[2],
            "frontend  prod  east-us     frontend-1001  00000c9  1 hour ago      1 newer: frontend-1002 (built 1 hour ago)"
        );
        assert_eq!(
            lines[3],
            "frontend  prod  west-eu     frontend-1002  00000ca  40 minutes ago  up to date"
        );
    }

    fn ds_id<'a>(ds: &'a [Deployment], tag: &str) -> &'a str {
        ds.iter().find(|d| d.image_tag() == Some(tag)).unwrap().id()
    }

    #[test]
    fn a_cluster_that_applied_a_later_commit_of_another_service_keeps_the_tag() {
        // east-us applied frontend-1001's manifests, then backend-2001's: frontend-1001 is
        // still live there, since no later than when it applied the backend's commit.
        let ds = deployments(
            &[
                journey("frontend", 1001, "dev", 1),
                journey("backend", 2001, "dev", 2),
            ],
            &[("east-us", 202, 45)],
        );
        let rows = placements(&ds, &PlacementFilter::default());
        let s = |v: &str| v.to_string();
        assert_eq!(
            grid(&rows),
            vec![
                (
                    s("backend"),
                    s("dev"),
                    s("east-us"),
                    s("backend-2001"),
                    true,
                    0
                ),
                (
                    s("frontend"),
                    s("dev"),
                    s("east-us"),
                    s("frontend-1001"),
                    false,
                    0
                ),
            ]
        );
        let frontend = row_of(&rows, "frontend", "east-us");
        assert_eq!(frontend.commit, sha(202), "the backend's commit");
        assert_eq!(frontend.since, Some(t(45)));
        let cells = row(frontend, t(60));
        assert_eq!(cells[4], "00000ca (later)");
        assert_eq!(cells[5], "15 minutes ago or earlier");
        assert_eq!(
            cells[6], "up to date",
            "another service's images are not newer"
        );
    }

    #[test]
    fn rings_run_different_tags_and_lag_only_behind_their_own_ring() {
        // 1001 went to dev and prod; 1002 and 1003 only to dev; 1004's build was re-run
        // and failed. dev's cluster runs 1003, prod's runs 1001: the newest image sent to prod.
        let mut prod = journey("frontend", 1001, "prod", 2);
        prod.built = 10;
        let mut failed = journey("frontend", 1004, "dev", 5);
        failed.image = RunResult::Failed;
        failed.m = None;
        let ds = deployments(
            &[
                journey("frontend", 1001, "dev", 1),
                prod,
                journey("frontend", 1002, "dev", 3),
                journey("frontend", 1003, "dev", 4),
                failed,
            ],
            &[("dev-aks", 204, 50), ("prod-aks", 202, 30)],
        );
        let rows = placements(&ds, &PlacementFilter::default());
        let s = |v: &str| v.to_string();
        assert_eq!(
            grid(&rows),
            vec![
                (
                    s("frontend"),
                    s("dev"),
                    s("dev-aks"),
                    s("frontend-1003"),
                    true,
                    0
                ),
                (
                    s("frontend"),
                    s("prod"),
                    s("prod-aks"),
                    s("frontend-1001"),
                    true,
                    0
                ),
            ],
            "a failed build is no newer image"
        );

        // dev-aks then falls back to the manifests of 1001 (a rollback): two newer images.
        let ds = deployments(
            &[
                journey("frontend", 1001, "dev", 1),
                journey("frontend", 1002, "dev", 3),
                journey("frontend", 1003, "dev", 4),
            ],
            &[("dev-aks", 201, 60)],
        );
        let rows = placements(&ds, &PlacementFilter::default());
        let dev = row_of(&rows, "frontend", "dev-aks");
        assert_eq!(dev.image_tag.as_deref(), Some("frontend-1001"));
        assert_eq!(dev.behind.images, 2);
        assert_eq!(dev.behind.newest_tag.as_deref(), Some("frontend-1003"));
        assert_eq!(
            behind_text(&dev.behind, t(100)),
            "2 newer: frontend-1003 (built 1 hour ago)"
        );
    }

    #[test]
    fn filters_pick_rows_but_every_image_of_the_ring_still_counts() {
        let ds = deployments(
            &[
                journey("frontend", 1001, "prod", 1),
                journey("frontend", 1002, "prod", 2),
                journey("backend", 2001, "prod", 3),
            ],
            &[("east-us", 201, 20), ("west-eu", 203, 40)],
        );
        let only =
            |service: Option<&str>, tag: Option<&str>, cluster: Option<&str>| PlacementFilter {
                service: service.map(str::to_string),
                image_tag: tag.map(str::to_string),
                cluster: cluster.map(str::to_string),
                ..Default::default()
            };
        let rows = placements(&ds, &only(None, Some("FRONTEND-1001"), None));
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].cluster, "east-us");
        assert_eq!(rows[0].behind.images, 1, "frontend-1002 still counts");
        let rows = placements(&ds, &only(Some("fabrikam/backend"), None, None));
        assert_eq!(grid(&rows)[0].2, "west-eu");
        assert_eq!(rows.len(), 1);
        let rows = placements(&ds, &only(None, None, Some("West-EU")));
        assert_eq!(
            rows.iter()
                .map(|p| p.image_tag.clone().unwrap())
                .collect::<Vec<_>>(),
            ["backend-2001", "frontend-1002"],
            "west-eu runs the backend's commit, after frontend-1002's"
        );
        assert!(placements(&ds, &only(Some("payments"), None, None)).is_empty());
    }

    #[test]
    fn nothing_live_means_no_rows() {
        let ds = deployments(&[journey("frontend", 1001, "dev", 1)], &[]);
        assert!(placements(&ds, &PlacementFilter::default()).is_empty());
        assert_eq!(table(&[], t(0)).lines().count(), 1, "the header alone");
    }
}
