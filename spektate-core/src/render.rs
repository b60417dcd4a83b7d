//! Plain-text tables of deployments, with the columns of bedrock-cli's `deployment get`, and
//! their warning lines.

use chrono::{DateTime, Utc};

use crate::model::deployment::{Deployment, Step, StepState};
use crate::warnings::Summary;

/// Columns of the normal view.
pub const NORMAL: [&str; 12] = [
    "Status",
    "Service",
    "Ring",
    "Commit",
    "Src to ACR",
    "Image Tag",
    "ACR to HLD",
    "HLD Commit",
    "HLD to Manifest",
    "Manifest Commit",
    "Duration",
    "Last Updated",
];

/// Columns the wide view adds (start time first, the rest at the end). ETA Live says when a
/// deployment on its way is expected to be live, and at the 90th percentile
/// ([`crate::insights::eta`]). Cluster Sync names the clusters that run the deployment's own
/// commit, and those whose agent failed on it or saw it unhealthy (`east-us failed
/// (HealthCheckFailed)`, `west-eu Degraded`); Live In those where it is live, that is also
/// those that run a later commit that no later deployment of its service and ring replaced.
pub const WIDE_EXTRA: [&str; 7] = [
    "Start Time",
    "Author",
    "PR",
    "Merged By",
    "ETA Live",
    "Cluster Sync",
    "Live In",
];

/// A short commit id (7 characters).
pub fn short(commit: &str) -> &str {
    match commit.char_indices().nth(7) {
        Some((i, _)) => &commit[..i],
        None => commit,
    }
}

/// A step as `✓ 101`: a state mark and the run number (or the recorded run id).
pub fn step_cell(id: Option<&str>, step: Option<&Step>) -> String {
    let Some(step) = step else {
        return "-".to_string();
    };
    let mark = match step.state {
        StepState::Succeeded => "✓",
        StepState::Failed => "✗",
        StepState::Canceled => "⊘",
        StepState::InProgress => "…",
        StepState::Queued => "◷",
        StepState::Skipped => "↷",
        StepState::Unknown => "?",
        StepState::Expired => "⌛",
    };
    let number = step
        .run
        .as_ref()
        .and_then(|r| r.number.as_deref())
        .or(id)
        .unwrap_or("-");
    format!("{mark} {number}")
}

/// A duration in seconds as `1h 2m`, `3m 12s` or `45s`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// How long ago `t` was, relative to `now`: `just now`, `5 minutes ago`, `2 days ago`.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds();
    let unit = |n: i64, u: &str| {
        if n == 1 {
            format!("1 {u} ago")
        } else {
            format!("{n} {u}s ago")
        }
    };
    match s {
        i64::MIN..=9 => "just now".to_string(),
        10..=59 => unit(s, "second"),
        60..=3599 => unit(s / 60, "minute"),
        3600..=86_399 => unit(s / 3600, "hour"),
        _ => unit(s / 86_400, "day"),
    }
}

