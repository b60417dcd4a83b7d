"""A full journey recorded through the bindings into a SQLite file and read back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

import spektate
from spektate import DeploymentKind, RunResult, RunStatus, Status, StepState

SOURCE = "https://github.com/fabrikam/frontend"
HLD = "https://github.com/fabrikam/hld"
MANIFESTS = "https://github.com/fabrikam/manifests"
COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
HLD_COMMIT = "b2c3d4e5f60718293a4b5c6d7e8f9012345678a1"
MANIFEST_COMMIT = "c3d4e5f60718293a4b5c6d7e8f9012345678a1b2"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


async def record_journey(recorder: spektate.Recorder) -> None:
    """What the three pipelines and the cluster of the Fabrikam flow say, in order."""
    await recorder.image_built(p1="101", image_tag="frontend-101", commit_id=COMMIT, service="fabrikam/frontend", repository=SOURCE)
    await recorder.run_reported("101", RunStatus.COMPLETED, result=RunResult.SUCCEEDED, queued_at=T0, started_at=T0, finished_at=T0 + timedelta(minutes=4))
    await recorder.metadata_updated(p2="201", image_tag="frontend-101", hld_commit_id=HLD_COMMIT, env="prod", pr="7", repository=HLD)
    await recorder.run_reported("201", "completed", result="succeeded", queued_at=T0 + timedelta(minutes=5), started_at=T0 + timedelta(minutes=5), finished_at=T0 + timedelta(minutes=6))
    await recorder.manifest_generated(p3="301", hld_commit_id=HLD_COMMIT, pr="7", repository=MANIFESTS)
    await recorder.manifest_committed(p3="301", manifest_commit_id=MANIFEST_COMMIT)
    at = T0 + timedelta(minutes=20)
    await recorder.run_reported("301", "completed", queued_at=at, started_at=at, finished_at=at + timedelta(minutes=2))
    await recorder.cluster_synced("west-europe", MANIFEST_COMMIT, reporter="flux")


def test_a_recorded_journey_reads_back_as_one_complete_synced_deployment(db: Path) -> None:
    async def main() -> list[spektate.Deployment]:
        await record_journey(spektate.Recorder(f"sqlite:{db}", partition="fabrikam"))
        return await spektate.Tracker(str(db), partition="fabrikam").deployments()

    [d] = asyncio.run(main())
    assert (d.service, d.ring, d.image_tag, d.pr) == ("frontend", "prod", "frontend-101", "7")
    assert (d.commit_id, d.hld_commit_id, d.manifest_commit_id) == (COMMIT, HLD_COMMIT, MANIFEST_COMMIT)
    assert d.status is Status.COMPLETE and d.status == "complete" and str(d.status) == "complete"
    assert d.kind is DeploymentKind.DEPLOYMENT
    assert d.synced and [c.cluster for c in d.clusters] == ["west-europe"]
    assert d.clusters[0].commit == MANIFEST_COMMIT and d.clusters[0].tagger == "flux"
    assert d.image is not None and d.metadata is not None and d.manifest is not None
    assert [d.image.id, d.metadata.id, d.manifest.id] == ["101", "201", "301"]
    assert {d.image.state, d.metadata.state, d.manifest.state} == {StepState.SUCCEEDED}
    run = d.image.run
    assert run is not None and run.status is RunStatus.COMPLETED and run.result is RunResult.SUCCEEDED
    assert run.queued_at == T0 and run.finished_at == T0 + timedelta(minutes=4)
    assert d.source_repo is not None and d.source_repo.url == SOURCE and d.source_repo.provider == "github"
    assert d.hld_repo is not None and (d.hld_repo.owner, d.hld_repo.name) == ("fabrikam", "hld")
    # p1 4 min + p2 1 min + p3 2 min, as the library sums separate runs.
    assert d.duration_secs == 7 * 60 and d.duration == timedelta(minutes=7)
    assert d.last_updated == T0 + timedelta(minutes=22)
    assert d.last_updated.tzinfo is not None and d.last_updated.utcoffset() == timedelta(0)
    assert d.record.service == "fabrikam/frontend" and d.record.p3 == "301" and d.record.timestamp is not None
    assert not d.warnings and not d.awaiting_approval and d.author is None


def test_results_print_and_convert_to_the_json_document_of_spektate_get(db: Path) -> None:
    async def main() -> list[spektate.Deployment]:
        await record_journey(spektate.Recorder(db, partition="fabrikam"))
        return await spektate.Tracker(db, partition="fabrikam").deployments()

    [d] = asyncio.run(main())
    assert repr(d) == f"Deployment(id='{d.id}', service='frontend', ring='prod', image_tag='frontend-101', status='complete')"
    doc = d.to_dict()
    assert doc["id"] == d.id and doc["status"] == "complete" and doc["imageTag"] == "frontend-101"
    assert d.image is not None and doc["image"] == d.image.to_dict()
    assert doc["image"]["id"] == "101" and doc["image"]["state"] == "succeeded" and doc["image"]["run"]["number"] == "101"
    assert doc["clusters"][0]["cluster"] == "west-europe"
    assert doc["lastUpdated"].startswith("2026-11-26T10:22:00")
    json.dumps(doc)  # JSON-ready as it is
    assert d.record.to_dict()["RowKey"] == d.id
    assert "Repo('https://github.com/fabrikam/frontend')" == repr(d.source_repo)


def test_the_same_deployments_as_spektate_get(db: Path) -> None:
    """The bindings and the CLI read one store alike: the same JSON documents, the same table."""
    asyncio.run(record_journey(spektate.Recorder(db, partition="fabrikam")))
    cli = os.environ.get("SPEKTATE_CLI") or str(Path(__file__).resolve().parents[3] / "target" / "debug" / "spektate")
    assert Path(cli).is_file(), f"the spektate CLI is not at {cli}: build it with `cargo build -p spektate-cli` or set SPEKTATE_CLI"

    def get(*args: str) -> str:
        out = subprocess.run([cli, "get", "--store", f"sqlite:{db}", "-p", "fabrikam", *args], capture_output=True, text=True, check=True)
        return out.stdout

    tracker = spektate.Tracker(db, partition="fabrikam")
    deployments = tracker.deployments_blocking()
    assert json.loads(get("-o", "json")) == [d.to_dict() for d in deployments]
    assert get("-o", "wide") == tracker.table_blocking(wide=True)
    assert get() == tracker.table_blocking()


def test_blocking_twins_record_and_read_like_the_coroutines(db: Path) -> None:
    recorder = spektate.Recorder(spektate.Store.open(db, create=True), partition="fabrikam")
    rec = recorder.image_built_blocking(p1="102", image_tag="backend-102", commit_id="d4e5f60", service="backend")
    assert (rec.p1, rec.image_tag, rec.partition_key) == ("102", "backend-102", "fabrikam") and len(rec.row_key) == 12
    report = recorder.run_reported_blocking("102", "inProgress", queued_at=T0)
    assert report.status is RunStatus.IN_PROGRESS and report.result is None and report.queued_at == T0
    rec2 = recorder.metadata_updated_blocking(p2="202", image_tag="backend-102", hld_commit_id="e5f6071", env="dev")
    assert rec2.row_key == rec.row_key, "metadata of the same image updates its record"
    sync = recorder.cluster_synced_blocking("east", "f60718293a")
    assert sync.cluster == "east" and sync.synced_at is not None and sync.synced_at.tzinfo is not None

    tracker = spektate.Tracker(db, partition="fabrikam")
    [d] = tracker.deployments_blocking()

    async def read() -> tuple[list[spektate.Deployment], spektate.RefreshStats]:
        return await tracker.deployments(), await tracker.refresh()

    [a], stats = asyncio.run(read())
    assert a.to_dict() == d.to_dict()
    assert d.status is Status.IN_PROGRESS and d.image is not None and d.image.state is StepState.IN_PROGRESS
    assert d.metadata is not None and d.metadata.state is StepState.UNKNOWN, "no report for p2 yet"
    assert (stats.records_read, stats.deployments) == (0, 1), "nothing was written since the last read"
    assert stats.to_dict() == {"recordsRead": 0, "recordsChanged": 0, "runsRequested": stats.runs_requested, "deployments": 1}


def test_filters_pick_deployments_like_spektate_get(db: Path) -> None:
    recorder = spektate.Recorder(db, partition="fabrikam")
    for i, (service, ring) in enumerate([("frontend", "dev"), ("frontend", "prod"), ("backend", "prod")]):
        tag = f"{service}-{i}"
        recorder.image_built_blocking(p1=f"1{i}", image_tag=tag, commit_id=f"{i}a1b2c3d4e5", service=service)
        recorder.metadata_updated_blocking(p2=f"2{i}", image_tag=tag, hld_commit_id=f"{i}f6e5d4c3b2", env=ring)
        recorder.run_reported_blocking(f"1{i}", "completed", queued_at=T0 + timedelta(minutes=i), started_at=T0 + timedelta(minutes=i))
    recorder.manifest_generated_blocking(p3="399", hld_commit_id="9999999aaaa")  # a manual HLD edit
    tracker = spektate.Tracker(db, partition="fabrikam")

    def ids(**kw: object) -> list[str]:
        return sorted(d.image_tag or d.kind.value for d in tracker.deployments_blocking(**kw))

    assert ids(service="frontend") == ["frontend-0", "frontend-1"]
    assert ids(ring="PROD") == ["backend-2", "frontend-1"]
    assert ids(service="frontend", ring="prod") == ["frontend-1"]
    assert ids(kind=DeploymentKind.MANUAL_HLD_EDIT) == ["manualHldEdit"]
    assert ids(kind="deployment", status=Status.INCOMPLETE) == ["backend-2", "frontend-0", "frontend-1"]
    assert ids(run_id="21") == ["frontend-1"]
    assert ids(commit="2a1b2c3d") == ["backend-2"]
    assert len(tracker.deployments_blocking(top=2)) == 2
    assert ids(keyword="backend") == ["backend-2"]


def test_datetimes_in_and_out_are_timezone_aware(db: Path) -> None:
    recorder = spektate.Recorder(db)
    cet = timezone(timedelta(hours=1))
    report = recorder.run_reported_blocking("7", RunStatus.COMPLETED, queued_at=datetime(2026, 11, 26, 11, 0, tzinfo=cet), finished_at=T0 + timedelta(minutes=3))
    assert report.queued_at == T0 and report.queued_at is not None and report.queued_at.utcoffset() == timedelta(0)
    assert report.result is RunResult.SUCCEEDED, "a completed run with no result succeeded"
    # A zone of the time-zone database counts as well as a fixed offset.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    report = recorder.run_reported_blocking("9", RunStatus.QUEUED, queued_at=datetime(2026, 11, 26, 11, 0, tzinfo=berlin))
    assert report.queued_at == T0, "11:00 in Berlin in November is 10:00 UTC"
    try:
        recorder.run_reported_blocking("8", "queued", queued_at=datetime(2026, 11, 26, 10, 0))
    except spektate.ConfigError as e:
        assert "queued_at" in str(e) and "timezone-aware" in str(e)
    else:
        raise AssertionError("a naive datetime was accepted")


def test_classes_print_without_secrets_and_expose_their_settings(db: Path) -> None:
    store = spektate.Store.open(db, create=True)
    assert repr(store) == f"Store('sqlite:{db}')" and store.description == f"sqlite:{db}"
    assert repr(spektate.Recorder(store, "fabrikam")) == f"Recorder(store='sqlite:{db}', partition='fabrikam')"
    tracker = spektate.Tracker(store, partition="fabrikam", manifest_repo=MANIFESTS)
    assert repr(tracker) == f"Tracker(store='sqlite:{db}', partition='fabrikam')" and tracker.partition == "fabrikam"
    gh = spektate.GitHub(token="ghp_do-not-print-me", api_url="https://github.example.com/api/v3")
    assert "ghp_do-not-print-me" not in repr(gh) and "github.example.com" in repr(gh)
    assert spektate.Store.memory().description.startswith("memory")
    assert spektate.__version__.count(".") == 2
