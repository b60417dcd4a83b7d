//! What `bedrock deployment get` printed: the `IDeployment` JSON of the spektate npm
//! package (`-o json`), and its normal and wide tables, cli-table with every border blank,
//! `│` separators unless `-h`, `✓`/`х` results and `x.xx mins` durations.

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use spektate::{Deployment, Run, RunResult, RunStatus, Stage, Status, Step};

/// A pipeline build as the spektate package serialised it (`IBuild`), keys in its order.
#[derive(Debug, Clone, Serialize)]
pub struct BuildJson {
    /// The run's page.
    #[serde(rename = "URL", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who queued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The run number.
    #[serde(rename = "buildNumber", skip_serializing_if = "Option::is_none")]
    pub build_number: Option<String>,
    /// When it finished (`null` while running).
    #[serde(rename = "finishTime")]
    pub finish_time: Option<String>,
    /// The recorded id: a number when it is one.
    pub id: Value,
    /// When it last changed.
    #[serde(rename = "lastUpdateTime", skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    /// When it was queued.
    #[serde(rename = "queueTime")]
    pub queue_time: Option<String>,
    /// Azure DevOps' result word (`succeeded`, `failed`, `canceled`, `partiallySucceeded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// The branch built.
    #[serde(rename = "sourceBranch", skip_serializing_if = "Option::is_none")]
    pub source_branch: Option<String>,
    /// The commit built.
    #[serde(rename = "sourceVersion", skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The commit's page.
    #[serde(rename = "sourceVersionURL", skip_serializing_if = "Option::is_none")]
    pub source_version_url: Option<String>,
    /// When it started.
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
    /// Azure DevOps' status word (`notStarted`, `inProgress`, `completed`).
    pub status: &'static str,
}

/// A release as the spektate package serialised it (`IRelease`), keys in its order.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseJson {
    /// The release's page.
    #[serde(rename = "URL", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When its deployment finished.
    #[serde(rename = "finishTime")]
    pub finish_time: Option<String>,
    /// The recorded id: a number when it is one.
    pub id: Value,
    /// When it last changed.
    #[serde(rename = "lastUpdateTime", skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    /// When it was queued.
    #[serde(rename = "queueTime")]
    pub queue_time: Option<String>,
    /// The release name (`Release-174`).
    #[serde(rename = "releaseName", skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// When it started.
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
    /// Azure DevOps' deployment status word (`succeeded`, `failed`, `inProgress`, ...).
    pub status: &'static str,
    /// The image version the release deployed.
    #[serde(rename = "imageVersion", skip_serializing_if = "Option::is_none")]
    pub image_version: Option<String>,
}

/// A deployment as the spektate package serialised it (`IDeployment`), keys in its order.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentJson {
    /// The source commit as recorded.
    #[serde(rename = "commitId")]
    pub commit_id: String,
    /// The record's row key.
    #[serde(rename = "deploymentId")]
    pub deployment_id: String,
    /// p2 as a release of its own.
    #[serde(rename = "dockerToHldRelease", skip_serializing_if = "Option::is_none")]
    pub docker_to_hld_release: Option<ReleaseJson>,
    /// p2 as a stage of p1's multi-stage run (the same id).
    #[serde(
        rename = "dockerToHldReleaseStage",
        skip_serializing_if = "Option::is_none"
    )]
    pub docker_to_hld_release_stage: Option<BuildJson>,
    /// The ring.
    pub environment: String,
    /// The HLD commit as recorded.
    #[serde(rename = "hldCommitId")]
    pub hld_commit_id: String,
    /// The HLD repository as recorded.
    #[serde(rename = "hldRepo", skip_serializing_if = "Option::is_none")]
    pub hld_repo: Option<String>,
    /// p3.
    #[serde(rename = "hldToManifestBuild", skip_serializing_if = "Option::is_none")]
    pub hld_to_manifest_build: Option<BuildJson>,
    /// The image tag.
    #[serde(rename = "imageTag")]
    pub image_tag: String,
    /// The manifest commit as recorded.
    #[serde(rename = "manifestCommitId")]
    pub manifest_commit_id: String,
    /// The manifest repository as recorded.
    #[serde(rename = "manifestRepo", skip_serializing_if = "Option::is_none")]
    pub manifest_repo: Option<String>,
    /// The approval pull request id as recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<String>,
    /// The service (`org/name` shown as `name`).
    pub service: String,
    /// The source repository as recorded.
    #[serde(rename = "sourceRepo", skip_serializing_if = "Option::is_none")]
    pub source_repo: Option<String>,
    /// p1.
    #[serde(rename = "srcToDockerBuild", skip_serializing_if = "Option::is_none")]
    pub src_to_docker_build: Option<BuildJson>,
    /// When the store last wrote the record.
    #[serde(rename = "timeStamp")]
    pub time_stamp: Option<String>,
    /// `Complete`, `In Progress`, `failed`, `canceled` or `Incomplete`.
    pub status: &'static str,
    /// The last activity.
    #[serde(rename = "endTime")]
    pub end_time: String,
    /// Minutes taken, two decimals (`3.41`).
    pub duration: String,
}

