"""Every library error arrives as the exception class of its kind, naming the thing and the value."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import spektate


def test_the_exception_classes_form_one_hierarchy() -> None:
    for cls in (spektate.ConfigError, spektate.StoreError, spektate.ConflictError, spektate.NotFoundError, spektate.ProviderError):
        assert issubclass(cls, spektate.SpektateError) and cls.__module__ == "spektate"
    assert issubclass(spektate.AuthError, spektate.ProviderError)
    assert issubclass(spektate.SpektateError, Exception)


def test_a_missing_store_is_a_store_error_naming_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "spektate.db"
    with pytest.raises(spektate.StoreError) as e:
        spektate.Tracker(missing)
    assert str(missing) in str(e.value)
    with pytest.raises(spektate.StoreError) as e:
        spektate.Store.open(f"sqlite:{missing}")
    assert str(missing) in str(e.value)
    with pytest.raises(spektate.StoreError) as e:
        spektate.Recorder(missing)  # a writer creates the file, not its directory
    assert str(missing) in str(e.value)
    assert not missing.exists()


def test_bad_store_specs_are_config_errors_naming_the_value(tmp_path: Path) -> None:
    with pytest.raises(spektate.ConfigError, match="'mongodb'"):
        spektate.Store.open("mongodb:localhost")
    with pytest.raises(spektate.ConfigError, match="needs a path"):
        spektate.Recorder("sqlite:")
    with pytest.raises(spektate.ConfigError, match="table name"):
        spektate.Store.open("azure-table:UseDevelopmentStorage=true")
    with pytest.raises(spektate.ConfigError, match="store: a int is not"):
        spektate.Tracker(42)  # type: ignore[arg-type]
    # A spec given as bytes is refused without being echoed: it may hold a password.
    secret = b"postgres://ci:s3cret-pw@db.fabrikam.com/spektate"
    for make in (spektate.Store.open, spektate.Recorder, spektate.Tracker):
        with pytest.raises(spektate.ConfigError, match="a bytes is not") as e:
            make(secret)  # type: ignore[arg-type]
        assert "s3cret-pw" not in str(e.value)


def test_bad_arguments_name_the_argument_and_the_value(db: Path) -> None:
    recorder = spektate.Recorder(db, partition="fabrikam")
    with pytest.raises(spektate.ConfigError, match="p1") as e:
        recorder.image_built_blocking(p1="  ", image_tag="t", commit_id="c", service="s")
    assert "empty" in str(e.value)
    # Named as the keyword is, not as the JSON field.
    with pytest.raises(spektate.ConfigError, match="^invalid image_tag: is empty"):
        recorder.image_built_blocking(p1="1", image_tag=" ", commit_id="c", service="s")
    with pytest.raises(spektate.ConfigError, match="'done-ish'"):
        recorder.run_reported_blocking("1", "done-ish")
    with pytest.raises(spektate.ConfigError, match="result"):
        recorder.run_reported_blocking("1", "inProgress", result="failed")
    with pytest.raises(spektate.ConfigError, match="repository") as e:
        recorder.image_built_blocking(p1="1", image_tag="t", commit_id="c", service="s", repository="not a url")
    assert "'not a url'" in str(e.value)
    with pytest.raises(spektate.ConfigError, match="partition"):
        spektate.Recorder(db, partition="a/b")
    with pytest.raises(spektate.ConfigError, match="'x' is not"):
        spektate.Tracker(db, manifest_repo="x")
    for blank in ("", "  "):
        with pytest.raises(spektate.ConfigError, match="partition key: is empty"):
            spektate.Tracker(db, partition=blank)
    tracker = spektate.Tracker(db, partition="fabrikam")
    with pytest.raises(spektate.ConfigError, match="status") as e:
        tracker.deployments_blocking(status="bogus")
    assert "'bogus'" in str(e.value) and "inProgress" in str(e.value), "the accepted words are listed"
    with pytest.raises(spektate.ConfigError, match="top"):
        tracker.deployments_blocking(top=0)
    with pytest.raises(spektate.ConfigError, match="kind"):
        tracker.deployments_blocking(kind=3)  # type: ignore[arg-type]


def test_a_manifest_commit_without_its_record_is_not_found(db: Path) -> None:
    async def main() -> None:
        await spektate.Recorder(db).manifest_committed(p3="9", manifest_commit_id="abc1234")

    with pytest.raises(spektate.NotFoundError, match="p3 '9'"):
        asyncio.run(main())


def test_coroutine_methods_need_a_running_event_loop(db: Path) -> None:
    """The awaitables run on asyncio: outside a loop the call says so instead of hanging."""
    tracker = spektate.Tracker(spektate.Store.open(db, create=True))
    with pytest.raises(RuntimeError):
        tracker.deployments()


def test_a_program_that_ends_right_after_awaiting_exits_cleanly(tmp_path: Path) -> None:
    """The thread that settles an awaitable may still be inside asyncio when the program
    returns from asyncio.run and exits; the interpreter must not be finalizing under it (that
    aborted the process, exit status 134, in about one run in three)."""
    script = tmp_path / "last_await.py"
    script.write_text(
        "import asyncio, sys, spektate\n"
        "async def main() -> None:\n"
        "    await spektate.Recorder(sys.argv[1], 'p').image_built(p1='1', image_tag='t', commit_id='c', service='s')\n"
        "    tracker = spektate.Tracker(sys.argv[1], partition='p')\n"
        "    for _ in range(20):\n"
        "        await tracker.refresh()\n"
        "    print(len(await tracker.deployments()))\n"
        "asyncio.run(main())\n"
    )
    db = tmp_path / "exit.db"
    runs = [subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(16)]
    outputs = [p.communicate(timeout=120) for p in runs]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(runs, outputs)] == [(0, "1")] * 16, [err for _, err in outputs if err]
