//! `POST /api/cdevents`: CDEvents `pipelinerun` events as run reports, with a pipeline's
//! credentials (a write token, or an OIDC ID token), as `POST /api/runs` takes them.
//!
//! Checked in order, nothing written unless all pass: the credentials; the partition (after
//! the credentials, so only a pipeline learns which are served); the body (size, arrival);
//! the event ([`spektate_core::ingest::cdevents::pipeline_run`]). The report goes through
//! [`Recorder::run_reported`], so a late `queued` never moves a finished run back.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use spektate_core::Recorder;
use spektate_core::ingest::cdevents::{named_by_event, pipeline_run};

use super::Refused;
use crate::api::json;
use crate::auth;
use crate::write::Writes;

/// `POST /api/cdevents`.
pub(crate) async fn event(
    State(writes): State<Arc<Writes>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut who = None;
    let result = async {
        let named = super::named_partition(raw.as_deref())?;
        let partition = match named.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => writes
                .partitions
                .default_one()
                .tracker
                .partition()
                .to_string(),
        };
        let writer = auth::writer(&writes.tokens, writes.oidc.as_deref(), &headers, &partition)
            .await
            .map_err(|r| Refused::new(r.status, r.message))?;
        who = Some(writer.who);
        let shared = super::served(&writes.partitions, Some(&partition))?;
        let bytes = super::read_body(&headers, body).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Refused::from(spektate_core::Error::invalid(
                "body",
                format!("is not JSON: {e}"),
            ))
        })?;
        let event = pipeline_run(&value)?;
        let task = tokio::spawn(async move {
            let recorder = Recorder::new(shared.tracker.store().clone(), &partition)?;
            let stored = recorder.run_reported(&event.report).await?;
            shared.metrics.written("cdevents");
            crate::refresh::note_write(&shared);
            Ok::<_, spektate_core::Error>(json!({
                "id": stored.id,
                "partition": partition,
                "kind": "run",
                "event": event.event_id,
                "type": event.event_type,
                "status": stored.status,
                "result": stored.result,
            }))
        });
        match task.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Refused::from(named_by_event(e))),
            Err(e) => {
                tracing::error!("a CDEvents write task ended early: {e}");
                Err(Refused::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the write stopped early; send the event again",
                ))
            }
        }
    }
    .await;
    let mut response = match result {
        Ok(v) => json(StatusCode::OK, &v),
        Err(refused) => {
            writes
                .partitions
                .default_one()
                .metrics
                .refused("cdevents", refused.status.as_u16());
            refused.response()
        }
    };
    if let Some(who) = who {
        response.extensions_mut().insert(who);
    }
    response
}