/// A time as JavaScript's `Date` serialises it: milliseconds and `Z`.
fn js_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A recorded id as the package gave it: Azure DevOps' numeric ids as numbers.
fn id_value(id: &str) -> Value {
    match id.parse::<u64>() {
        Ok(n) if !id.starts_with('0') || id == "0" => Value::from(n),
        _ => Value::String(id.to_string()),
    }
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => "notStarted",
        RunStatus::InProgress => "inProgress",
        RunStatus::Completed => "completed",
    }
}

fn result_word(result: RunResult) -> &'static str {
    match result {
        RunResult::Succeeded => "succeeded",
        RunResult::PartiallySucceeded => "partiallySucceeded",
        RunResult::Failed => "failed",
        RunResult::Canceled => "canceled",
        RunResult::Skipped => "skipped",
    }
}

/// A release's deployment status word.
fn release_status(status: RunStatus, result: Option<RunResult>) -> &'static str {
    match (status, result) {
        (RunStatus::Queued, _) => "notDeployed",
        (RunStatus::InProgress, _) => "inProgress",
        (RunStatus::Completed, Some(r)) => result_word(r),
        (RunStatus::Completed, None) => "succeeded",
    }
}

/// A run as a build; a stage (of a multi-stage run that did not succeed) gives its status
/// and result, as the package took them from the run's timeline.
fn build(id: &str, run: &Run, stage: Option<&Stage>) -> BuildJson {
    let (status, result) = match stage {
        Some(s) => (s.status, s.result),
        None => (run.status, run.result),
    };
    BuildJson {
        url: run.url.clone(),
        author: run.requested_by.clone(),
        build_number: run.number.clone(),
        finish_time: js_time(run.finished_at),
        id: id_value(id),
        last_update_time: js_time(run.last_changed_at),
        queue_time: js_time(run.queued_at),
        result: result
            .filter(|_| status == RunStatus::Completed)
            .map(result_word),
        source_branch: run.source_branch.clone(),
        source_version: run.source_commit.clone(),
        source_version_url: match (&run.repository, &run.source_commit) {
            (Some(repo), Some(sha)) => Some(repo.commit_url(sha)),
            _ => None,
        },
        start_time: js_time(run.started_at),
        status: status_word(status),
    }
}

fn release(id: &str, run: &Run) -> ReleaseJson {
    ReleaseJson {
        url: run.url.clone(),
        finish_time: js_time(run.finished_at),
        id: id_value(id),
        last_update_time: js_time(run.last_changed_at),
        queue_time: js_time(run.queued_at),
        release_name: run.number.clone(),
        start_time: js_time(run.started_at),
        status: release_status(run.status, run.result),
        image_version: run.image_version.clone(),
    }
}

fn found(step: Option<&Step>) -> Option<(&Run, Option<&Stage>)> {
    let step = step?;
    Some((step.run.as_deref()?, step.stage.as_deref()))
}

/// bedrock's status words.
pub fn status_word_of(status: Status) -> &'static str {
    match status {
        Status::Complete => "Complete",
        Status::InProgress => "In Progress",
        Status::Failed => "failed",
        Status::Canceled => "canceled",
        Status::Incomplete => "Incomplete",
    }
}

