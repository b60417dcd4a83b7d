//! `Tracker.metrics` of both bindings: the DORA metrics (`spektate_core::insights::dora`) of
//! the deployments a filter passes, with the window and breakdown checked as `spektate
//! metrics` checks them.

use chrono::{DateTime, Utc};
use spektate::insights::{Dora, GroupBy, MetricsOptions, dora};
use spektate::{Error, Filter, Result, Tracker};

/// The window and breakdown of `Tracker.metrics` as a binding receives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsArgs {
    /// The window's start; `None` starts at the first deployment that finished.
    pub since: Option<DateTime<Utc>>,
    /// The window's end; `None` is now.
    pub until: Option<DateTime<Utc>>,
    /// `service`, `ring` (or `env`) or `week`, in any case.
    pub by: Option<String>,
}

impl MetricsArgs {
    /// The library's options at `now`, or a `ConfigError` naming `by` and its word, or
    /// `until` when the window ends before it starts.
    pub fn into_options(self, now: DateTime<Utc>) -> Result<MetricsOptions> {
        let by = self.by.as_deref().map(GroupBy::parse).transpose()?;
        let until = self.until.unwrap_or(now);
        if let Some(since) = self.since.filter(|s| *s >= until) {
            return Err(Error::invalid(
                "until",
                format!("{until} is not after the window's start ({since})"),
            ));
        }
        Ok(MetricsOptions {
            since: self.since,
            until,
            by,
        })
    }
}

/// The DORA metrics of the deployments of `tracker` that pass `filter` (refreshing first
/// when it never has), in the window of `options`. Deployments whose runs the CI no longer
/// has count whatever `filter.include_expired` says ([`Filter::counting`]).
pub async fn metrics(tracker: &Tracker, filter: &Filter, options: MetricsOptions) -> Result<Dora> {
    let deployments = tracker.deployments(&filter.counting()).await?;
    Ok(dora(&deployments, &options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn the_window_and_breakdown_become_the_library_options() {
        let o = MetricsArgs {
            since: Some(at(2)),
            until: None,
            by: Some("Ring".into()),
        }
        .into_options(at(9))
        .unwrap();
        assert_eq!(
            o,
            MetricsOptions {
                since: Some(at(2)),
                until: at(9),
                by: Some(GroupBy::Ring),
            }
        );
        let all = MetricsArgs::default().into_options(at(9)).unwrap();
        assert_eq!((all.since, all.until, all.by), (None, at(9), None));
    }

    #[test]
    fn a_bad_breakdown_or_window_is_a_config_error_naming_it() {
        let by = MetricsArgs {
            by: Some("team".into()),
            ..MetricsArgs::default()
        }
        .into_options(at(9))
        .unwrap_err();
        assert_eq!(by.kind(), "ConfigError");
        assert_eq!(
            by.to_string(),
            "invalid by: 'team' is not one of service, ring, week"
        );
        let until = MetricsArgs {
            since: Some(at(9)),
            until: Some(at(2)),
            by: None,
        }
        .into_options(at(20))
        .unwrap_err();
        assert!(
            until.to_string().starts_with("invalid until: 2026-11-02"),
            "{until}"
        );
    }
}
