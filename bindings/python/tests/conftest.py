"""Fixtures: a fresh SQLite store per test, and a local fake of the Azure DevOps REST API."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

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


@pytest.fixture
def azure_devops() -> Iterator[FakeAzureDevOps]:
    """A threaded HTTP server answering the project and builds endpoints like Azure DevOps,
    accepting only GOOD_TOKEN (basic auth, empty user); stopped even when the test fails."""
    state: dict[str, FakeAzureDevOps] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
