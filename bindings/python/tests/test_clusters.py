"""Deployment.live_in and Deployment.cluster_troubles: where each deployment is live and what the
clusters' agents reported wrong with its commit, as ``spektate get -o json`` says. Two Flux v2
clusters report through ``spektate serve``'s webhook, with events shaped and signed as
notification-controller's generic-hmac Provider sends them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import spektate

from conftest import cli_env, spektate_cli, stop

HLD = "https://github.com/fabrikam/hld"
MANIFESTS = "https://github.com/fabrikam/manifests"
SECRET = "flux-hmac-python-5e2a"
T0 = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=0)


def sha(n: int, fill: str) -> str:
    return f"{n:07x}" + fill * 33


async def journey(recorder: spektate.Recorder, n: int, service: str, built: datetime) -> str:
    """One image of ``service`` sent to ring dev and rendered into its manifest commit."""
    tag, hld, manifest = f"{service}-{n}", sha(n, "b"), sha(n, "c")
    p1, p2, p3 = f"1{n}", f"2{n}", f"3{n}"
    await recorder.image_built(p1=p1, image_tag=tag, commit_id=sha(n, "a"), service=f"fabrikam/{service}", repository=f"https://github.com/fabrikam/{service}")
    await recorder.metadata_updated(p2=p2, image_tag=tag, hld_commit_id=hld, env="dev", service=f"fabrikam/{service}", repository=HLD)
    await recorder.manifest_generated(p3=p3, hld_commit_id=hld)
    await recorder.manifest_committed(p3=p3, manifest_commit_id=manifest, repository=MANIFESTS)
    for run in (p1, p2, p3):
        await recorder.run_reported(run, "completed", result="succeeded", queued_at=built - timedelta(minutes=4), started_at=built - timedelta(minutes=4), finished_at=built)
    return manifest


@pytest.fixture
def flux_server(tmp_path: Path, db: Path) -> Iterator[str]:
    """`spektate serve` over the test's store, taking Flux events signed with SECRET."""
    secret = tmp_path / "flux-secret"
    secret.write_text(SECRET + "\n")
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [spektate_cli(), "serve", "--store", f"sqlite:{db}", "-p", "fabrikam", "--port", "0", "--flux-secret-file", str(secret)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=cli_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert port, f"spektate serve printed no address: {line!r}"
        yield f"http://127.0.0.1:{port.group(1)}"
    finally:
        stop(proc)


def flux(url: str, cluster: str, severity: str, reason: str, message: str, commit: str, at: datetime) -> None:
    """An event as notification-controller posts it (Go's json.Marshal of eventv1.Event), signed."""
    body = json.dumps({
        "involvedObject": {
            "kind": "Kustomization", "namespace": "flux-system", "name": "apps", "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "resourceVersion": "48213",
        },
        "severity": severity, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": message, "reason": reason,
        "metadata": {"revision": f"main@sha1:{commit}"},
        "reportingController": "kustomize-controller", "reportingInstance": "kustomize-controller-6d8f7c9b5-q2w4e",
    }, separators=(",", ":")).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{url}/api/flux/{cluster}", data=body, method="POST", headers={
        "content-type": "application/json", "gotk-component": "kustomize-controller", "x-signature": f"sha256={signature}",
    })
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200, answer.read()


def test_live_in_and_cluster_troubles_say_what_the_cli_says(db: Path, flux_server: str) -> None:
    async def record() -> tuple[str, str]:
        recorder = spektate.Recorder(db, partition="fabrikam")
        return await journey(recorder, 1001, "frontend", T0), await journey(recorder, 2001, "backend", T0 + timedelta(minutes=10))

    frontend, backend = asyncio.run(record())
    ok = "Reconciliation finished in 1.843s, next run in 10m0s"
    flux(flux_server, "west-eu", "info", "ReconciliationSucceeded", ok, frontend, T0 + timedelta(minutes=12))
    flux(flux_server, "east-us", "info", "ReconciliationSucceeded", ok, backend, T0 + timedelta(minutes=20))
    failure = "health check failed after 5m0s: timeout waiting for: [Deployment/dev/backend status: 'InProgress']"
    flux(flux_server, "west-eu", "error", "HealthCheckFailed", failure, backend, T0 + timedelta(minutes=25))

    deployments = spektate.Tracker(db, partition="fabrikam").deployments_blocking()
    by_tag = {d.image_tag: d for d in deployments}
    fe = by_tag["frontend-1001"]
    assert [(l.cluster, l.commit, l.exact) for l in fe.live_in] == [
        ("east-us", backend, False),
        ("west-eu", frontend, True),
    ], "east-us runs the backend's later commit; west-eu failed on it and still runs the frontend's"
    assert fe.live_in[1].applied_at == T0 + timedelta(minutes=12)
    assert fe.cluster_troubles == []
    be = by_tag["backend-2001"]
    assert [(l.cluster, l.exact) for l in be.live_in] == [("east-us", True)]
    [trouble] = be.cluster_troubles
    assert (trouble.cluster, trouble.commit, trouble.outcome, trouble.reason, trouble.message) == (
        "west-eu", backend, spektate.Outcome.FAILED, "HealthCheckFailed", failure,
    )
    assert (trouble.tagger, trouble.health, trouble.synced_at) == ("flux kustomization flux-system/apps", None, T0 + timedelta(minutes=25))
    assert trouble.text == "west-eu failed (HealthCheckFailed)"
    assert repr(trouble) == f"ClusterReport(cluster='west-eu', commit='{backend}', outcome='failed')"
    assert repr(fe.live_in[0]) == f"Live(cluster='east-us', commit='{backend}', exact=False)"

    cli = subprocess.run(
        [spektate_cli(), "get", "--store", f"sqlite:{db}", "-p", "fabrikam", "-o", "json"],
        capture_output=True, text=True, check=True, env=cli_env(),
    )
    assert [
        (d["id"], d["liveIn"], d["clusterTroubles"]) for d in json.loads(cli.stdout)
    ] == [
        (d.id, [l.to_dict() for l in d.live_in], [r.to_dict() for r in d.cluster_troubles]) for d in deployments
    ]
