//! Annotated tag objects kept across processes ([`Fact::TagObject`]): a provider resolving
//! sync tags asks the cache first for the objects a tag listing names, and keeps those it had
//! to fetch. A cache that cannot be read or written is logged and providers are asked: it
//! never fails a lookup.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Answer, AnswerKey, AnswersCache, Fact, TagObject};

/// The kind tag objects are kept under.
const KIND: &str = "tagObject";

/// The tag objects of repository `repo_key` kept under these SHAs, by SHA.
pub async fn find(
    cache: &Arc<dyn AnswersCache>,
    repo_key: &str,
    shas: &[String],
) -> HashMap<String, TagObject> {
    if shas.is_empty() {
        return HashMap::new();
    }
    let keys: Vec<AnswerKey> = shas
        .iter()
        .map(|sha| AnswerKey {
            namespace: repo_key.to_string(),
            kind: KIND.to_string(),
            id: sha.clone(),
        })
        .collect();
    let reader = cache.clone();
    let found = match tokio::task::spawn_blocking(move || reader.find(&keys)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return unusable(cache, "read", &e),
        Err(e) => return unusable(cache, "read", &e),
    };
    found
        .into_iter()
        .filter(|a| a.namespace == repo_key)
        .filter_map(|a| match a.fact {
            Fact::TagObject(t) => Some((a.id, t)),
            _ => None,
        })
        .collect()
}

/// Keeps these tag objects of repository `repo_key`, by SHA.
pub async fn keep(
    cache: &Arc<dyn AnswersCache>,
    repo_key: &str,
    objects: Vec<(String, TagObject)>,
) {
    if objects.is_empty() {
        return;
    }
    let answers: Vec<Answer> = objects
        .into_iter()
        .map(|(sha, t)| Answer {
            namespace: repo_key.to_string(),
            id: sha,
            fact: Fact::TagObject(t),
        })
        .collect();
    let writer = cache.clone();
    match tokio::task::spawn_blocking(move || writer.save(&answers)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            unusable(cache, "write", &e);
        }
        Err(e) => {
            unusable(cache, "write", &e);
        }
    }
}

fn unusable(
    cache: &Arc<dyn AnswersCache>,
    what: &str,
    why: &dyn std::fmt::Display,
) -> HashMap<String, TagObject> {
    tracing::warn!(
        "{}: {what} tag objects: {why}; the provider is asked instead",
        cache.describe()
    );
    HashMap::new()
}
