//! `POST /api/flux` and `/api/flux/{cluster}`: events of Flux v2's notification-controller.
//!
//! Checked in order, nothing written unless all pass: the body (size, arrival); the
//! signature (`X-Signature` of a `generic-hmac` Provider, checked against the configured
//! secret, a wrong one never taken; none only when unsigned events are allowed, and then,
//! without a secret, any is taken unchecked); the event; the partition (the URL's, or the
//! Alert's `eventMetadata.partition`, which the signature covers; both must agree); the
//! report ([`FluxEvent::report`]). A Kustomization's or HelmRelease's successful reconciliation is
//! the commit applied in the cluster, an event of severity `error` the cluster's failure on
//! that commit; other events are answered 202 and ignored, so Flux does not send them
//! again.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use spektate_core::ingest::flux::{FluxEvent, Reading};

use super::signature;
use super::{HookState, Refused};
use crate::api::json;

/// `POST /api/flux/{cluster}`.
pub(crate) async fn event_of_cluster(
    State(state): State<Arc<HookState>>,
    Path(cluster): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(&state, Some(cluster), raw.as_deref(), &headers, body).await
}

/// `POST /api/flux`: the cluster is the Alert's `eventMetadata.cluster`.
pub(crate) async fn event(
    State(state): State<Arc<HookState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(&state, None, raw.as_deref(), &headers, body).await
}

async fn answer(
    state: &HookState,
    cluster: Option<String>,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let named = super::named_partition(raw)?;
        let bytes = super::read_body(headers, body).await?;
        authenticate(state, headers, &bytes)?;
        let event = FluxEvent::parse(&bytes)?;
        // The metadata's partition is signed, the URL's is not: they must agree.
        let named = event.partition(named.as_deref())?;
        let shared = super::served(&state.partitions, named.as_deref())?;
        match event.report(cluster.as_deref())? {
            Reading::Ignored(why) => Ok((StatusCode::ACCEPTED, json!({"ignored": why}))),
            Reading::Report(report) => {
                let written = super::write_report(shared, "flux", report).await?;
                Ok((StatusCode::OK, written))
            }
        }
    }
    .await;
    let result: Result<_, Refused> = result;
    match result {
        Ok((status, body)) => json(status, &body),
        Err(refused) => {
            state
                .partitions
                .default_one()
                .metrics
                .refused("flux", refused.status.as_u16());
            refused.response()
        }
    }
}

/// The event's signature, as the configured Flux hook wants it.
fn authenticate(state: &HookState, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
    let Some(flux) = &state.hooks.flux else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "Flux events are not taken",
        ));
    };
    let presented = match headers.get("x-signature").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return Err(Refused::unauthorized("X-Signature is not visible ASCII")),
    };
    match (presented, &flux.secret) {
        (Some(sig), Some(secret)) => signature::verify(sig, body, secret.expose().as_bytes())
            .map_err(|bad| Refused::unauthorized(bad.to_string())),
        (None, _) if flux.allow_unsigned => Ok(()),
        (Some(_), None) if flux.allow_unsigned => Ok(()),
        (None, _) => Err(Refused::unauthorized(
            "the event has no X-Signature; use a generic-hmac Provider with the server's secret (unsigned events are not allowed)",
        )),
        (Some(_), None) => Err(Refused::unauthorized(
            "the server has no Flux secret to check X-Signature with",
        )),
    }
}
