//! The DORA metrics as plain text, as `spektate metrics` prints them.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::bands::{Band, THRESHOLDS};
use super::dora::{Dora, Figures};
use crate::render::{aligned_text, duration};

fn band(b: Option<Band>) -> String {
    b.map_or("-".into(), |b| b.as_str().into())
}

fn secs(v: Option<i64>) -> String {
    v.map_or("-".into(), duration)
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The rows of one set of figures: frequency, lead time, failure rate, restore, each with
/// its band.
fn cells(f: &Figures) -> Vec<String> {
    let df = &f.deployment_frequency;
    let lt = &f.lead_time;
    let cfr = &f.change_failure_rate;
    let ttr = &f.time_to_restore;
    vec![
        match df.per_day {
            Some(d) => format!("{d:.2}/day, {:.1}/week ({})", d * 7.0, df.completed),
            None => format!("- ({})", df.completed),
        },
        band(df.band),
        format!(
            "{} (p90 {}; {} changes, {} live)",
            secs(lt.median_secs),
            secs(lt.p90_secs),
            lt.count,
            lt.live
        ),
        band(lt.band),
        match cfr.rate {
            Some(r) => format!("{} ({} of {})", percent(r), cfr.failed, cfr.finished),
            None => "- (0 finished)".into(),
        },
        band(cfr.band),
        format!(
            "{} ({} restored, {} open)",
            secs(ttr.median_secs),
            ttr.restorations,
            ttr.unrestored
        ),
        band(ttr.band),
    ]
}

const FIGURES: [&str; 4] = [
    "Deployment frequency",
    "Lead time (median)",
    "Change failure rate",
    "Time to restore (median)",
];

/// `dora` as text: the window, where lead time starts, the figures with their bands, where
/// lead time went, the groups asked for, and the bands' thresholds.
pub fn table(dora: &Dora) -> String {
    let mut out = String::new();
    let since = dora.since.map_or("the first deployment".into(), day);
    let days = dora.overall.deployment_frequency.days;
    let _ = writeln!(
        out,
        "DORA metrics from {since} to {} ({days:.1} days)",
        day(dora.until)
    );
    let lt = &dora.overall.lead_time;
    let _ = writeln!(
        out,
        "Lead time starts at {} ({} of {} from the commit).\n",
        dora.lead_time_from, lt.from_commit, lt.count
    );
    let c = cells(&dora.overall);
    let rows: Vec<Vec<String>> = (0..4)
        .map(|i| vec![FIGURES[i].into(), c[2 * i].clone(), c[2 * i + 1].clone()])
        .collect();
    out.push_str(&aligned_text(&["Figure", "Value", "Band"], &rows));
    if let Some(s) = &dora.overall.lead_time.shares {
        let _ = writeln!(
            out,
            "\nLead time by segment: commit to image pipeline {}, image {}, metadata {}, \
             approval {}, manifests {}, sync {}",
            percent(s.commit),
            percent(s.image),
            percent(s.metadata),
            percent(s.approval),
            percent(s.manifests),
            percent(s.sync)
        );
    }
    if let Some(by) = dora.by {
        let name = match by {
            super::GroupBy::Service => "Service",
            super::GroupBy::Ring => "Ring",
            super::GroupBy::Week => "Week",
        };
        let rows: Vec<Vec<String>> = dora
            .groups
            .iter()
            .map(|g| {
                let mut row = vec![g.key.clone()];
                row.extend(cells(&g.figures));
                row
            })
            .collect();
        out.push('\n');
        out.push_str(&aligned_text(
            &[
                name,
                "Frequency",
                "Band",
                "Lead Time",
                "Band",
                "Failure Rate",
                "Band",
                "Restore",
                "Band",
            ],
            &rows,
        ));
    }
    out.push_str("\nBands (after the DORA 2024 report):\n");
    for (figure, thresholds) in THRESHOLDS {
        let _ = writeln!(out, "  {figure}: {thresholds}");
    }
    out
}
