"""Recording through a running `spektate serve` with a write token: the steps a local Recorder
records arrive in the server's store, refusals arrive as the exception of their kind, and a
retried request carries one Idempotency-Key."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Postgres, Server, cli_env, start_serve, stop
from test_journey import COMMIT, HLD, HLD_COMMIT, MANIFEST_COMMIT, MANIFESTS, SOURCE, T0, record_journey

import spektate
from spektate import RunResult, RunStatus, Status, StepState


async def record_through(recorder: spektate.ServerRecorder) -> list[str]:
    """The journey of test_journey.record_journey, through a server; the ids written."""
    return [
        await recorder.image_built(p1="101", image_tag="frontend-101", commit_id=COMMIT, service="fabrikam/frontend", repository=SOURCE),
        await recorder.run_reported("101", RunStatus.COMPLETED, result=RunResult.SUCCEEDED, queued_at=T0, started_at=T0, finished_at=T0 + timedelta(minutes=4)),
        await recorder.metadata_updated(p2="201", image_tag="frontend-101", hld_commit_id=HLD_COMMIT, env="prod", pr="7", repository=HLD),
        await recorder.run_reported("201", "completed", result="succeeded", queued_at=T0 + timedelta(minutes=5), started_at=T0 + timedelta(minutes=5), finished_at=T0 + timedelta(minutes=6)),
        await recorder.manifest_generated(p3="301", hld_commit_id=HLD_COMMIT, pr="7", repository=MANIFESTS),
        await recorder.manifest_committed(p3="301", manifest_commit_id=MANIFEST_COMMIT),
        await recorder.run_reported("301", "completed", queued_at=T0 + timedelta(minutes=20), started_at=T0 + timedelta(minutes=20), finished_at=T0 + timedelta(minutes=22), attempt=1),
        await recorder.cluster_synced("west-europe", MANIFEST_COMMIT),
    ]


def test_a_journey_recorded_through_a_server_reads_back_as_recorded_locally(server: Server, db: Path) -> None:
    recorder = spektate.ServerRecorder(server.url, "fabrikam", token=server.token)
    assert (recorder.server, recorder.partition) == (server.url, "fabrikam")
    assert repr(recorder) == f"ServerRecorder(server='{server.url}', partition='fabrikam')"

    async def main() -> tuple[list[str], list[spektate.Deployment], list[spektate.Deployment]]:
        ids = await record_through(recorder)
        await record_journey(spektate.Recorder(db, "fabrikam"))
        return ids, await spektate.Tracker(server.store, partition="fabrikam").deployments(), await spektate.Tracker(db, partition="fabrikam").deployments()

    ids, [d], [local] = asyncio.run(main())
    assert ids == [d.id, "101", d.id, "201", d.id, d.id, "301", "west-europe"]
    assert d.id == local.id and len(d.id) == 12
    assert (d.service, d.ring, d.image_tag, d.pr) == ("frontend", "prod", "frontend-101", "7")
    assert (d.commit_id, d.hld_commit_id, d.manifest_commit_id) == (COMMIT, HLD_COMMIT, MANIFEST_COMMIT)
    assert d.status is Status.COMPLETE and d.synced and [c.cluster for c in d.clusters] == ["west-europe"]
    assert d.image is not None and d.image.state is StepState.SUCCEEDED and d.duration_secs == 7 * 60
    assert d.source_repo is not None and d.source_repo.url == SOURCE
    assert (d.status, d.duration_secs, d.last_updated) == (local.status, local.duration_secs, local.last_updated)

    # The same step again writes nothing new (the blocking twin, from a thread of its own).
    again = recorder.image_built_blocking(p1="101", image_tag="frontend-101", commit_id=COMMIT, service="fabrikam/frontend")
    assert again == d.id and len(spektate.Tracker(server.store, partition="fabrikam").deployments_blocking()) == 1


def test_refusals_arrive_as_the_exception_of_their_kind(server: Server) -> None:
    recorder = spektate.ServerRecorder(server.url, "fabrikam", token=server.token)
    # Checked with the server's rules before sending, named as a local Recorder names them.
    with pytest.raises(spektate.ConfigError, match="image_tag: is empty"):
        recorder.image_built_blocking(p1="1", image_tag=" ", commit_id="c", service="s")
    with pytest.raises(spektate.ConfigError, match="attempt"):
        recorder.run_reported_blocking("1", "completed", attempt=-1)
    # Refused by the server's linking rules.
    with pytest.raises(spektate.ConfigError, match="repository") as e:
        recorder.image_built_blocking(p1="1", image_tag="t-1", commit_id="c", service="s", repository="not a url")
    assert str(e.value) == "invalid repository: 'not a url' is not an Azure DevOps, GitHub or GitLab repository URL"
    with pytest.raises(spektate.NotFoundError, match="p3 '404'"):
        recorder.manifest_committed_blocking(p3="404", manifest_commit_id="abc1234")

    wrong = spektate.ServerRecorder(server.url, "fabrikam", token="spk_00000000_not-a-token-7f3a")
    with pytest.raises(spektate.AuthError, match="HTTP 401") as e:
        wrong.cluster_synced_blocking("east", "abc1234")
    assert "not-a-token-7f3a" not in str(e.value) and "not-a-token-7f3a" not in repr(wrong)
    other = spektate.ServerRecorder(server.url, "fabrikam", token=server.other_token)
    with pytest.raises(spektate.AuthError, match="HTTP 403") as e:
        other.cluster_synced_blocking("east", "abc1234")
    assert server.other_token not in str(e.value)
    assert spektate.Tracker(server.store, partition="fabrikam").deployments_blocking() == []

    with pytest.raises(spektate.ConfigError, match="token: is empty"):
        spektate.ServerRecorder(server.url, "fabrikam", token="  ")
    with pytest.raises(spektate.ConfigError, match="server: holds user info") as e:
        spektate.ServerRecorder(f"http://ci:{server.token}@127.0.0.1:1", "fabrikam", token=server.token)
    assert server.token not in str(e.value)
    with pytest.raises(spektate.ConfigError, match="partition key"):
        spektate.ServerRecorder(server.url, "a/b", token=server.token)


def test_a_server_on_postgres_stores_what_python_records(postgres: Postgres, tmp_path: Path) -> None:
    """The team setup: pipelines post to a server whose store is PostgreSQL; a reader opens it."""
    url = postgres.databases["serve"]
    proc, srv = start_serve(tmp_path, url)
    try:
        recorder = spektate.ServerRecorder(srv.url, "fabrikam", token=srv.token)
        ids = asyncio.run(record_through(recorder))
        [d] = spektate.Tracker(url, partition="fabrikam").deployments_blocking()
        assert ids[0] == d.id and d.status is Status.COMPLETE and d.synced
    finally:
        stop(proc)
    assert postgres.password not in srv.log.read_text()


def test_the_record_example_records_through_a_server_or_into_a_store(server: Server, db: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "record.py"

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        args = ["--p1", "101", "--image-tag", "frontend-101", "--commit-id", COMMIT, "--service", "fabrikam/frontend", "--status", "completed"]
        return subprocess.run([sys.executable, str(example), *args], capture_output=True, text=True, env={**cli_env(), "SPEKTATE_PARTITION_KEY": "fabrikam", **env})

    through = run(SPEKTATE_SERVER=server.url, SPEKTATE_TOKEN=server.token)
    assert through.returncode == 0, through.stderr
    local = run(SPEKTATE_STORE=f"sqlite:{db}")
    assert local.returncode == 0, local.stderr
    [d] = spektate.Tracker(server.store, partition="fabrikam").deployments_blocking()
    assert through.stdout.strip() == d.id == local.stdout.strip()
    assert d.image is not None and d.image.state is StepState.SUCCEEDED, "the run was reported too"
    refused = run(SPEKTATE_SERVER=server.url)
    assert refused.returncode == 1 and "record: ConfigError: invalid token: is empty" in refused.stderr


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A server whose first answer is 503 and whose next ones are the write API's answer."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": json.loads(body)})
            status, answer = (503, {"error": "busy"}) if len(seen) == 1 else (200, {"id": "0123456789ab", "partition": "fabrikam", "kind": "image"})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="flaky-spektate", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_a_retried_request_carries_one_idempotency_key(flaky: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = flaky
    recorder = spektate.ServerRecorder(url + "/", "fabrikam", token="spk_test")
    assert recorder.image_built_blocking(p1="101", image_tag="frontend-101", commit_id=COMMIT, service="frontend") == "0123456789ab"
    assert [s["path"] for s in seen] == ["/api/records/image?partition=fabrikam"] * 2
    keys = [{k.lower(): v for k, v in s["headers"].items()}["idempotency-key"] for s in seen]
    assert keys[0] == keys[1] and len(keys[0]) == 32
    assert {k.lower(): v for k, v in seen[0]["headers"].items()}["authorization"] == "Bearer spk_test"
    assert seen[0]["body"] == {"p1": "101", "imageTag": "frontend-101", "commitId": COMMIT, "service": "frontend"}


def test_a_cancelled_await_drops_the_request() -> None:
    """Cancelling the awaitable, once a server that never answers holds the request, cancels
    the Rust task: its connection is closed."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    recorder = spektate.ServerRecorder(f"http://127.0.0.1:{listener.getsockname()[1]}", "fabrikam", token="spk_test")
    received = bytearray()
    arrived = threading.Event()
    failed: list[BaseException] = []

    def hold() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                # Never answers; reads until the client closes the connection.
                conn.settimeout(30)
                while chunk := conn.recv(65536):
                    received.extend(chunk)
                    arrived.set()
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            failed.append(e)
            arrived.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()

    async def main() -> None:
        call = asyncio.ensure_future(recorder.cluster_synced("east", "abc1234"))
        assert await asyncio.to_thread(arrived.wait, 30), "the request never reached the server"
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    try:
        asyncio.run(main())
        holder.join(timeout=30)
        assert not holder.is_alive(), "the connection stayed open after the cancel"
        assert not failed, failed
        assert bytes(received).startswith(b"POST /api/syncs?partition=fabrikam "), bytes(received[:80])
    finally:
        listener.close()
