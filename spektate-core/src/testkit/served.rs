//! What a fake API answered, as the provider conformance suites count it.

/// One request a fake of a provider's API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The status answered.
    pub status: u16,
    /// Whether the request carried `If-None-Match`.
    pub conditional: bool,
}

impl Served {
    /// Whether it was answered `304 Not Modified` to a conditional request: revalidated, and
    /// free where the service does not count 304s against its rate limit.
    pub fn revalidated(&self) -> bool {
        self.conditional && self.status == 304
    }
}

/// The requests served after the first `before`, one a line, for failure messages.
pub fn describe(served: &[Served], before: usize) -> String {
    served
        .iter()
        .skip(before)
        .map(|s| format!("  {} {} -> {}", s.method, s.target, s.status))
        .collect::<Vec<_>>()
        .join("\n")
}
