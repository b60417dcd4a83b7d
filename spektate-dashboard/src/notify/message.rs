//! The words of a notification, shared by the Slack, Teams and JSON formats: a title and
//! labelled facts, every value from a record or provider cut to [`MAX_VALUE_CHARS`].

use chrono::{DateTime, Utc};
use spektate_core::Deployment;
use spektate_core::events::{Event, EventKind, step_word};

/// The longest value shown, in characters.
pub(crate) const MAX_VALUE_CHARS: usize = 200;

/// A notification's text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// One line saying what happened.
    pub(crate) title: String,
    /// Labelled values, in order.
    pub(crate) facts: Vec<(&'static str, String)>,
}

/// `text` cut to [`MAX_VALUE_CHARS`] characters, control characters as spaces.
pub(crate) fn cut(text: &str) -> String {
    spektate_core::text::shown(text, MAX_VALUE_CHARS)
}

/// What the deployment is called in a title: `frontend frontend-1001`.
fn what(d: &Deployment) -> String {
    match (d.service(), d.image_tag()) {
        (Some(s), Some(t)) if t.starts_with(s) => cut(t),
        (Some(s), Some(t)) => cut(&format!("{s} {t}")),
        (Some(s), None) => cut(s),
        (None, Some(t)) => cut(t),
        (None, None) => format!("deployment {}", cut(d.id())),
    }
}

fn short(commit: &str) -> String {
    cut(&commit.chars().take(12).collect::<String>())
}

/// How long from `since` to `at`: `4h 5m`, `2d 3h`, `12m`.
pub(crate) fn waited(since: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let mins = (at - since).num_minutes().max(0);
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

/// The message of an event.
pub(crate) fn message(e: &Event) -> Message {
    let d = &e.deployment;
    let name = what(d);
    let ring = d.ring().map(cut);
    let mut facts = Vec::new();
    if let Some(s) = d.service() {
        facts.push(("Service", cut(s)));
    }
    if let Some(r) = &ring {
        facts.push(("Ring", r.clone()));
    }
    if let Some(t) = d.image_tag() {
        facts.push(("Image tag", cut(t)));
    }
    let title = match &e.kind {
        EventKind::Live {
            cluster,
            commit,
            first_in_ring,
            replaced,
            exact,
        } => {
            facts.push(("Cluster", cut(cluster)));
            facts.push((
                if *exact {
                    "Manifest commit"
                } else {
                    "Cluster runs"
                },
                short(commit),
            ));
            if let Some(r) = replaced {
                facts.push((
                    "Replaces",
                    cut(r.image_tag.as_deref().unwrap_or(r.id.as_str())),
                ));
            }
            match (&ring, first_in_ring) {
                (Some(ring), true) => {
                    format!("{name} is live in {} (ring {ring} reached)", cut(cluster))
                }
                _ => format!("{name} is live in {}", cut(cluster)),
            }
        }
        EventKind::StepFailed { step, run_id } => {
            facts.push(("Run", cut(run_id)));
            let run = match step {
                spektate_core::StepName::Image => d.image.as_ref(),
                spektate_core::StepName::Metadata => d.metadata.as_ref(),
                spektate_core::StepName::Manifest => d.manifest.as_ref(),
            };
            if let Some(url) = run
                .and_then(|s| s.run.as_ref())
                .and_then(|r| r.url.as_deref())
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            {
                facts.push(("Run page", cut(url)));
            }
            format!("{name}: the {} step failed", step_word(*step))
        }
        EventKind::ApprovalWaiting { pr, since } => {
            facts.push(("Pull request", cut(pr)));
            facts.push((
                "Waiting since",
                since.format("%Y-%m-%d %H:%M UTC").to_string(),
            ));
            if let Some(url) = d
                .pull_request
                .as_ref()
                .and_then(|p| p.url.as_deref())
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            {
                facts.push(("Pull request page", cut(url)));
            }
            format!(
                "{name}: approval pull request {} has waited {}",
                cut(pr),
                waited(*since, e.at.max(Utc::now()))
            )
        }
        EventKind::Ready => format!("{name}: manifests ready, waiting for a cluster"),
        EventKind::ClusterFailed {
            cluster,
            reason,
            health,
            message,
            ..
        } => {
            facts.push(("Cluster", cut(cluster)));
            if let Some(r) = reason {
                facts.push(("Reason", cut(r)));
            }
            if let Some(h) = health {
                facts.push(("Health", cut(h)));
            }
            if let Some(m) = message {
                facts.push(("Message", cut(m)));
            }
            format!("{name}: the cluster step failed in {}", cut(cluster))
        }
    };
    if let Some(c) = d.commit_id() {
        facts.push(("Source commit", short(c)));
    }
    facts.push(("Deployment", cut(d.id())));
    Message { title, facts }
}
