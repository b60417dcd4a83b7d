//! From Argo CD's applications to what each applied: per git source of each application, its
//! destination cluster, its repository and the newest commit of it the application applied.

use chrono::{DateTime, Utc};
use spektate_core::model::cluster::{Attempt, MAX_HISTORY};
use spektate_core::{Applied, ClusterSync, RepoRef};

use crate::payloads::{Application, History, OperationState, Source, SyncStatus};

/// The longest cluster or application name kept (a DNS name's limit); longer ones are
/// not names Argo CD accepts, and their application is skipped.
pub const MAX_NAME_CHARS: usize = 253;

/// The longest status word kept (`Synced`, `Progressing`); longer ones are cut.
const MAX_WORD_CHARS: usize = 64;

/// The in-cluster destination's server, which Argo CD names `in-cluster`.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Whether `revision` is a git commit id (SHA-1 or SHA-256, full or abbreviated to 7+).
pub fn is_commit(revision: &str) -> bool {
    (7..=64).contains(&revision.len()) && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The cluster an application deploys to: its destination's name, else its server's address
/// (`in-cluster` for the cluster Argo CD runs in).
pub fn cluster(app: &Application) -> Option<String> {
    let d = app.spec.as_ref()?.destination.as_ref()?;
    let name = match (d.name.as_deref().map(str::trim), d.server.as_deref()) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(s)) => {
            let s = s.trim().trim_end_matches('/');
            if s.eq_ignore_ascii_case(IN_CLUSTER) {
                "in-cluster".to_string()
            } else {
                let bare = s
                    .strip_prefix("https://")
                    .or_else(|| s.strip_prefix("http://"))
                    .unwrap_or(s);
                bare.to_string()
            }
        }
        _ => return None,
    };
    (!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS).then_some(name)
}

/// The application's name as `namespace/name` (just `name` without a namespace).
fn name(app: &Application) -> Option<String> {
    let meta = app.metadata.as_ref()?;
    let name = meta
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())?;
    if name.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    Some(match meta.namespace.as_deref().map(str::trim) {
        Some(ns) if !ns.is_empty() && ns.chars().count() <= MAX_NAME_CHARS => {
            format!("{ns}/{name}")
        }
        _ => name.to_string(),
    })
}

fn word(w: &Option<String>) -> Option<String> {
    let w = w.as_deref()?.trim();
    (!w.is_empty()).then(|| w.chars().take(MAX_WORD_CHARS).collect())
}

/// Which revision of a list belongs to source `i`: a multi-source application's
/// `revisions[i]`, else the single `revision`.
fn nth(
    multi: bool,
    i: usize,
    revision: &Option<String>,
    revisions: &Option<Vec<String>>,
) -> Option<String> {
    let r = if multi {
        revisions.as_ref()?.get(i)?
    } else {
        revision.as_ref()?
    };
    let r = r.trim();
    is_commit(r).then(|| r.to_ascii_lowercase())
}

