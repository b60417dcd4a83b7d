//! What has been read of repositories' run lists, shared by the lookups that overlap in time.
//!
//! The tracker asks for builds (p1, p3) and releases (p2 when it is a run of its own) at the
//! same moment, in two calls that both want runs of the same source repositories. While any
//! call is under way, the pages one call read serve the others, so a repository's list is
//! read once for both; when the last call ends the pages are forgotten, and the next refresh
//! revalidates them with their ETags.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::payloads::WorkflowRun;

/// The run lists read by the calls under way.
#[derive(Debug, Default)]
pub(crate) struct RunLists {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    calls: usize,
    repos: HashMap<String, Arc<tokio::sync::Mutex<RunList>>>,
}

/// What has been read of one repository's run list, newest first.
#[derive(Debug, Default)]
pub(crate) struct RunList {
    /// The runs read, by id.
    pub runs: HashMap<u64, WorkflowRun>,
    /// Where the list goes on.
    pub next: Next,
    /// Pages read.
    pub pages: u32,
    /// The oldest (lowest) run id read.
    pub oldest: Option<u64>,
}

/// The page of a run list to read next.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing read yet: the first page.
    #[default]
    First,
    /// The page the last one's `Link` header named.
    Page(String),
    /// The list ended.
    End,
}

/// One call under way; the pages are forgotten when the last one drops.
pub(crate) struct Call<'a> {
    lists: &'a RunLists,
}

impl RunLists {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a call under way until the guard drops.
    pub fn enter(&self) -> Call<'_> {
        self.lock().calls += 1;
        Call { lists: self }
    }

    /// The list of the repository `key`, for the calls under way to read and extend one at
    /// a time.
    pub fn of(&self, key: &str) -> Arc<tokio::sync::Mutex<RunList>> {
        self.lock()
            .repos
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        let mut state = self.lists.lock();
        state.calls -= 1;
        if state.calls == 0 {
            state.repos.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_share_a_list_until_the_last_one_ends() {
        let lists = RunLists::default();
        let first = lists.enter();
        lists
            .of("github.com/fabrikam/svc-1")
            .try_lock()
            .unwrap()
            .pages = 2;
        let second = lists.enter();
        drop(first);
        assert_eq!(
            lists
                .of("github.com/fabrikam/svc-1")
                .try_lock()
                .unwrap()
                .pages,
            2,
            "the second call still sees what the first read"
        );
        drop(second);
        let _third = lists.enter();
        let list = lists.of("github.com/fabrikam/svc-1");
        let list = list.try_lock().unwrap();
        assert_eq!(
            (list.pages, &list.next),
            (0, &Next::First),
            "a later call reads again"
        );
    }
}