/// Milliseconds a run took: finish (or `now`) less queue time.
fn taken_ms(run: &Run, now: DateTime<Utc>) -> Option<i64> {
    let queued = run.queued_at?;
    Some((run.finished_at.unwrap_or(now) - queued).num_milliseconds())
}

/// The deployment as `IDeployment`.
pub fn deployment_json(d: &Deployment, now: DateTime<Utc>) -> DeploymentJson {
    let r = &d.record;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let p1 = r.p1.as_deref().unwrap_or_default();
    let p2 = r.p2.as_deref().unwrap_or_default();
    let p3 = r.p3.as_deref().unwrap_or_default();
    let image = found(d.image.as_ref());
    let metadata = found(d.metadata.as_ref());
    let manifest = found(d.manifest.as_ref());
    let src = image.map(|(run, stage)| build(p1, run, stage));
    let (release_json, stage_json) = match metadata {
        Some((run, stage)) if d.multi_stage => (None, Some(build(p2, run, stage))),
        Some((run, _)) => (Some(release(p2, run)), None),
        None => (None, None),
    };
    let hld = manifest.map(|(run, stage)| build(p3, run, stage));
    DeploymentJson {
        commit_id: text(&r.commit_id),
        deployment_id: r.row_key.clone(),
        docker_to_hld_release: release_json,
        docker_to_hld_release_stage: stage_json,
        environment: text(&r.env),
        hld_commit_id: text(&r.hld_commit_id),
        hld_repo: r.hld_repo.clone(),
        hld_to_manifest_build: hld,
        image_tag: text(&r.image_tag),
        manifest_commit_id: text(&r.manifest_commit_id),
        manifest_repo: r.manifest_repo.clone(),
        pr: r.pr.clone(),
        service: d.service().unwrap_or_default().to_string(),
        source_repo: r.source_repo.clone(),
        src_to_docker_build: src,
        time_stamp: js_time(r.timestamp),
        status: status_word_of(d.status),
        end_time: js_time(Some(d.last_updated)).unwrap_or_default(),
        duration: minutes(d, now),
    }
}

/// The package's duration: the sum over p1, the release and p3 of finish (or now) less
/// queue time, or, for a multi-stage run, that run's alone; in minutes, two decimals.
pub fn minutes(d: &Deployment, now: DateTime<Utc>) -> String {
    let run = |s: &Option<Step>| s.as_ref().and_then(|s| s.run.clone());
    let ms = if d.multi_stage {
        run(&d.metadata)
            .or_else(|| run(&d.image))
            .and_then(|r| taken_ms(&r, now))
            .unwrap_or(0)
    } else {
        [run(&d.image), run(&d.metadata), run(&d.manifest)]
            .iter()
            .flatten()
            .filter_map(|r| taken_ms(r, now))
            .sum()
    };
    format!("{:.2}", ms as f64 / 60_000.0)
}

/// The mark of a result word: `✓` for `succeeded`, `х` for any other, nothing for none.
fn mark(word: Option<&str>) -> &'static str {
    match word {
        None => "",
        Some("succeeded") => "\u{2713}",
        Some(_) => "\u{0445}",
    }
}

/// One row of bedrock's table, before layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The image (else manifest) run's start, as the local time `M/D/YYYY, h:mm:ss AM`.
    pub start_time: String,
    /// The status, or `Waiting` while the approval pull request is not merged.
    pub status: String,
    /// Service.
    pub service: String,
    /// Ring.
    pub env: String,
    /// The source commit's author.
    pub author: String,
    /// Image tag.
    pub image_tag: String,
    /// p1 id, source commit, result mark.
    pub image: [String; 3],
    /// p2 id, HLD commit, result mark.
    pub metadata: [String; 3],
    /// Pull request id and who merged it.
    pub pr: [String; 2],
    /// p3 id, manifest commit, result mark.
    pub manifest: [String; 3],
    /// `x.xx mins`.
    pub duration: String,
    /// The first cluster that runs the manifest commit.
    pub cluster: String,
}

/// The local time as `toLocaleString()` of Node in the en-US locale.
fn locale_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%-m/%-d/%Y, %-I:%M:%S %p")
        .to_string()
}

