"""`Filter`: one object for the criteria of `Tracker.deployments` and `Tracker.table`, which still
take them as keyword arguments; its words are those of `spektate get` and the dashboard."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import spektate
from spektate import DeploymentKind, Filter, Status

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


def tracker_of_three(db: Path) -> spektate.Tracker:
    """frontend-1 went all the way (complete), frontend-2 is building (in progress), and one
    change was made straight in the HLD repo."""
    recorder = spektate.Recorder(db, partition="fabrikam")
    recorder.image_built_blocking(p1="11", image_tag="frontend-1", commit_id="1a1b2c3d4e5", service="frontend")
    recorder.metadata_updated_blocking(p2="21", image_tag="frontend-1", hld_commit_id="1f6e5d4c3b2", env="prod")
    recorder.manifest_generated_blocking(p3="31", hld_commit_id="1f6e5d4c3b2")
    recorder.manifest_committed_blocking(p3="31", manifest_commit_id="1c0ffee1234")
    for i, run in enumerate(["11", "21", "31"]):
        at = T0 + timedelta(minutes=i)
        recorder.run_reported_blocking(run, "completed", queued_at=at, started_at=at, finished_at=at)
    recorder.image_built_blocking(p1="12", image_tag="frontend-2", commit_id="2a1b2c3d4e5", service="frontend")
    recorder.run_reported_blocking("12", "inProgress", queued_at=T0 + timedelta(minutes=5))
    recorder.manifest_generated_blocking(p3="399", hld_commit_id="9999999aaaa")
    return spektate.Tracker(db, partition="fabrikam")


def tags(deployments: list[spektate.Deployment]) -> list[str]:
    return sorted(d.image_tag or d.kind.value for d in deployments)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("complete", Status.COMPLETE),
        ("succeeded", Status.COMPLETE),
        ("inProgress", Status.IN_PROGRESS),
        ("in-progress", Status.IN_PROGRESS),
        ("In Progress", Status.IN_PROGRESS),
        ("failed", Status.FAILED),
        ("cancelled", Status.CANCELED),
        ("incomplete", Status.INCOMPLETE),
        (Status.CANCELED, Status.CANCELED),
    ],
)
def test_a_status_takes_the_words_of_spektate_get_and_reads_back_a_member(word: str, status: Status) -> None:
    assert Filter(status=word).status is status


def test_a_filter_keeps_its_criteria_and_compares_by_value() -> None:
    f = Filter(service="frontend", ring="prod", kind="manual-hld-edit", status="in-progress", top=3)
    assert (f.service, f.ring, f.kind, f.status, f.top) == ("frontend", "prod", DeploymentKind.MANUAL_HLD_EDIT, Status.IN_PROGRESS, 3)
    assert (f.author, f.image_tag, f.run_id, f.commit, f.deployment_id, f.keyword) == (None,) * 6
    assert f == Filter(top=3, status=Status.IN_PROGRESS, kind="manualHldEdit", ring="prod", service="frontend")
    assert f != Filter(service="frontend") and Filter() == Filter()
    assert repr(f) == "Filter(service='frontend', ring='prod', kind='manualHldEdit', status='inProgress', top=3)"
    assert repr(Filter()) == "Filter()"


def test_a_bad_criterion_is_a_config_error_naming_it() -> None:
    with pytest.raises(spektate.ConfigError) as e:
        Filter(status="bogus")
    assert str(e.value) == "invalid status: 'bogus' is not one of complete, inProgress, failed, canceled, incomplete"
    with pytest.raises(spektate.ConfigError, match="kind: 'image' is not one of deployment, manualHldEdit"):
        Filter(kind="image")
    with pytest.raises(spektate.ConfigError, match="top"):
        Filter(top=0)
    # Only a whole number: not a bool (an int to Python), a float or one past 64 bits.
    for wrong, shown in ((True, "True"), (2.5, "2.5"), (10**20, str(10**20)), ("3", "'3'")):
        with pytest.raises(spektate.ConfigError, match=f"^invalid top: {shown} is not a whole number"):
            Filter(top=wrong)  # type: ignore[arg-type]
    with pytest.raises(spektate.ConfigError, match="kind: 3 is not a string"):
        Filter(kind=3)  # type: ignore[arg-type]


def test_trackers_take_a_filter_or_its_keywords_alike(db: Path) -> None:
    tracker = tracker_of_three(db)
    building = Filter(kind="deployment", status="in-progress")
    assert tags(tracker.deployments_blocking(building)) == ["frontend-2"]
    assert tags(tracker.deployments_blocking(filter=building)) == ["frontend-2"]
    assert tags(tracker.deployments_blocking(kind="deployment", status="in-progress")) == ["frontend-2"]
    assert tags(tracker.deployments_blocking(status="succeeded")) == ["frontend-1"], "the dashboard's word for complete"
    assert tags(tracker.deployments_blocking(Filter(kind=DeploymentKind.MANUAL_HLD_EDIT))) == ["manualHldEdit"]
    assert tags(tracker.deployments_blocking()) == ["frontend-1", "frontend-2", "manualHldEdit"]
    table = tracker.table_blocking(building, wide=True)
    assert table == tracker.table_blocking(wide=True, kind="deployment", status="inProgress")
    assert "frontend-2" in table and "frontend-1" not in table


def test_a_filter_and_keywords_together_or_an_unknown_keyword_are_refused(db: Path) -> None:
    tracker = tracker_of_three(db)
    with pytest.raises(spektate.ConfigError, match="filter: give a Filter or keyword criteria, not both"):
        tracker.deployments_blocking(Filter(ring="prod"), service="frontend")
    with pytest.raises(TypeError, match="colour"):
        tracker.table_blocking(colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        tracker.deployments_blocking("frontend")  # type: ignore[arg-type]


def test_the_coroutine_methods_and_their_blocking_twins_agree(db: Path) -> None:
    tracker = tracker_of_three(db)
    done = Filter(status=Status.COMPLETE)

    async def main() -> tuple[list[spektate.Deployment], str, list[spektate.Deployment]]:
        return await tracker.deployments(done), await tracker.table(done), await tracker.deployments(top=1)

    deployments, table, newest = asyncio.run(main())
    assert tags(deployments) == tags(tracker.deployments_blocking(done)) == ["frontend-1"]
    assert table == tracker.table_blocking(done) and "frontend-1" in table
    assert [d.id for d in newest] == [d.id for d in tracker.deployments_blocking(top=1)]
