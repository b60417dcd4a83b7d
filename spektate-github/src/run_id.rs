//! Recorded run ids: a workflow run (`run:123`) or a job (`job:456`).

use std::fmt;

use spektate_core::{Error, Result};

/// What a recorded id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum IdKind {
    /// A workflow run: `${{ github.run_id }}`, `GET /repos/{owner}/{repo}/actions/runs/{id}`.
    #[default]
    Run,
    /// A job of a workflow run, as the reference tool recorded:
    /// `GET /repos/{owner}/{repo}/actions/jobs/{id}`.
    Job,
    /// A bare number is a workflow run when the repository has one of that id, else a job
    /// (tables written by bedrock or the original pipelines hold job ids): one more request
    /// per id that is not a run, and what it found is remembered. Only for bare numbers;
    /// `run:N` and `job:N` say what they are.
    Auto,
}

impl IdKind {
    /// The prefix that names this kind in a recorded id (`run`, `job`).
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Run => "run",
            IdKind::Job => "job",
            IdKind::Auto => "auto",
        }
    }
}

/// A parsed GitHub Actions id: `run:123`, `job:456`, or a bare number whose kind is
/// configured ([`IdKind::Run`] unless said otherwise).
///
/// ```
/// use spektate_github::{IdKind, RunId};
/// assert_eq!(RunId::parse("run:254907244", IdKind::Run).unwrap(), RunId::run(254907244));
/// assert_eq!(RunId::parse("JOB:1115488431", IdKind::Run).unwrap(), RunId::job(1115488431));
/// assert_eq!(RunId::parse("254907244", IdKind::Job).unwrap(), RunId::job(254907244));
/// assert!(RunId::parse("release-42", IdKind::Run).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    /// Run or job.
    pub kind: IdKind,
    /// The numeric id GitHub assigned.
    pub id: u64,
}

impl RunId {
    /// A workflow run id.
    pub fn run(id: u64) -> Self {
        RunId {
            kind: IdKind::Run,
            id,
        }
    }

    /// A job id.
    pub fn job(id: u64) -> Self {
        RunId {
            kind: IdKind::Job,
            id,
        }
    }

    /// Parses a recorded id; a bare number is of kind `bare`.
    pub fn parse(value: &str, bare: IdKind) -> Result<Self> {
        let v = value.trim();
        let (kind, digits) = match v.split_once(':') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("run") => (IdKind::Run, rest),
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("job") => (IdKind::Job, rest),
            Some(_) => return Err(invalid(value)),
            None => (bare, v),
        };
        let digits = digits.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(value));
        }
        match digits.parse::<u64>() {
            Ok(id) if id > 0 => Ok(RunId { kind, id }),
            _ => Err(invalid(value)),
        }
    }
}

fn invalid(value: &str) -> Error {
    Error::invalid(
        "GitHub Actions run id",
        format!(
            "'{}' is not a number, run:NUMBER or job:NUMBER",
            value.trim()
        ),
    )
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            // Not yet known to be a run or a job: shown as recorded.
            IdKind::Auto => write!(f, "{}", self.id),
            kind => write!(f, "{}:{}", kind.prefix(), self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_choose_the_kind_and_bare_numbers_take_the_default() {
        assert_eq!(
            RunId::parse(" run:42 ", IdKind::Job).unwrap(),
            RunId::run(42)
        );
        assert_eq!(RunId::parse("job:7", IdKind::Run).unwrap(), RunId::job(7));
        assert_eq!(RunId::parse("42", IdKind::Run).unwrap(), RunId::run(42));
        assert_eq!(RunId::parse("42", IdKind::Job).unwrap(), RunId::job(42));
        assert_eq!(RunId::job(7).to_string(), "job:7");
        let auto = RunId::parse("42", IdKind::Auto).unwrap();
        assert_eq!((auto.kind, auto.to_string()), (IdKind::Auto, "42".into()));
        assert_eq!(
            RunId::parse("job:42", IdKind::Auto).unwrap(),
            RunId::job(42)
        );
        assert!(RunId::parse("auto:42", IdKind::Run).is_err());
    }

    #[test]
    fn other_values_are_errors_naming_the_value() {
        for bad in [
            "",
            "run:",
            "job:x",
            "step:3",
            "12a",
            "-4",
            "0",
            "run:99999999999999999999999",
        ] {
            let e = RunId::parse(bad, IdKind::Run).unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{}'", bad.trim())) && e.contains("run:NUMBER"),
                "{bad}: {e}"
            );
        }
    }
}