/// The row of a deployment.
pub fn row(d: &Deployment, now: DateTime<Utc>) -> Row {
    let j = deployment_json(d, now);
    let id = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let pr = d.pull_request.as_deref();
    let mut status = j.status.to_string();
    let pr_id = pr.map(|p| p.id.clone()).unwrap_or_default();
    let merged_by = pr
        .and_then(|p| p.merged_by.as_ref())
        .map(|a| a.name.clone())
        .unwrap_or_default();
    if !pr_id.is_empty() && pr.is_some_and(|p| !p.merged) {
        status = "Waiting".into();
    }
    let start = d
        .image
        .as_ref()
        .and_then(|s| s.run.as_ref())
        .and_then(|r| r.started_at)
        .or_else(|| {
            d.manifest
                .as_ref()
                .and_then(|s| s.run.as_ref())
                .and_then(|r| r.started_at)
        });
    let (acr_id, acr_word) = match (&j.docker_to_hld_release, &j.docker_to_hld_release_stage) {
        (Some(rel), _) => (id(&rel.id), Some(rel.status)),
        (None, Some(stage)) => (id(&stage.id), stage.result),
        (None, None) => (String::new(), None),
    };
    // A run no provider found keeps its recorded id, without a mark.
    let recorded = |shown: String, id: &Option<String>| {
        if shown.is_empty() {
            id.clone().unwrap_or_default()
        } else {
            shown
        }
    };
    let r = &d.record;
    Row {
        start_time: start.map(locale_time).unwrap_or_default(),
        status,
        service: j.service.clone(),
        env: j.environment.clone(),
        author: d
            .author
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        image_tag: j.image_tag.clone(),
        image: [
            recorded(
                j.src_to_docker_build
                    .as_ref()
                    .map(|b| id(&b.id))
                    .unwrap_or_default(),
                &r.p1,
            ),
            j.commit_id.clone(),
            mark(j.src_to_docker_build.as_ref().and_then(|b| b.result)).into(),
        ],
        metadata: [
            recorded(acr_id, &r.p2),
            j.hld_commit_id.clone(),
            mark(acr_word).into(),
        ],
        pr: [pr_id, merged_by],
        manifest: [
            recorded(
                j.hld_to_manifest_build
                    .as_ref()
                    .map(|b| id(&b.id))
                    .unwrap_or_default(),
                &r.p3,
            ),
            j.manifest_commit_id.clone(),
            mark(j.hld_to_manifest_build.as_ref().and_then(|b| b.result)).into(),
        ],
        duration: format!("{} mins", j.duration),
        cluster: d
            .clusters
            .first()
            .map(|c| c.cluster.clone())
            .unwrap_or_default(),
    }
}

/// How the table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `-o wide`: start time, author, pull request, merged by, cluster sync.
    pub wide: bool,
    /// `-h`: no `│` columns.
    pub hide_separators: bool,
    /// A terminal: the heading red and the gaps grey, as cli-table colours them.
    pub colour: bool,
}

