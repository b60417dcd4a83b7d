//! CDEvents v0.4 (`0.4.1`): `dev.cdevents.service.deployed.0.2.0` when a deployment is the
//! first of its service live in a cluster, `dev.cdevents.service.upgraded.0.2.0` when it
//! replaced another there. Sent in the CloudEvents HTTP binary mode: the CDEvent is the JSON
//! body, and `ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-subject` and `ce-time`
//! repeat its context, as the CDEvents CloudEvents binding says.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spektate_core::events::{Event, EventKind};

use super::message::cut;

/// The CDEvents specification version.
pub(crate) const SPEC_VERSION: &str = "0.4.1";
/// The event type of a first deployment of a service in an environment.
pub(crate) const DEPLOYED: &str = "dev.cdevents.service.deployed.0.2.0";
/// The event type of a new version replacing another.
pub(crate) const UPGRADED: &str = "dev.cdevents.service.upgraded.0.2.0";

/// Percent-encodes what a package URL's name or qualifier value may not hold as is.
fn purl_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The deployed artifact as a package URL: `pkg:oci/frontend?tag=frontend-1001` for an
/// image, `pkg:generic/hld@<commit>` for a manual HLD edit.
fn artifact_id(e: &Event) -> Option<String> {
    let d = &e.deployment;
    if let Some(tag) = d.image_tag() {
        let name = d.service().unwrap_or(tag);
        return Some(format!(
            "pkg:oci/{}?tag={}",
            purl_encode(&cut(name)),
            purl_encode(&cut(tag))
        ));
    }
    let repo = d.hld_repo.as_deref()?;
    let commit = d.hld_commit_id()?;
    Some(format!(
        "pkg:generic/{}@{}",
        purl_encode(&cut(&repo.name)),
        purl_encode(&cut(commit))
    ))
}

/// An id stable for a deployment and cluster, so a receiver can tell a resent event.
fn event_id(partition: &str, id: &str, cluster: &str) -> String {
    let digest = Sha256::digest(format!("{partition}\n{id}\n{cluster}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The CDEvent of a `Live` event (`None` for other events, and for a deployment with
/// neither an image nor an HLD commit to name the artifact).
pub(crate) fn cdevent(e: &Event) -> Option<Value> {
    let EventKind::Live {
        cluster,
        commit,
        exact,
        replaced,
        ..
    } = &e.kind
    else {
        return None;
    };
    let d = &e.deployment;
    let kind = if replaced.is_some() {
        UPGRADED
    } else {
        DEPLOYED
    };
    let source = format!("/spektate/{}", purl_encode(&cut(d.partition())));
    let service = d.service().or(d.image_tag()).unwrap_or("hld");
    Some(json!({
        "context": {
            "version": SPEC_VERSION,
            "id": event_id(d.partition(), d.id(), cluster),
            "source": source,
            "type": kind,
            "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "subject": {
            "id": format!("service/{}", cut(service)),
            "source": source,
            "type": "service",
            "content": {
                "environment": {"id": cut(cluster), "source": source},
                "artifactId": artifact_id(e)?,
            }
        },
        "customData": {
            "spektate": {
                "deploymentId": cut(d.id()),
                "ring": d.ring().map(cut),
                "imageTag": d.image_tag().map(cut),
                "commitId": d.commit_id().map(cut),
                "manifestCommitId": d.manifest_commit_id().map(cut),
                "clusterCommit": cut(commit),
                "exact": exact,
                "replaced": replaced,
            }
        },
        "customDataContentType": "application/json"
    }))
}

/// The CloudEvents headers of a CDEvent (binary mode), `(name, value)`, each value
/// percent-encoded as the CloudEvents HTTP binding requires ([`header_value`]).
pub(crate) fn headers(event: &Value) -> Vec<(&'static str, String)> {
    let s = |v: &Value| header_value(v.as_str().unwrap_or_default());
    let ctx = &event["context"];
    vec![
        ("ce-specversion", "1.0".to_string()),
        ("ce-id", s(&ctx["id"])),
        ("ce-source", s(&ctx["source"])),
        ("ce-type", s(&ctx["type"])),
        ("ce-subject", s(&event["subject"]["id"])),
        ("ce-time", s(&ctx["timestamp"])),
    ]
}

/// An attribute as a CloudEvents header value (HTTP protocol binding 1.0.2, section 3.1.3.2):
/// space, double quote, percent and every byte outside printable ASCII as `%XY` of its
/// UTF-8, so a service named `café api` arrives as its receiver decodes it, and one with a
/// line break is not refused by the HTTP helper.
fn header_value(attribute: &str) -> String {
    let mut out = String::with_capacity(attribute.len());
    for b in attribute.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_percent_encoded_as_the_cloudevents_binding_says() {
        let event = json!({
            "context": {"id": "4f1c-aa", "source": "/spektate/fabrikam", "type": DEPLOYED,
                        "timestamp": "2026-12-02T10:00:00.000Z"},
            "subject": {"id": "service/café \"api\" 100%\tnew\nline"},
        });
        let headers = headers(&event);
        let h = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.as_str();
        assert_eq!(
            h("ce-subject"),
            "service/caf%C3%A9%20%22api%22%20100%25%09new%0Aline"
        );
        // What needs no encoding is sent as it is.
        assert_eq!(h("ce-source"), "/spektate/fabrikam");
        assert_eq!(h("ce-time"), "2026-12-02T10:00:00.000Z");
        assert_eq!(h("ce-type"), DEPLOYED);
        // Every value is printable ASCII without space, quote or a bare percent.
        for (name, value) in &headers {
            assert!(
                value
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"'),
                "{name}: {value}"
            );
        }
    }
}
