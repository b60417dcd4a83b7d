"""Many pipelines record at once, from Python threads and from asyncio tasks, and nothing is lost."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import spektate
from spektate import Status


def test_threads_record_and_read_one_store_at_once(db: Path) -> None:
    """Threads record while others read: the blocking twins release the GIL, so the calls
    overlap, and every conditional write lands, even two rings updating one record at once."""
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
        assert all(r.result(timeout=120) >= 1 for r in readers)

    assert len(set(keys)) == 8
    assert len(set(ring_keys)) == 16 and set(keys) <= set(ring_keys), "one ring updated the image's record, the other copied it"
    tracker.refresh_blocking()
    deployments = tracker.deployments_blocking()
    assert len(deployments) == 1 + 16, "each image in two rings, plus the warm-up"
    pairs = sorted((d.service or "", d.ring or "") for d in deployments if d.service != "warmup")
    assert pairs == sorted((f"svc{i}", env) for i in range(8) for env in ("dev", "prod"))
    assert all(d.commit_id == f"{int(d.service[3:]):07}" for d in deployments if d.service and d.service != "warmup")


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
