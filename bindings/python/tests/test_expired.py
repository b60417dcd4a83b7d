"""A deployment whose runs the CI no longer has (retention): `expired`, and shown only when a
filter asks with `include_expired`."""

from __future__ import annotations

from pathlib import Path

from conftest import GOOD_TOKEN, FakeAzureDevOps

import spektate
from spektate import StepState


def test_a_deployment_whose_runs_are_gone_is_expired_and_shown_only_when_asked(db: Path, azure_devops: FakeAzureDevOps) -> None:
    recorder = spektate.Recorder(db, partition="hello")
    # The fake organisation has build 101, and no build 999 (any more).
    recorder.image_built_blocking(p1="999", image_tag="frontend-99", commit_id="d4e5f6a7b8c9", service="frontend")
    recorder.image_built_blocking(p1="101", image_tag="frontend-101", commit_id="a1b2c3d4e5f6", service="frontend")
    project = spektate.AzureDevOps("fabrikam", "hello", token=GOOD_TOKEN, url=azure_devops.url)
    tracker = spektate.Tracker(db, partition="hello", azure_devops=project)

    shown = tracker.deployments_blocking()
    assert [(d.image_tag, d.expired) for d in shown] == [("frontend-101", False)]
    assert shown[0].to_dict()["expired"] is False

    every = tracker.deployments_blocking(include_expired=True)
    assert sorted((d.image_tag, d.expired) for d in every) == [("frontend-101", False), ("frontend-99", True)]
    [gone] = [d for d in every if d.expired]
    assert gone.image is not None and gone.image.state is StepState.EXPIRED
    assert gone.to_dict()["expired"] is True

    f = spektate.Filter(service="frontend", include_expired=True)
    assert f.include_expired and not spektate.Filter().include_expired
    assert repr(f) == "Filter(service='frontend', include_expired=True)"
    assert len(tracker.deployments_blocking(f)) == 2
    assert "frontend-99" in tracker.table_blocking(include_expired=True)
    assert "frontend-99" not in tracker.table_blocking()
