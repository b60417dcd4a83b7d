//! `POST /api/flux` and `/api/flux/{cluster}`: events of Flux v2's notification-controller.
//!
//! Checked in order, nothing written unless all pass: that a signature is there when one is
//! needed; the body (size, arrival; at most [`BODIES_READ_AT_ONCE`] read at once, since a
//! body is read before its signature can be checked); the signature (`X-Signature` of a `generic-hmac` Provider, checked against the configured
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

/// Flux events whose bodies are read at once: a signature covers the body, so a body is read
/// before anything says who sent it, and a client with no secret that sends bodies slowly
/// holds at most these requests, not every connection of the server. More are answered 503,
/// which notification-controller retries.
pub(crate) const BODIES_READ_AT_ONCE: usize = 32;

async fn answer(
    state: &HookState,
    cluster: Option<String>,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let named = super::named_partition(raw)?;
        let signature = admit(state, headers)?;
        let reading = state.flux_reads.try_acquire().map_err(|_| {
            Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{BODIES_READ_AT_ONCE} Flux events are being received already; send it again"
                ),
            )
        })?;
        let bytes = super::read_body(headers, body).await?;
        drop(reading);
        verify(signature, &bytes)?;
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

/// A signature to check once the body is read, if one is to be checked.
type Signature<'a> = Option<(&'a str, &'a spektate_core::http::Secret)>;

/// Whether the configured Flux hook takes an event with these headers, before its body is
/// read; the signature to check against the body, when there is one to check.
fn admit<'a>(state: &'a HookState, headers: &'a HeaderMap) -> Result<Signature<'a>, Refused> {
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
        (Some(sig), Some(secret)) => Ok(Some((sig, secret))),
        (None, _) if flux.allow_unsigned => Ok(None),
        (Some(_), None) if flux.allow_unsigned => Ok(None),
        (None, _) => Err(Refused::unauthorized(
            "the event has no X-Signature; use a generic-hmac Provider with the server's secret (unsigned events are not allowed)",
        )),
        (Some(_), None) => Err(Refused::unauthorized(
            "the server has no Flux secret to check X-Signature with",
        )),
    }
}

/// Checks `signature` against the body, when [`admit`] gave one.
fn verify(signature: Signature<'_>, body: &[u8]) -> Result<(), Refused> {
    match signature {
        Some((sig, secret)) => signature::verify(sig, body, secret.expose().as_bytes())
            .map_err(|bad| Refused::unauthorized(bad.to_string())),
        None => Ok(()),
    }
}
