"""Many pipelines record at once, from Python threads and from asyncio tasks, and nothing is lost;
the blocking twins release the GIL while they wait."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import stop

import spektate
from spektate import Status


def test_threads_record_and_read_one_store_at_once(db: Path) -> None:
    """Threads record while others read, each pipeline with its own recorder, and every
    conditional write lands, even two rings updating one record at once. (That the calls
    overlap is the next test's.)"""
    spektate.Recorder(db).image_built_blocking(p1="0", image_tag="warmup-0", commit_id="0000000", service="warmup")
    tracker = spektate.Tracker(db)

    def image(i: int) -> str:
        return spektate.Recorder(db).image_built_blocking(p1=f"1{i:02}", image_tag=f"svc{i}-{i}", commit_id=f"{i:07}", service=f"svc{i}").row_key

    def ring(i: int, env: str) -> str:
        # Each pipeline opens the store itself, as separate agents would.
        rec = spektate.Recorder(db).metadata_updated_blocking(p2=f"{env}{i:02}", image_tag=f"svc{i}-{i}", hld_commit_id=f"{env}{i:05}", env=env)
        return rec.row_key

    def reader() -> int:
        return len(tracker.deployments_blocking())

    with ThreadPoolExecutor(max_workers=12) as pool:
        readers = [pool.submit(reader) for _ in range(4)]
        keys = list(pool.map(image, range(8)))
        # The same image going to two rings at the same moment: both records must exist after.
        rings = [pool.submit(ring, i, env) for i in range(8) for env in ("dev", "prod")]
        ring_keys = [r.result(timeout=120) for r in rings]
        # Each read sees a whole store at some moment: the warm-up, and at most every record.
        assert all(1 <= r.result(timeout=120) <= 1 + 16 for r in readers)

    assert len(set(keys)) == 8
    assert len(set(ring_keys)) == 16 and set(keys) <= set(ring_keys), "one ring updated the image's record, the other copied it"
    tracker.refresh_blocking()
    deployments = tracker.deployments_blocking()
    assert len(deployments) == 1 + 16, "each image in two rings, plus the warm-up"
    pairs = sorted((d.service or "", d.ring or "") for d in deployments if d.service != "warmup")
    assert pairs == sorted((f"svc{i}", env) for i in range(8) for env in ("dev", "prod"))
    assert all(d.commit_id == f"{int(d.service[3:]):07}" for d in deployments if d.service and d.service != "warmup")


T = TypeVar("T")

HOLD = 2.0
"""How long the slow server holds each request, in seconds."""

SLOW_SERVER = r"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

hold = float(sys.argv[1])
BUILD = {
    "id": 101, "buildNumber": "20261126.1", "status": "completed", "result": "succeeded",
    "queueTime": "2026-11-26T10:00:00.000Z", "startTime": "2026-11-26T10:00:05.000Z",
    "finishTime": "2026-11-26T10:04:00.000Z", "lastChangedDate": "2026-11-26T10:04:00.000Z",
    "definition": {"id": 7, "name": "frontend-image"}, "sourceBranch": "refs/heads/main",
    "sourceVersion": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "requestedFor": {"displayName": "Mona Lisa"},
    "_links": {"web": {"href": "https://dev.azure.com/fabrikam/hello/_build/results?buildId=101"}},
}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def answer(self, status, body):
        print(self.command, urlsplit(self.path).path, flush=True)
        time.sleep(hold)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = urlsplit(self.path)
        partition = parse_qs(parts.query).get("partition", [""])[0]
        if parts.path == "/api/records/image":
            self.answer(200, {"id": "0123456789ab", "partition": partition, "kind": "image"})
        else:
            self.answer(404, {"error": "no route " + parts.path})

    def do_GET(self):
        parts = urlsplit(self.path)
        ids = parse_qs(parts.query).get("buildIds", [""])[0].split(",")
        if parts.path == "/fabrikam/hello/_apis/build/builds":
            found = [BUILD] if "101" in ids else []
            self.answer(200, {"count": len(found), "value": found})
        else:
            self.answer(404, {"message": "no route " + parts.path})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
def slow_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A server holding each request HOLD seconds before it answers as Spektate's write API
    (``POST /api/records/image``) or Azure DevOps (``GET .../_apis/build/builds``) would. It is
    another process: a call holding the GIL cannot hold it up, so such a call is slow, not stuck."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(HOLD)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"the slow server printed {url!r}"
        yield url, proc
    finally:
        stop(proc)


def test_blocking_twins_release_the_gil_so_threads_record_and_read_at_once(
    db: Path, slow_server: tuple[str, subprocess.Popen[str]]
) -> None:
    """One thread records through a server and one reads runs from a CI, each waiting HOLD
    seconds on its answer: with the GIL released the two waits overlap (well under 2 * HOLD in
    all) and a third Python thread keeps running meanwhile."""
    url, proc = slow_server
    spektate.Recorder(db, partition="hello").image_built_blocking(
        p1="101", image_tag="frontend-101", commit_id="a1b2c3d4e5f6", service="frontend"
    )
    recorder = spektate.ServerRecorder(url, "fabrikam", token="spk_concurrency-test")
    project = spektate.AzureDevOps("fabrikam", "hello", token="azdo-pat", url=url)
    tracker = spektate.Tracker(db, partition="hello", azure_devops=project)

    def write() -> str:
        return recorder.image_built_blocking(p1="102", image_tag="frontend-102", commit_id="b2c3d4e5f6a7", service="frontend")

    def read() -> list[spektate.Deployment]:
        return tracker.deployments_blocking()

    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.01)

    start = threading.Barrier(3)
    took: dict[str, float] = {}

    def timed(name: str, call: Callable[[], T]) -> T:
        start.wait(timeout=30)
        t0 = time.monotonic()
        try:
            return call()
        finally:
            took[name] = time.monotonic() - t0

    tick = threading.Thread(target=ticker, name="ticker", daemon=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        written = pool.submit(timed, "write", write)
        read_ = pool.submit(timed, "read", read)
        start.wait(timeout=30)
        t0 = time.monotonic()
        tick.start()
        written_id, deployments = written.result(timeout=120), read_.result(timeout=120)
        elapsed = time.monotonic() - t0
    done.set()
    tick.join(timeout=10)

    assert written_id == "0123456789ab"
    [d] = deployments
    assert d.image is not None and d.image.run is not None and d.image.run.number == "20261126.1", d.warnings
    assert took["write"] >= HOLD * 0.9 and took["read"] >= HOLD * 0.9, f"each call waited on the slow server: {took}"
    assert elapsed < HOLD * 1.8, f"the two blocking calls ran one after the other ({elapsed:.2f} s, each {took})"
    # A tick each 10 ms: about 100 a second when the GIL is free, none while a call holds it.
    assert ticks >= 20, f"a Python thread ran {ticks} times in {elapsed:.2f} s of blocking calls"
    stop(proc)
    assert proc.stdout is not None
    asked = proc.stdout.read().split("\n")
    assert "POST /api/records/image" in asked and "GET /fabrikam/hello/_apis/build/builds" in asked, asked


def test_parallel_coroutines_share_one_tracker(db: Path) -> None:
    async def main() -> None:
        recorder = spektate.Recorder(db, partition="fabrikam")
        records = await asyncio.gather(
            *(
                recorder.image_built(p1=str(500 + i), image_tag=f"api-{i}", commit_id=f"{i:07}", service="api")
                for i in range(16)
            )
        )
        assert len({r.row_key for r in records}) == 16
        await asyncio.gather(*(recorder.run_reported(str(500 + i), "inProgress") for i in range(16)))
        tracker = spektate.Tracker(db, partition="fabrikam")
        results = await asyncio.gather(
            tracker.deployments(),
            tracker.deployments(service="api", top=3),
            tracker.refresh(),
            tracker.deployments(status=Status.IN_PROGRESS),
            tracker.table(),
        )
        everything, top3, stats, running, table = results
        assert len(everything) == 16 and len(top3) == 3 and len(running) == 16
        assert stats.deployments == 16
        assert table.count("api-") == 16

    asyncio.run(main())
