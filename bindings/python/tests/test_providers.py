"""Runs read from a provider: local fakes of the Azure DevOps and GitHub REST APIs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import BAD_TOKEN, GOOD_TOKEN, FakeAzureDevOps, JsonHandler

import spektate
from spektate import RunResult, RunStatus, Status, StepState


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


GITHUB_TOKEN = "ghp_bindingstest0123456789abcdefghijklmn"


@dataclass
class FakeGitHub:
    """A GitHub Enterprise server on 127.0.0.1 (REST under ``/api/v3``) whose repository
    ``fabrikam/frontend`` has no workflow run 1042 but a job 1042, in the request and answer
    shapes of ``spektate-github/tests/support/mod.rs``."""

    url: str
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def repo(self) -> str:
        return f"{self.url}/fabrikam/frontend"

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]


def _github_job(url: str) -> dict[str, Any]:
    """Job 1042 (``GET /repos/{owner}/{repo}/actions/jobs/{job_id}``): completed, failed."""
    return {
        "id": 1042,
        "run_id": 254907244,
        "run_url": f"{url}/api/v3/repos/fabrikam/frontend/actions/runs/254907244",
        "node_id": "CR_kwDOBindings1042",
        "head_sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "head_branch": "main",
        "url": f"{url}/api/v3/repos/fabrikam/frontend/actions/jobs/1042",
        "html_url": f"{url}/fabrikam/frontend/actions/runs/254907244/job/1042",
        "status": "completed",
        "conclusion": "failure",
        "created_at": "2026-11-26T10:00:00Z",
        "started_at": "2026-11-26T10:00:05Z",
        "completed_at": "2026-11-26T10:04:00Z",
        "name": "Build",
        "workflow_name": "frontend-image",
        "steps": [],
        "check_run_url": f"{url}/api/v3/repos/fabrikam/frontend/check-runs/1042",
        "labels": ["ubuntu-latest"],
        "runner_id": None,
        "runner_name": None,
        "runner_group_id": None,
        "runner_group_name": None,
        "run_attempt": 1,
    }


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A threaded HTTP server answering like GitHub: the repository, a 404 for run 1042, job
    1042; a 404 for anything else (commits, GraphQL). Stopped even when the test fails."""
    state: dict[str, FakeGitHub] = {}
    not_found = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}

    class Handler(JsonHandler):
        def _answer(self, method: str) -> None:
            fake = state["fake"]
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path
            path = path[len("/api/v3"):] if path.startswith("/api/v3/") else path
            fake.seen.append((method, path, self.headers.get("authorization")))
            if method != "GET":
                self._send(404, not_found)
            elif path == "/repos/fabrikam/frontend":
                self._send(200, {
                    "id": 1296269, "node_id": "R_kgDOBindings", "name": "frontend", "full_name": "fabrikam/frontend",
                    "private": False, "owner": {"login": "fabrikam", "id": 1, "type": "Organization"},
                    "html_url": fake.repo, "default_branch": "main", "visibility": "public",
                })
            elif path == "/repos/fabrikam/frontend/actions/jobs/1042":
                self._send(200, _github_job(fake.url))
            else:
                # Run 1042 among them: the repository has no run of that id.
                self._send(404, not_found)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self._answer("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    state["fake"] = FakeGitHub(url=f"http://{host!s}:{port}")
    thread = threading.Thread(target=server.serve_forever, name="fake-github", daemon=True)
    thread.start()
    try:
        yield state["fake"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("word", ["auto", " AUTO "])
def test_github_ids_auto_reads_a_bare_id_that_is_no_run_as_a_job(tmp_path: Path, github: FakeGitHub, word: str) -> None:
    # Tables of bedrock and the original pipelines hold job ids: `auto` reads an id that is
    # not a run of its repository as a job (one more request, `GET .../actions/jobs/{id}`).
    db = tmp_path / "spektate.db"
    spektate.Recorder(db, partition="fabrikam").image_built_blocking(
        p1="1042", image_tag="frontend-1042", commit_id="a1b2c3d4e5f6", service="frontend", repository=github.repo
    )
    gh = spektate.GitHub(token=GITHUB_TOKEN, api_url=github.url, ids=word)  # type: ignore[arg-type]
    [d] = spektate.Tracker(db, partition="fabrikam", github=gh).deployments_blocking()

    paths = github.paths()
    run_asked = "/repos/fabrikam/frontend/actions/runs/1042"
    job_asked = "/repos/fabrikam/frontend/actions/jobs/1042"
    assert run_asked in paths, f"auto asks for a run first: {github.seen}"
    assert paths.count(job_asked) == 1, f"the id is no run, so it is asked for as a job, once: {github.seen}"
    assert paths.index(run_asked) < paths.index(job_asked), f"a run first, then the job: {github.seen}"
    assert all(auth == f"Bearer {GITHUB_TOKEN}" for _, _, auth in github.seen)
    assert d.image is not None and d.image.id == "1042"
    assert d.image.state is StepState.FAILED, f"the job failed: {d.image.state} {d.warnings}"
    run = d.image.run
    assert run is not None, d.warnings
    assert (run.number, run.pipeline, run.status, run.result) == ("1042", "frontend-image / Build", RunStatus.COMPLETED, RunResult.FAILED)
    assert run.url == f"{github.url}/fabrikam/frontend/actions/runs/254907244/job/1042"
    assert run.finished_at == datetime(2026, 11, 26, 10, 4, tzinfo=timezone.utc)


def test_github_ids_take_only_run_job_or_auto() -> None:
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