/// Everything the application applied: one [`Applied`] per git source with a known commit.
pub fn applied(app: &Application) -> Vec<Applied> {
    let (Some(cluster), Some(name)) = (cluster(app), name(app)) else {
        return Vec::new();
    };
    let Some(spec) = &app.spec else {
        return Vec::new();
    };
    let sources: Vec<&Source> = match &spec.sources {
        Some(many) if !many.is_empty() => many.iter().collect(),
        _ => spec.source.iter().collect(),
    };
    let multi = spec.sources.as_ref().is_some_and(|s| !s.is_empty());
    let status = app.status.as_ref();
    let sync = status.and_then(|s| s.sync.as_ref());
    let op = status.and_then(|s| s.operation_state.as_ref());
    let mut history: Vec<&History> = status
        .and_then(|s| s.history.as_ref())
        .map(|h| h.iter().collect())
        .unwrap_or_default();
    // Newest first: by id, else as listed (Argo CD appends).
    history.reverse();
    history.sort_by_key(|h| std::cmp::Reverse(h.id));
    let name_shown = name.rsplit('/').next().unwrap_or(&name).to_string();
    let running: Vec<Option<String>> = (0..sources.len())
        .map(|i| current(multi, i, sync, op, &history))
        .collect();
    let tried: Vec<Option<String>> = (0..sources.len()).map(|i| operated(multi, i, op)).collect();
    // The last operation synced what runs: every source at its running commit.
    let on_running = tried.iter().any(Option::is_some) && tried == running;

    let mut out = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        if source.chart.is_some() {
            continue; // a Helm chart repository: its revision is a chart version
        }
        let Some(repo) = source
            .repo_url
            .as_deref()
            .and_then(|u| RepoRef::parse(u).ok())
        else {
            continue;
        };
        let Some(commit) = running[i].clone() else {
            continue;
        };
        let (phase, attempted) = last_operation(op, &commit, tried[i].as_deref(), on_running);
        let applied_at = applied_at(multi, i, &commit, op, &history);
        let mut earlier: Vec<String> = Vec::new();
        for h in &history {
            if earlier.len() >= MAX_HISTORY {
                break;
            }
            if let Some(c) = nth(multi, i, &h.revision, &h.revisions)
                && c != commit
                && !earlier.contains(&c)
            {
                earlier.push(c);
            }
        }
        out.push(Applied {
            sync: ClusterSync {
                cluster: cluster.clone(),
                commit,
                synced_at: applied_at,
                tagger: Some(format!("argocd {name_shown}")),
            },
            application: name.clone(),
            repo,
            sync_status: sync.and_then(|s| word(&s.status)),
            health: status
                .and_then(|s| s.health.as_ref())
                .and_then(|h| word(&h.status)),
            phase,
            history: earlier,
            attempted,
        });
    }
    out
}

/// The newest commit of source `i` the cluster runs: what the live state was compared with
/// when it is `Synced`; else the last successful sync (history), else the last operation
/// when it succeeded.
fn current(
    multi: bool,
    i: usize,
    sync: Option<&SyncStatus>,
    op: Option<&OperationState>,
    history: &[&History],
) -> Option<String> {
    if let Some(s) = sync.filter(|s| s.status.as_deref() == Some("Synced"))
        && let Some(c) = nth(multi, i, &s.revision, &s.revisions)
    {
        return Some(c);
    }
    if let Some(h) = history.first() {
        return nth(multi, i, &h.revision, &h.revisions);
    }
    operated(
        multi,
        i,
        op.filter(|o| o.phase.as_deref() == Some("Succeeded")),
    )
}

/// The commit of source `i` the last operation synced, or tried to: its result's revision,
/// else the one it was asked to sync.
fn operated(multi: bool, i: usize, op: Option<&OperationState>) -> Option<String> {
    let op = op?;
    let result = op.sync_result.as_ref();
    let asked = op.operation.as_ref().and_then(|o| o.sync.as_ref());
    result
        .and_then(|r| nth(multi, i, &r.revision, &r.revisions))
        .or_else(|| asked.and_then(|s| nth(multi, i, &s.revision, &s.revisions)))
}

/// The last operation as a source running `commit` shows it: its phase when it synced what
/// runs (`on_running`), else an attempt of the commit it `tried` when that is another one;
/// nothing when it is not known which commit it was on, or it changed only other sources.
fn last_operation(
    op: Option<&OperationState>,
    commit: &str,
    tried: Option<&str>,
    on_running: bool,
) -> (Option<String>, Option<Attempt>) {
    let (Some(op), Some(tried)) = (op, tried) else {
        return (None, None);
    };
    let phase = word(&op.phase);
    if on_running {
        return (phase, None);
    }
    let attempt = (tried != commit).then(|| Attempt {
        commit: tried.to_string(),
        phase,
        finished_at: op.finished_at,
    });
    (None, attempt)
}

/// When `commit` was applied: the last operation's finish when it succeeded on that commit,
/// else the newest history entry of it.
fn applied_at(
    multi: bool,
    i: usize,
    commit: &str,
    op: Option<&OperationState>,
    history: &[&History],
) -> Option<DateTime<Utc>> {
    let by_op = op
        .filter(|o| o.phase.as_deref() == Some("Succeeded"))
        .filter(|o| operated(multi, i, Some(o)).is_some_and(|c| c == commit))
        .and_then(|o| o.finished_at);
    by_op.or_else(|| {
        history
            .iter()
            .find(|h| nth(multi, i, &h.revision, &h.revisions).is_some_and(|c| c == commit))
            .and_then(|h| h.deployed_at)
    })
}