fn opt(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// When a deployment on its way is expected to be live: `in 12m 0s (p90 40m 0s)`, `due
/// (p90 5m 0s)` once the expected time has passed, `due` once both have; `-` without an ETA.
pub fn eta_cell(d: &Deployment, now: DateTime<Utc>) -> String {
    let Some(eta) = &d.eta else {
        return "-".into();
    };
    let left = |t: DateTime<Utc>| Some((t - now).num_seconds()).filter(|s| *s > 0);
    match (left(eta.live_at), left(eta.live_p90_at)) {
        (Some(m), Some(p)) => format!("in {} (p90 {})", duration(m), duration(p)),
        (None, Some(p)) => format!("due (p90 {})", duration(p)),
        _ => "due".into(),
    }
}

/// The header and rows of a table of `deployments`.
pub fn rows(
    deployments: &[Deployment],
    wide: bool,
    now: DateTime<Utc>,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut header: Vec<&'static str> = Vec::new();
    if wide {
        header.push(WIDE_EXTRA[0]);
    }
    header.extend(NORMAL);
    if wide {
        header.extend(&WIDE_EXTRA[1..]);
    }
    let rows = deployments
        .iter()
        .map(|d| {
            let mut row = Vec::with_capacity(header.len());
            if wide {
                row.push(
                    d.started_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into()),
                );
            }
            let mut status = if d.is_synced() {
                format!("{} (synced)", d.status.as_str())
            } else if d.is_live() {
                format!("{} (live)", d.status.as_str())
            } else {
                d.status.as_str().to_string()
            };
            if d.expired {
                status.push_str(" (expired)");
            }
            row.extend([
                status,
                opt(d.service()),
                opt(d.ring()),
                opt(d.commit_id().map(short)),
                step_cell(d.record.p1.as_deref(), d.image.as_ref()),
                opt(d.image_tag()),
                step_cell(d.record.p2.as_deref(), d.metadata.as_ref()),
                opt(d.hld_commit_id().map(short)),
                step_cell(d.record.p3.as_deref(), d.manifest.as_ref()),
                opt(d.manifest_commit_id().map(short)),
                d.duration_secs.map(duration).unwrap_or_else(|| "-".into()),
                ago(d.last_updated, now),
            ]);
            if wide {
                row.push(opt(d.author.as_ref().map(|a| a.name.as_str())));
                row.push(match (d.pr(), &d.pull_request) {
                    (_, Some(pr)) => format!("{}: {}", pr.id, pr.title),
                    (Some(id), None) => id.to_string(),
                    _ => "-".into(),
                });
                row.push(opt(d
                    .pull_request
                    .as_ref()
                    .and_then(|p| p.merged_by.as_ref())
                    .map(|a| a.name.as_str())));
                row.push(eta_cell(d, now));
                let troubles: Vec<String> = d
                    .cluster_troubles
                    .iter()
                    .map(|t| t.trouble_text())
                    .collect();
                let clusters: Vec<&str> = d
                    .clusters
                    .iter()
                    .map(|c| c.cluster.as_str())
                    .filter(|c| !d.cluster_troubles.iter().any(|t| t.cluster() == *c))
                    .chain(troubles.iter().map(String::as_str))
                    .collect();
                row.push(list(&clusters));
                let live: Vec<&str> = d.live_in.iter().map(|l| l.cluster.as_str()).collect();
                row.push(list(&live));
            }
            row
        })
        .collect();
    (header, rows)
}

/// A table as aligned plain text, one line per row; control characters in cells are shown
/// escaped so a value cannot break the layout.
pub fn aligned_text(header: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// `deployments` as an aligned text table (normal or wide).
pub fn table(deployments: &[Deployment], wide: bool, now: DateTime<Utc>) -> String {
    let (header, rows) = rows(deployments, wide, now);
    aligned_text(&header, &rows)
}

/// Warning lines of `summaries` (most objects first), at most `max`; the rest are counted
/// in a last line.
pub fn warning_lines(summaries: &[Summary], max: usize) -> Vec<String> {
    let mut lines: Vec<String> = summaries.iter().take(max).map(|s| s.to_string()).collect();
    if summaries.len() > max {
        let rest = &summaries[max..];
        let objects: usize = rest.iter().map(|s| s.count).sum();
        lines.push(format!("{} more causes, for {objects} objects", rest.len()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warnings::{Reason, Subject};

    #[test]
    fn warning_lines_are_capped_and_the_rest_counted() {
        let s = |n, cause: &str| Summary {
            subject: Subject::Author,
            count: n,
            reason: Reason::new("github api.github.com", cause),
        };
        let all = [
            s(1000, "could not connect"),
            s(2, "HTTP 500"),
            s(1, "HTTP 502"),
        ];
        assert_eq!(
            warning_lines(&all, 5),
            [
                "github api.github.com: author of 1000 commits: could not connect",
                "github api.github.com: author of 2 commits: HTTP 500",
                "github api.github.com: author of 1 commit: HTTP 502",
            ]
        );
        assert_eq!(warning_lines(&all, 1)[1], "2 more causes, for 3 objects");
    }

    #[test]
    fn durations_and_ages_read_naturally() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(192), "3m 12s");
        assert_eq!(duration(3720), "1h 2m");
        let now = Utc::now();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(
            ago(now - chrono::Duration::minutes(5), now),
            "5 minutes ago"
        );
        assert_eq!(ago(now - chrono::Duration::hours(1), now), "1 hour ago");
        assert_eq!(ago(now - chrono::Duration::days(3), now), "3 days ago");
    }

    #[test]
    fn text_tables_align_and_escape_control_characters() {
        let t = aligned_text(
            &["A", "Long header"],
            &[
                vec!["x\ny".into(), "1".into()],
                vec!["wide cell".into(), "2".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert_eq!(lines[0].find("Long header"), lines[2].find('2'));
        assert!(lines[1].starts_with("x\\ny"), "{t}");
    }

    #[test]
    fn short_commits_keep_seven_characters() {
        assert_eq!(short("a1b2c3d4e5f6"), "a1b2c3d");
        assert_eq!(short("abc"), "abc");
    }
}
