//! `POST /api/argocd`: Argo CD Notifications' webhook, with the template of
//! `docs/gitops/argocd.md`.
//!
//! Checked in order, nothing written unless all pass: the bearer token (compared in
//! constant time with the configured one); the partition; the body (size, arrival); the
//! notification ([`ArgoCdNotification::read`]). A sync that failed is the cluster's failure
//! on the operation's revision; otherwise that revision is applied, with the application's
//! health. A notification that says nothing of what the cluster runs (a sync still running)
//! is answered `202` with the reason, and nothing is written.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use spektate_core::ingest::Reading;
use spektate_core::ingest::argocd::ArgoCdNotification;
use subtle::ConstantTimeEq;

use super::{HookState, Refused};
use crate::api::json;

/// `POST /api/argocd`.
pub(crate) async fn notification(
    State(state): State<Arc<HookState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let named = super::named_partition(raw.as_deref())?;
        authenticate(&state, &headers)?;
        let shared = super::served(&state.partitions, named.as_deref())?;
        let bytes = super::read_body(&headers, body).await?;
        match ArgoCdNotification::parse(&bytes)?.read(chrono::Utc::now())? {
            Reading::Ignored(why) => Ok((StatusCode::ACCEPTED, json!({"ignored": why}))),
            Reading::Report(report) => {
                let written = super::write_report(shared, "argocd", report).await?;
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
                .refused("argocd", refused.status.as_u16());
            let mut r = refused.response();
            if r.status() == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
            }
            r
        }
    }
}

fn authenticate(state: &HookState, headers: &HeaderMap) -> Result<(), Refused> {
    let Some(expected) = &state.hooks.argocd_token else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "Argo CD notifications are not taken",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            Refused::unauthorized(
                "no bearer token; the webhook service sends Authorization: Bearer <token>",
            )
        })?;
    // Digests first, so the comparison takes as long whatever the lengths.
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(Refused::unauthorized(
            "the bearer token is not the Argo CD hook token",
        ))
    }
}
