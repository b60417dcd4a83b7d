"""DORA metrics and the ETA through the bindings, on a recorded history with known times: the
figures worked out by hand, the same document as `spektate metrics -o json`, and the ETA of a
deployment on its way."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import spektate
from spektate import Band, Basis, GroupBy, Segment, Status

from conftest import cli_env, spektate_cli

MONDAY = datetime(2026, 11, 2, tzinfo=timezone.utc)  # ISO week 2026-W45
UNTIL = MONDAY + timedelta(days=14)
HOUR = 3600

# service, day, hour, then minutes of the image, metadata and manifest runs, each queued when
# the one before finished; a metadata run of "failed" minutes fails (no manifests follow).
HISTORY: list[tuple[str, int, int, int, int | str, int]] = [
    ("frontend", 0, 9, 10, 5, 5),  # lead 20 min
    ("frontend", 1, 9, 10, 10, 10),  # 30 min
    ("frontend", 2, 9, 10, "failed", 0),  # failed at 09:15 (metadata ran 5 min)
    ("frontend", 2, 12, 20, 10, 10),  # 40 min, done 12:40: restores the failure in 3 h 25 min
    ("backend", 3, 9, 30, 10, 20),  # 60 min
    ("backend", 4, 9, 10, "failed", 0),  # failed; nothing restores it
    ("frontend", 5, 9, 10, 10, 20),  # 40 min
    ("frontend", 7, 9, 10, 10, 10),  # 30 min, the Monday of 2026-W46
]


def _hex(n: int, salt: str) -> str:
    return (salt * 40)[:32] + f"{n:08x}"


async def record_history(recorder: spektate.Recorder) -> None:
    """Each deployment of HISTORY to ring prod, with its run reports' times."""
    for n, (service, day, hour, image, metadata, manifests) in enumerate(HISTORY, start=1):
        tag, p1, p2, p3 = f"{service}-{n}", f"1{n:02}", f"2{n:02}", f"3{n:02}"
        t = MONDAY + timedelta(days=day, hours=hour)
        await recorder.image_built(p1=p1, image_tag=tag, commit_id=_hex(n, "a"), service=f"fabrikam/{service}")
        done = t + timedelta(minutes=image)
        await recorder.run_reported(p1, "completed", result="succeeded", queued_at=t, started_at=t, finished_at=done)
        await recorder.metadata_updated(p2=p2, image_tag=tag, hld_commit_id=_hex(n, "b"), env="prod", service=f"fabrikam/{service}")
        failed = metadata == "failed"
        t, done = done, done + timedelta(minutes=5 if failed else int(metadata))
        await recorder.run_reported(
            p2, "completed", result="failed" if failed else "succeeded", queued_at=t, started_at=t, finished_at=done
        )
        if failed:
            continue
        await recorder.manifest_generated(p3=p3, hld_commit_id=_hex(n, "b"))
        await recorder.manifest_committed(p3=p3, manifest_commit_id=_hex(n, "c"))
        t, done = done, done + timedelta(minutes=manifests)
        await recorder.run_reported(p3, "completed", result="succeeded", queued_at=t, started_at=t, finished_at=done)


async def record_on_its_way(recorder: spektate.Recorder, now: datetime) -> datetime:
    """A frontend image built 15 to 5 minutes ago whose metadata run to prod is running; the
    image's finish."""
    queued, built = now - timedelta(minutes=15), now - timedelta(minutes=5)
    await recorder.image_built(p1="190", image_tag="frontend-90", commit_id=_hex(90, "a"), service="fabrikam/frontend")
    await recorder.run_reported("190", "completed", result="succeeded", queued_at=queued, started_at=queued, finished_at=built)
    await recorder.metadata_updated(p2="290", image_tag="frontend-90", hld_commit_id=_hex(90, "b"), env="prod", service="fabrikam/frontend")
    await recorder.run_reported("290", "inProgress", queued_at=built, started_at=built)
    return built


@pytest.fixture
def history(db: Path) -> Path:
    asyncio.run(record_history(spektate.Recorder(db, partition="fabrikam")))
    return db


def test_the_four_figures_are_the_ones_worked_out_by_hand(history: Path) -> None:
    m = spektate.Tracker(history, partition="fabrikam").metrics_blocking(since=MONDAY, until=UNTIL)
    assert (m.since, m.until, m.by, m.groups) == (MONDAY, UNTIL, None, [])
    assert "queue time" in m.lead_time_from
    f = m.overall.deployment_frequency
    # Six completed over 14 days.
    assert (f.completed, f.days, f.band) == (6, 14.0, Band.HIGH)
    assert f.per_day == pytest.approx(6 / 14) and f.per_week == pytest.approx(3.0)
    lt = m.overall.lead_time
    # Lead times 20, 30, 30, 40, 40, 60 min: median (30 + 40) / 2, p90 the sixth by nearest rank.
    assert (lt.count, lt.live, lt.median_secs, lt.p90_secs) == (6, 0, 35 * 60, 60 * 60)
    # No repository provider here: every lead time starts at the queue time.
    assert lt.from_commit == 0
    assert (lt.median, lt.p90, lt.band) == (timedelta(minutes=35), timedelta(hours=1), Band.ELITE)
    assert lt.shares is not None
    # Image 90 min, metadata 55, manifests 75 of 220; no approval, no cluster.
    got = (lt.shares.commit, lt.shares.image, lt.shares.metadata, lt.shares.approval, lt.shares.manifests, lt.shares.sync)
    assert got == pytest.approx((0.0, 90 / 220, 55 / 220, 0.0, 75 / 220, 0.0))
    cfr = m.overall.change_failure_rate
    assert (cfr.failed, cfr.finished, cfr.rate, cfr.band) == (2, 8, 0.25, Band.LOW)
    r = m.overall.time_to_restore
    assert (r.restorations, r.unrestored, r.median_secs, r.band) == (1, 1, 3 * HOUR + 25 * 60, Band.HIGH)
    assert r.median == timedelta(hours=3, minutes=25)


