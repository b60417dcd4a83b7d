//! The deadline of a refresh: every provider call made while [`within`] runs ends by it, so
//! a slow or unreachable provider costs its lookups, never the whole result.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::warnings::Reason;

/// What a call started after the deadline still gets: enough for a local answer (the
/// store's run reports), not for a remote host.
pub const GRACE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    budget: Duration,
}

tokio::task_local! {
    static DEADLINE: Deadline;
}

/// Runs `work` (a refresh, say) with every provider call in it ended `budget` from now: a
/// call still running then is dropped, and what it was asked for fails with "no answer
/// within the deadline". Calls in tasks that `work` spawns are not bounded.
pub async fn within<F: Future>(budget: Duration, work: F) -> F::Output {
    let now = Instant::now();
    // A budget no clock can reach is a year: the same as none.
    let at = now
        .checked_add(budget)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
    let deadline = Deadline { at, budget };
    DEADLINE.scope(deadline, work).await
}

/// Runs one call of `provider`, ended by the deadline when [`within`] set one; an error or
/// a timeout becomes its [`Reason`].
pub(crate) async fn call<T>(
    provider: &str,
    fut: impl Future<Output = crate::Result<T>>,
) -> Result<T, Reason> {
    let Ok(deadline) = DEADLINE.try_with(|d| *d) else {
        return fut.await.map_err(|e| Reason::of(provider, &e));
    };
    let until = deadline.at.max(Instant::now() + GRACE);
    match tokio::time::timeout_at(until, fut).await {
        Ok(got) => got.map_err(|e| Reason::of(provider, &e)),
        Err(_) => Err(Reason::new(
            provider,
            &format!(
                "no answer within the {} s deadline",
                deadline.budget.as_secs_f64()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn never() -> crate::Result<u32> {
        std::future::pending().await
    }

    #[tokio::test]
    async fn a_call_that_never_answers_ends_at_the_deadline() {
        let started = Instant::now();
        let got = within(Duration::from_millis(200), call("github h", never())).await;
        assert_eq!(
            got.unwrap_err().to_string(),
            "github h: no answer within the 0.2 s deadline"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn past_the_deadline_a_quick_answer_still_counts() {
        let got = within(Duration::from_millis(50), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            call("run reports", async { Ok(7) }).await
        })
        .await;
        assert_eq!(got.unwrap(), 7);
    }

    #[tokio::test]
    async fn without_a_deadline_calls_are_not_cut() {
        let slow = async {
            tokio::time::sleep(GRACE * 2).await;
            Ok(1)
        };
        assert_eq!(call("p", slow).await.unwrap(), 1);
    }
}
