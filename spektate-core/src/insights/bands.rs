//! The DORA performance bands of each figure, after the software delivery performance
//! clusters of the 2024 Accelerate State of DevOps report:
//!
//! | band | deployment frequency | lead time for changes | change failure rate | time to restore |
//! |---|---|---|---|---|
//! | elite | on demand: at least once a day | under a day | at most 5 % | under an hour |
//! | high | at least once a week | under a week | at most 10 % | under a day |
//! | medium | at least once a month (30 days) | under a month (30 days) | at most 20 % | under a week |
//! | low | less often | a month or more | more | a week or more |
//!
//! The report's clusters had change failure rates of 5 % (elite), 20 % (high), 10 % (medium)
//! and 40 % (low); as its high and medium values are not in order, the bands take 5, 10 and
//! 20 % as the upper bounds of elite, high and medium. Its medium cluster restored in under a
//! day, like high; the medium band here reaches to a week, where its low cluster began.

use serde::{Deserialize, Serialize};

/// A DORA performance band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Band {
    /// The best.
    Elite,
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low.
    Low,
}

impl Band {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
const MONTH: i64 = 30 * DAY;

/// The thresholds of each band, one line per figure, as `spektate metrics` prints them.
pub const THRESHOLDS: [(&str, &str); 4] = [
    (
        "deployment frequency",
        "elite >= 1/day, high >= 1/week, medium >= 1/month (30 days), low less",
    ),
    (
        "lead time (median)",
        "elite < 1 day, high < 1 week, medium < 30 days, low 30 days or more",
    ),
    (
        "change failure rate",
        "elite <= 5%, high <= 10%, medium <= 20%, low more",
    ),
    (
        "time to restore (median)",
        "elite < 1 hour, high < 1 day, medium < 1 week, low 1 week or more",
    ),
];

/// The band of a deployment frequency, in deployments per day.
pub fn frequency(per_day: f64) -> Band {
    if per_day >= 1.0 {
        Band::Elite
    } else if per_day >= 1.0 / 7.0 {
        Band::High
    } else if per_day >= 1.0 / 30.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median lead time, in seconds.
pub fn lead_time(secs: i64) -> Band {
    by_duration(secs, [DAY, WEEK, MONTH])
}

/// The band of a change failure rate (0 to 1).
pub fn change_failure_rate(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.10 {
        Band::High
    } else if rate <= 0.20 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median time to restore, in seconds.
pub fn time_to_restore(secs: i64) -> Band {
    by_duration(secs, [HOUR, DAY, WEEK])
}

fn by_duration(secs: i64, under: [i64; 3]) -> Band {
    if secs < under[0] {
        Band::Elite
    } else if secs < under[1] {
        Band::High
    } else if secs < under[2] {
        Band::Medium
    } else {
        Band::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_threshold_falls_in_the_band_the_table_says() {
        assert_eq!(frequency(3.0), Band::Elite);
        assert_eq!(frequency(1.0), Band::Elite);
        assert_eq!(frequency(0.99), Band::High);
        assert_eq!(frequency(1.0 / 7.0), Band::High);
        assert_eq!(frequency(0.1), Band::Medium);
        assert_eq!(frequency(1.0 / 31.0), Band::Low);
        assert_eq!(lead_time(DAY - 1), Band::Elite);
        assert_eq!(lead_time(DAY), Band::High);
        assert_eq!(lead_time(WEEK), Band::Medium);
        assert_eq!(lead_time(MONTH), Band::Low);
        assert_eq!(change_failure_rate(0.05), Band::Elite);
        assert_eq!(change_failure_rate(0.1), Band::High);
        assert_eq!(change_failure_rate(0.2), Band::Medium);
        assert_eq!(change_failure_rate(0.21), Band::Low);
        assert_eq!(time_to_restore(59 * 60), Band::Elite);
        assert_eq!(time_to_restore(HOUR), Band::High);
        assert_eq!(time_to_restore(DAY), Band::Medium);
        assert_eq!(time_to_restore(WEEK), Band::Low);
    }
}