def test_by_service_and_week_with_a_filter(history: Path) -> None:
    tracker = spektate.Tracker(history, partition="fabrikam")
    m = tracker.metrics_blocking(since=MONDAY, until=UNTIL, by="service")
    assert m.by is GroupBy.SERVICE and [g.key for g in m.groups] == ["backend", "frontend"]
    backend, frontend = m.groups
    assert (backend.deployment_frequency.completed, backend.change_failure_rate.rate) == (1, 0.5)
    assert (backend.lead_time.median_secs, backend.time_to_restore.unrestored, backend.time_to_restore.median_secs) == (HOUR, 1, None)
    # Frontend: 20, 30, 30, 40, 40 min; one failure of six, restored.
    assert (frontend.lead_time.median_secs, frontend.lead_time.p90_secs) == (30 * 60, 40 * 60)
    assert (frontend.change_failure_rate.failed, frontend.change_failure_rate.finished) == (1, 6)
    assert frontend.time_to_restore.restorations == 1 and frontend.figures.lead_time == frontend.lead_time

    async def by_week() -> spektate.Metrics:
        return await tracker.metrics(since=MONDAY, until=UNTIL, by=GroupBy.WEEK)

    weeks = asyncio.run(by_week())
    assert [(g.key, g.deployment_frequency.completed, g.deployment_frequency.days) for g in weeks.groups] == [
        ("2026-W45", 5, 7.0),
        ("2026-W46", 1, 7.0),
    ]
    only = tracker.metrics_blocking(spektate.Filter(service="backend"), since=MONDAY, until=UNTIL)
    assert only.overall == backend.figures
    assert tracker.metrics_blocking(since=MONDAY, until=UNTIL, service="backend") == only


def test_the_same_document_as_spektate_metrics_json(history: Path) -> None:
    tracker = spektate.Tracker(history, partition="fabrikam")
    for by in ("service", "ring", "week"):
        out = subprocess.run(
            [spektate_cli(), "metrics", "--store", f"sqlite:{history}", "-p", "fabrikam", "--since", "2026-11-02",
             "--until", "2026-11-16", "--by", by, "-o", "json"],
            capture_output=True, text=True, env=cli_env(), check=True,
        )
        mine = tracker.metrics_blocking(since=MONDAY, until=UNTIL, by=by)
        assert mine.to_dict() == json.loads(out.stdout), by
        assert mine.overall.to_dict() == mine.to_dict()["overall"]
    assert repr(mine).startswith("Metrics(since='2026-11-02T00:00:00+00:00', until='2026-11-16T00:00:00+00:00', by='week'")


def test_a_deployment_on_its_way_has_an_eta_from_its_service_and_ring(history: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    built = asyncio.run(record_on_its_way(spektate.Recorder(history, partition="fabrikam"), now))
    deployments = spektate.Tracker(history, partition="fabrikam").deployments_blocking()
    [d] = [d for d in deployments if d.image_tag == "frontend-90"]
    assert d.status is Status.IN_PROGRESS and d.eta is not None
    assert all(o.eta is None for o in deployments if o is not d), "finished deployments have no ETA"
    eta = d.eta
    # Five frontend journeys to prod: metadata 5, 10, 10, 10, 10 min; manifests 5, 10, 10, 20, 10.
    assert [s.segment for s in eta.steps] == [Segment.METADATA, Segment.MANIFESTS]
    assert {(s.basis, s.samples) for s in eta.steps} == {(Basis.SERVICE_RING, 5)}
    metadata, manifests = eta.steps
    assert (metadata.expected_at, metadata.p90_at) == (built + timedelta(minutes=10), built + timedelta(minutes=10))
    assert (manifests.expected_at, manifests.p90_at) == (built + timedelta(minutes=20), built + timedelta(minutes=30))
    assert (eta.live_at, eta.live_p90_at) == (manifests.expected_at, manifests.p90_at)
    for s in eta.steps:
        assert s.expected_at <= s.p90_at
    assert eta.to_dict() == d.to_dict()["eta"]
    assert eta.to_dict()["steps"][0]["basis"] == "serviceRing" and "liveP90At" in eta.to_dict()


@pytest.mark.parametrize("by", ["team", "weekly", ""])
def test_a_bad_breakdown_is_a_config_error_naming_it(history: Path, by: str) -> None:
    tracker = spektate.Tracker(history, partition="fabrikam")
    with pytest.raises(spektate.ConfigError, match=f"^invalid by: '{by}' is not one of service, ring, week$"):
        tracker.metrics_blocking(by=by)


def test_a_bad_window_is_a_config_error_naming_it(history: Path) -> None:
    tracker = spektate.Tracker(history, partition="fabrikam")
    with pytest.raises(spektate.ConfigError, match="^invalid until: 2026-11-02 00:00:00 UTC is not after"):
        tracker.metrics_blocking(since=UNTIL, until=MONDAY)
    with pytest.raises(spektate.ConfigError, match="since"):
        tracker.metrics_blocking(since=datetime(2026, 11, 2))  # naive
    with pytest.raises(spektate.ConfigError, match="status"):
        tracker.metrics_blocking(status="bogus")
