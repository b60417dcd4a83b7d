//! How many requests each provider made, by the status it got: counted by the shared HTTP
//! helper for the whole process, read by a server's `/metrics`. The keys are bounded: a
//! provider is named by configuration (not by records), and a status is a code from 100 to
//! 599, or "error" when no answer came.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// Requests of one provider that ended with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    /// The provider, as its client names itself (`github api.github.com`).
    pub provider: String,
    /// The HTTP status (`200`, `304`, `429`), or `error` when no answer came.
    pub status: String,
    /// How many requests, retries included.
    pub count: u64,
}

type Counts = BTreeMap<(String, Option<u16>), u64>;

fn counts() -> &'static Mutex<Counts> {
    static COUNTS: OnceLock<Mutex<Counts>> = OnceLock::new();
    COUNTS.get_or_init(Mutex::default)
}

/// Counts one request of `provider` answered with `status` (`None`: no answer).
pub(crate) fn count(provider: &str, status: Option<u16>) {
    let status = status.filter(|s| (100..=599).contains(s));
    let mut c = counts().lock().unwrap_or_else(|p| p.into_inner());
    match c.get_mut(&(provider.to_string(), status)) {
        Some(n) => *n += 1,
        None => {
            c.insert((provider.to_string(), status), 1);
        }
    }
}

/// Every provider's requests so far, by status, in a stable order.
pub fn request_counts() -> Vec<RequestCount> {
    let c = counts().lock().unwrap_or_else(|p| p.into_inner());
    c.iter()
        .map(|((provider, status), n)| RequestCount {
            provider: provider.clone(),
            status: status.map_or_else(|| "error".to_string(), |s| s.to_string()),
            count: *n,
        })
        .collect()
}