/// A column: heading, alignment, and the cell of a row.
type Column = (&'static str, Align, Box<dyn Fn(&Row) -> String>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// bedrock's table of `rows`: the headings, then a line per row; each column as wide as its
/// widest cell (counted in UTF-16 units, as JavaScript does), cells joined by one space.
pub fn table(rows: &[Row], layout: Layout) -> String {
    let wide = layout.wide;
    let sep = !layout.hide_separators;
    let sync = wide && rows.iter().any(|r| !r.cluster.is_empty());
    let mut columns: Vec<Column> = Vec::new();
    let mut add =
        |on: bool, title: &'static str, align: Align, cell: Box<dyn Fn(&Row) -> String>| {
            if on {
                columns.push((title, align, cell));
            }
        };
    use Align::{Left, Right};
    add(wide, "Start Time", Left, Box::new(|r| r.start_time.clone()));
    add(true, "Status", Left, Box::new(|r| r.status.clone()));
    add(true, "Service", Left, Box::new(|r| r.service.clone()));
    add(true, "Ring", Left, Box::new(|r| r.env.clone()));
    add(wide, "Author", Left, Box::new(|r| r.author.clone()));
    add(true, "Image Tag", Left, Box::new(|r| r.image_tag.clone()));
    add(sep, "│", Left, Box::new(|_| "│".into()));
    add(
        true,
        "Image Creation",
        Right,
        Box::new(|r| r.image[0].clone()),
    );
    add(true, "Commit", Left, Box::new(|r| r.image[1].clone()));
    add(true, "OK", Left, Box::new(|r| r.image[2].clone()));
    add(sep, "│", Left, Box::new(|_| "│".into()));
    add(
        true,
        "Metadata Update",
        Right,
        Box::new(|r| r.metadata[0].clone()),
    );
    add(true, "Commit", Left, Box::new(|r| r.metadata[1].clone()));
    add(true, "OK", Left, Box::new(|r| r.metadata[2].clone()));
    add(sep, "│", Left, Box::new(|_| "│".into()));
    add(wide, "Approval PR", Right, Box::new(|r| r.pr[0].clone()));
    add(wide, "Merged By", Left, Box::new(|r| r.pr[1].clone()));
    add(
        true,
        "Ready to Deploy",
        Right,
        Box::new(|r| r.manifest[0].clone()),
    );
    add(true, "Commit", Left, Box::new(|r| r.manifest[1].clone()));
    add(true, "OK", Left, Box::new(|r| r.manifest[2].clone()));
    add(sep, "│", Left, Box::new(|_| "│".into()));
    add(true, "Duration", Right, Box::new(|r| r.duration.clone()));
    add(sync, "Cluster Sync", Left, Box::new(|r| r.cluster.clone()));

    let width = |s: &str| s.encode_utf16().count();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|(_, _, cell)| clean(&cell(r))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, _, _))| {
            cells
                .iter()
                .map(|row| width(&row[i]))
                .chain([width(title)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |text: &str, i: usize| {
        let gap = " ".repeat(widths[i].saturating_sub(width(text)));
        match columns[i].1 {
            Left => format!("{text}{gap}"),
            Right => format!("{gap}{text}"),
        }
    };
    let gap = if layout.colour {
        "\x1b[90m \x1b[39m"
    } else {
        " "
    };
    let heading: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, _, _))| {
            let cell = pad(title, i);
            if layout.colour {
                format!("\x1b[31m{cell}\x1b[39m")
            } else {
                cell
            }
        })
        .collect();
    let mut out = heading.join(gap);
    out.push('\n');
    for row in &cells {
        let line: Vec<String> = row.iter().enumerate().map(|(i, c)| pad(c, i)).collect();
        out.push_str(&line.join(gap));
        out.push('\n');
    }
    out
}

/// A cell as one line of printable text: recorded values are untrusted, so control
/// characters (a line break, an escape sequence) are shown escaped.
fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_numbers_are_numbers() {
        assert_eq!(id_value("6053"), Value::from(6053u64));
        assert_eq!(id_value("job:7"), Value::String("job:7".into()));
        assert_eq!(id_value("007"), Value::String("007".into()));
    }

    #[test]
    fn columns_take_the_widest_cell_and_right_aligned_ones_pad_on_the_left() {
        let row = Row {
            status: "Complete".into(),
            service: "hello-bedrock".into(),
            env: "dev".into(),
            image_tag: "hello-bedrock-master-6053".into(),
            image: ["6053".into(), "c626394".into(), "\u{2713}".into()],
            metadata: ["182".into(), "a3dc9a7".into(), "\u{0445}".into()],
            manifest: ["6054".into(), "db26e17".into(), "".into()],
            duration: "3.41 mins".into(),
            ..Row::default()
        };
        let layout = Layout {
            wide: false,
            hide_separators: true,
            colour: false,
        };
        let out = table(&[row], layout);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Status   Service       Ring Image Tag                 Image Creation Commit  OK Metadata Update Commit  OK Ready to Deploy Commit  OK  Duration"
        );
        assert_eq!(
            lines[1],
            "Complete hello-bedrock dev  hello-bedrock-master-6053           6053 c626394 ✓              182 a3dc9a7 х             6054 db26e17    3.41 mins"
        );
    }
}
