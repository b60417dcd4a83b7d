//! The partitions a server serves: one tracker, refresh and health each, the first the
//! default for requests that name none.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Shared;
use crate::api::json;
use crate::auth::Grant;

/// The partitions served, the default first; never empty.
pub(crate) struct Partitions {
    list: Vec<Arc<Shared>>,
}

impl Partitions {
    pub(crate) fn new(list: Vec<Arc<Shared>>) -> Self {
        debug_assert!(!list.is_empty());
        Partitions { list }
    }

    /// The partition of requests that name none.
    pub(crate) fn default_one(&self) -> &Arc<Shared> {
        &self.list[0]
    }

    pub(crate) fn all(&self) -> &[Arc<Shared>] {
        &self.list
    }

    /// The partitions' names, the default first.
    pub(crate) fn names(&self) -> Vec<String> {
        self.list
            .iter()
            .map(|s| s.tracker.partition().to_string())
            .collect()
    }

    /// The partition named `name` (the default when none) if `grant` may read it; else the
    /// answer: a refusal for any name it may not read, served or not, so a viewer learns
    /// nothing of the partitions of others, and a 404 naming those it may read.
    pub(crate) fn readable(
        &self,
        name: Option<&str>,
        grant: &Grant,
    ) -> Result<Arc<Shared>, Box<Response>> {
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty())
            && !grant.allows(name)
        {
            let shown: String = name.chars().take(200).collect();
            return Err(Box::new(grant.refusal(&shown).into_response()));
        }
        let shared = self
            .find(name)
            .map_err(|unknown| Box::new(unknown.response(grant)))?;
        let partition = shared.tracker.partition();
        if !grant.allows(partition) {
            return Err(Box::new(grant.refusal(partition).into_response()));
        }
        Ok(shared.clone())
    }

    /// The partition named `name`, or the default when `name` is none or empty.
    pub(crate) fn find(&self, name: Option<&str>) -> Result<&Arc<Shared>, Unknown> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => Ok(self.default_one()),
            Some(name) => self
                .list
                .iter()
                .find(|s| s.tracker.partition() == name)
                .ok_or_else(|| Unknown {
                    name: name.chars().take(200).collect(),
                    served: self.names(),
                }),
        }
    }
}

/// A partition the server does not serve.
#[derive(Debug)]
pub(crate) struct Unknown {
    pub(crate) name: String,
    pub(crate) served: Vec<String>,
}

impl Unknown {
    /// What the answer says, naming every served partition (for a writer, once known).
    pub(crate) fn message(&self) -> String {
        self.naming(&self.served)
    }

    fn naming(&self, served: &[String]) -> String {
        if served.is_empty() {
            return format!("this server does not serve partition '{}'", self.name);
        }
        format!(
            "this server does not serve partition '{}'; it serves {}",
            self.name,
            served.join(", ")
        )
    }

    /// A JSON 404 naming the partition, and of those served only the ones `grant` may read.
    pub(crate) fn response(&self, grant: &Grant) -> Response {
        let readable: Vec<String> = self
            .served
            .iter()
            .filter(|p| grant.allows(p))
            .cloned()
            .collect();
        json(
            StatusCode::NOT_FOUND,
            &json!({"error": self.naming(&readable), "field": "partition", "value": self.name}),
        )
    }
}
