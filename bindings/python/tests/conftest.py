"""Fixtures: a fresh SQLite store per test, a local fake of the Azure DevOps REST API, a private
PostgreSQL server, and a running `spektate serve` with write tokens."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]

GOOD_TOKEN = "azdo-good-pat-0123456789"
BAD_TOKEN = "azdo-revoked-pat-9876543210"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where a test's SQLite store lives (created by the first recording)."""
    return tmp_path / "spektate.db"


@dataclass
class FakeAzureDevOps:
    """An Azure DevOps organisation `fabrikam` with project `hello`, on 127.0.0.1."""

    url: str
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def org_url(self) -> str:
        return f"{self.url}/fabrikam"


def _build(build_id: str, number: str, status: str, result: str | None) -> dict[str, Any]:
    """A build as `GET _apis/build/builds?buildIds=` lists it."""
    b: dict[str, Any] = {
        "id": int(build_id),
        "buildNumber": number,
        "status": status,
        "queueTime": "2026-11-26T10:00:00.000Z",
        "startTime": "2026-11-26T10:00:05.000Z",
        "lastChangedDate": "2026-11-26T10:04:00.000Z",
        "definition": {"id": 7, "name": "frontend-image"},
        "sourceBranch": "refs/heads/main",
        "sourceVersion": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "requestedFor": {"displayName": "Mona Lisa"},
        "_links": {"web": {"href": f"https://dev.azure.com/fabrikam/hello/_build/results?buildId={build_id}"}},
    }
    if status == "completed":
        b["result"] = result
        b["finishTime"] = "2026-11-26T10:04:00.000Z"
    return b


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler of a fake API that answers JSON."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def azure_devops() -> Iterator[FakeAzureDevOps]:
    """A threaded HTTP server answering the project and builds endpoints like Azure DevOps,
    accepting only GOOD_TOKEN (basic auth, empty user); stopped even when the test fails."""
    state: dict[str, FakeAzureDevOps] = {}

    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fake = state["fake"]
            auth = self.headers.get("authorization")
            fake.seen.append((self.path, auth))
            expected = "Basic " + base64.b64encode(f":{GOOD_TOKEN}".encode()).decode()
            if auth != expected:
                self._send(401, {"message": "TF400813: The user is not authorized to access this resource."})
                return
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/fabrikam/_apis/projects/hello":
                self._send(200, {"id": "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", "name": "hello", "state": "wellFormed"})
            elif parts.path == "/fabrikam/hello/_apis/build/builds":
                ids = query.get("buildIds", [""])[0].split(",")
                found = [fake.builds[i] for i in ids if i in fake.builds]
                self._send(200, {"count": len(found), "value": found})
            else:
                self._send(404, {"message": f"no route {parts.path}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    fake = FakeAzureDevOps(url=f"http://{host!s}:{port}")
    fake.builds["101"] = _build("101", "20261126.1", "completed", "succeeded")
    fake.builds["301"] = _build("301", "20261126.7", "inProgress", None)
    state["fake"] = fake
    thread = threading.Thread(target=server.serve_forever, name="fake-azure-devops", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def built(env: str, name: str, how: str) -> str:
    """A binary of this checkout's debug build (or the one the variable `env` names)."""
    path = os.environ.get(env) or str(ROOT / "target" / "debug" / name)
    assert Path(path).is_file(), f"{name} is not at {path}: build it with `{how}` or set {env}"
    return path


def spektate_cli() -> str:
    return built("SPEKTATE_CLI", "spektate", "cargo build -p spektate-cli")


def cli_env() -> dict[str, str]:
    """The environment without the settings of a spektate command."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SPEKTATE_")}


def stop(proc: subprocess.Popen[str]) -> None:
    """Ends a helper process: SIGTERM, then SIGKILL if it has not ended within 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Postgres:
    """A private PostgreSQL server (spektate-test-postgres): its superuser URL and one empty
    database per name the fixture asked for."""

    url: str
    databases: dict[str, str]

    @property
    def password(self) -> str:
        password = urlsplit(self.url).password
        assert password
        return password


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the whole session, with the databases `journey`, `empty`,
    `refused` and `serve`; stopped (and its folder removed) even when tests fail: closing the
    helper's input stops it, and its watchdog stops the server if the helper dies."""
    helper = built(
        "SPEKTATE_TEST_POSTGRES",
        "spektate-test-postgres",
        "cargo build -p spektate-bindings-common --features testkit --bin spektate-test-postgres",
    )
    proc = subprocess.Popen(
        [helper, "journey", "empty", "refused", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=60)
            raise AssertionError(f"spektate-test-postgres started no server: {proc.stderr.read() if proc.stderr else ''}")
        started = json.loads(line)
        yield Postgres(url=started["url"], databases=started["databases"])
        proc.stdin.close()
        proc.wait(timeout=60)
        assert proc.returncode == 0, f"spektate-test-postgres ended with {proc.returncode}"
    finally:
        stop(proc)


@dataclass
class Server:
    """A running `spektate serve` on partition `fabrikam` over `store`, and write tokens."""

    url: str
    store: str
    token: str
    other_token: str
    log: Path


def start_serve(tmp: Path, store: str) -> tuple[subprocess.Popen[str], Server]:
    """Starts `spektate serve` on a free port over `store`, with a write token for `fabrikam`
    and one for `other`; returns the process (to stop) and what the tests need."""
    cli = spektate_cli()
    tokens = tmp / "tokens.json"

    def create(name: str, partition: str) -> str:
        out = subprocess.run(
            [cli, "token", "create", name, "--tokens", str(tokens), "--partition", partition],
            capture_output=True, text=True, env=cli_env(), check=True,
        )
        return out.stdout.strip()

    token, other = create("ci-fabrikam", "fabrikam"), create("ci-other", "other")
    log = tmp / "serve.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [cli, "serve", "--store", store, "-p", "fabrikam", "--port", "0", "--refresh", "1", "--tokens", str(tokens)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True, env=cli_env(),
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if port is None:
        stop(proc)
        raise AssertionError(f"spektate serve printed no address: {line!r}\n{log.read_text()}")
    return proc, Server(url=f"http://127.0.0.1:{port.group(1)}", store=store, token=token, other_token=other, log=log)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`spektate serve` over a fresh SQLite store; stopped even when the test fails."""
    proc, srv = start_serve(tmp_path, f"sqlite:{tmp_path / 'served.db'}")
    try:
        yield srv
    finally:
        stop(proc)
