"""Runs read from a provider: a local fake of the Azure DevOps REST API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from conftest import BAD_TOKEN, GOOD_TOKEN, FakeAzureDevOps

import spektate
from spektate import RunStatus, Status, StepState


def record(db: Path) -> None:
    recorder = spektate.Recorder(db, partition="hello")
    recorder.image_built_blocking(p1="101", image_tag="frontend-101", commit_id="a1b2c3d4e5f6", service="frontend")
    recorder.metadata_updated_blocking(p2="101", image_tag="frontend-101", hld_commit_id="b2c3d4e5f6a7", env="prod")
    recorder.manifest_generated_blocking(p3="301", hld_commit_id="b2c3d4e5f6a7", manifest_commit_id="c3d4e5f6a7b8")


def test_runs_come_from_azure_devops(db: Path, azure_devops: FakeAzureDevOps) -> None:
    record(db)
    project = spektate.AzureDevOps("fabrikam", "hello", token=GOOD_TOKEN, url=azure_devops.url)
    tracker = spektate.Tracker(db, partition="hello", azure_devops=project)

    async def main() -> tuple[str, list[spektate.Deployment]]:
        return await project.check(), await tracker.deployments()

    name, [d] = asyncio.run(main())
    assert name == "hello"
    assert d.image is not None and d.image.run is not None
    run = d.image.run
    assert (run.number, run.pipeline, run.source_branch, run.requested_by) == ("20261126.1", "frontend-image", "main", "Mona Lisa")
    assert run.status is RunStatus.COMPLETED and run.url is not None and run.url.endswith("buildId=101")
    assert d.multi_stage, "p2 == p1: the metadata update is a stage of the image run"
    assert d.manifest is not None and d.manifest.state is StepState.IN_PROGRESS
    assert d.manifest.run is not None and d.manifest.run.number == "20261126.7"
    assert d.status is Status.IN_PROGRESS and not d.warnings
    builds = [path for path, _ in azure_devops.seen if "/_apis/build/builds" in path]
    assert len(builds) == 1 and "buildIds=101,301" in builds[0], "both builds in one request"
    expected = "Basic " + base64.b64encode(f":{GOOD_TOKEN}".encode()).decode()
    assert all(auth == expected for _, auth in azure_devops.seen)


def test_a_rejected_token_is_an_auth_error_that_never_shows_the_token(db: Path, azure_devops: FakeAzureDevOps) -> None:
    record(db)
    project = spektate.AzureDevOps("fabrikam", "hello", token=BAD_TOKEN, url=azure_devops.url)
    assert project.org_url == azure_devops.org_url
    assert BAD_TOKEN not in repr(project) and "'***'" in repr(project)
    with pytest.raises(spektate.AuthError) as e:
        project.check_blocking()
    assert isinstance(e.value, spektate.ProviderError) and isinstance(e.value, spektate.SpektateError)
    message = str(e.value)
    assert "rejected" in message and "hello" in message and BAD_TOKEN not in message

    async def main() -> list[spektate.Deployment]:
        with pytest.raises(spektate.AuthError):
            await project.check()
        return await spektate.Tracker(db, partition="hello", azure_devops=project).deployments()

    [d] = asyncio.run(main())
    # Tracing is best-effort: the deployment is shown, and says why its runs are unknown.
    assert d.image is not None and d.image.state is StepState.UNKNOWN
    assert any("rejected" in w for w in d.warnings) and not any(BAD_TOKEN in w for w in d.warnings)


def test_provider_settings_are_checked_when_made() -> None:
    with pytest.raises(spektate.ConfigError, match="url") as e:
        spektate.AzureDevOps("fabrikam", "hello", url="ftp://tfs.example.com")
    assert "ftp://tfs.example.com" in str(e.value)
    with pytest.raises(spektate.ConfigError, match="project"):
        spektate.AzureDevOps("fabrikam", " ")
    with pytest.raises(spektate.ConfigError, match="api_url") as e:
        spektate.GitHub(api_url="ftp://example.com")
    assert "ftp://example.com" in str(e.value)
    with pytest.raises(spektate.ConfigError, match="'step' is not one of run, job"):
        spektate.GitHub(ids="step")  # type: ignore[arg-type]


def test_github_ids_take_auto_as_the_reference_tables_need() -> None:
    # Tables of bedrock and the original pipelines hold job ids: `auto` reads an id that is
    # not a run of its repository as a job.
    for word in ("auto", " AUTO "):
        github = spektate.GitHub(ids=word)  # type: ignore[arg-type]
        tracker = spektate.Tracker(spektate.Store.memory(), partition="fabrikam", github=github)
        assert tracker.partition == "fabrikam"
    with pytest.raises(spektate.ConfigError, match="'guess' is not one of run, job, auto"):
        spektate.GitHub(ids="guess")  # type: ignore[arg-type]


def test_gitlab_settings_are_checked_when_made_and_never_show_the_token() -> None:
    with pytest.raises(spektate.ConfigError, match="url") as e:
        spektate.GitLab(url="ftp://gitlab.example.com")
    assert "ftp://gitlab.example.com" in str(e.value)
    with pytest.raises(spektate.ConfigError, match="'deploy' is not one of private, oauth, job"):
        spektate.GitLab(token_kind="deploy")  # type: ignore[arg-type]
    with pytest.raises(spektate.ConfigError, match="'hld' is neither a project id nor a group/name path"):
        spektate.GitLab(project="hld")
    gitlab = spektate.GitLab(
        token="glpat-do-not-print-me", url="https://example.com/gitlab", token_kind="job", project="fabrikam/platform/hld"
    )
    assert repr(gitlab) == "GitLab(url='https://example.com/gitlab', token='***')"
    assert gitlab.url == "https://example.com/gitlab"
    tracker = spektate.Tracker(spektate.Store.memory(), partition="fabrikam", gitlab=gitlab)
    assert tracker.partition == "fabrikam"
