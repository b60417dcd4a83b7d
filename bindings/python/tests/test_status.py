"""Tracker.status: where each service is running, as ``spektate status -o json`` says."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import spektate

from conftest import spektate_cli

HLD = "https://github.com/fabrikam/hld"
MANIFESTS = "https://github.com/fabrikam/manifests"
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


def test_status_says_where_each_service_runs_as_the_cli_does(db: Path) -> None:
    async def record() -> None:
        recorder = spektate.Recorder(db, partition="fabrikam")
        m1 = await journey(recorder, 1001, "frontend", T0)
        m2 = await journey(recorder, 2001, "backend", T0 + timedelta(minutes=10))
        await journey(recorder, 1002, "frontend", T0 + timedelta(minutes=60))
        await recorder.cluster_synced("west-us", m1, reporter="flux")
        await recorder.cluster_synced("east-us", m2, reporter="flux")

    asyncio.run(record())
    tracker = spektate.Tracker(db, partition="fabrikam")
    rows = tracker.status_blocking()
    assert [(r["service"], r["cluster"], r["imageTag"], r["exact"]) for r in rows] == [
        ("backend", "east-us", "backend-2001", True),
        ("frontend", "east-us", "frontend-1001", False),
        ("frontend", "west-us", "frontend-1001", True),
    ]
    east = rows[1]
    assert east["commit"] == sha(2001, "c"), "east-us runs the backend's later commit"
    assert east["behind"]["images"] == 1 and east["behind"]["newestTag"] == "frontend-1002"
    assert east["behind"]["newestBuiltAt"] is not None
    assert datetime.fromisoformat(east["behind"]["newestBuiltAt"].replace("Z", "+00:00")) == T0 + timedelta(minutes=60)

    async def west() -> list[spektate._spektate.Placement]:
        return await tracker.status(cluster="WEST-US", image_tag="frontend-1001")

    [only] = asyncio.run(west())
    assert only["cluster"] == "west-us" and only["behind"]["images"] == 1
    assert tracker.status_blocking(service="payments") == []

    cli = subprocess.run(
        [spektate_cli(), "status", "--store", f"sqlite:{db}", "-p", "fabrikam", "-o", "json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(cli.stdout) == rows
