//! What a conformance suite ran.

/// The cases a provider conformance suite ran, and those it skipped with the reason (a
/// behaviour the service does not have, such as ETags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Cases that ran and passed (a failing case panics with its name).
    pub passed: Vec<&'static str>,
    /// Cases skipped, with why.
    pub skipped: Vec<(&'static str, &'static str)>,
}

impl Report {
    pub(crate) fn pass(&mut self, case: &'static str) {
        self.passed.push(case);
    }

    pub(crate) fn skip(&mut self, case: &'static str, why: &'static str) {
        self.skipped.push((case, why));
    }
}
