//! Insights from the deployments a tracker holds: the DORA metrics ([`dora`](mod@dora))
//! with their performance bands ([`bands`]), the expected time a deployment in progress is
//! live ([`eta`]), one deployment's journey as a timeline ([`timeline`](mod@timeline)), and
//! as an OpenTelemetry trace ([`trace`], encoded by [`otlp`] and [`otlp_proto`]).
//! Pure functions over [`Deployment`](crate::Deployment)s: no I/O, no clock but the `now`
//! given.

pub mod bands;
pub mod dora;
pub mod eta;
mod journey;
pub mod otlp;
pub mod otlp_proto;
pub mod text;
pub mod timeline;
pub mod trace;

pub use bands::Band;
pub use dora::{Dora, Figures, GroupBy, MetricsOptions, dora};
pub use eta::{Basis, Eta, EtaModel, EtaStep};
pub use journey::{Journey, Segment};
pub use timeline::{Lane, Span, SpanKind, Timeline, timeline};

/// The median of sorted `values`: the middle one, or the mean of the two middle ones.
pub fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(((sorted[n / 2 - 1] as i128 + sorted[n / 2] as i128) / 2) as i64),
    }
}

/// The `q` quantile (0 < q ≤ 1) of sorted `values` by nearest rank: the smallest value with
/// at least a share `q` of the values at or below it (the p90 of ten values is the ninth).
pub fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7));
        assert_eq!(median(&[1, 3, 10, 20]), Some(6));
        assert_eq!(median(&[1, 3, 10]), Some(3));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 0.9), Some(9));
        assert_eq!(nearest_rank(&ten[..5], 0.9), Some(5));
        assert_eq!(nearest_rank(&[4], 0.9), Some(4));
    }
}
