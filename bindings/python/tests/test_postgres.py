"""A PostgreSQL store from Python: a journey recorded into it reads back as into SQLite and as
`spektate get` reads it, and its password shows nowhere, not even when it is wrong."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Postgres, cli_env, spektate_cli
from test_journey import COMMIT, HLD_COMMIT, MANIFEST_COMMIT, record_journey

import spektate
from spektate import Status


def test_a_journey_recorded_into_postgres_reads_back_as_from_sqlite(postgres: Postgres, db: Path) -> None:
    url = postgres.databases["journey"]

    async def main() -> tuple[list[spektate.Deployment], list[spektate.Deployment]]:
        await record_journey(spektate.Recorder(spektate.Store.open(url, create=True), "fabrikam"))
        await record_journey(spektate.Recorder(db, "fabrikam"))
        # A spec opens a reader: read-only sessions, the schema the recorder created.
        return await spektate.Tracker(url, partition="fabrikam").deployments(), await spektate.Tracker(db, partition="fabrikam").deployments()

    [d], [lite] = asyncio.run(main())
    assert (d.service, d.ring, d.image_tag) == ("frontend", "prod", "frontend-101")
    assert (d.commit_id, d.hld_commit_id, d.manifest_commit_id) == (COMMIT, HLD_COMMIT, MANIFEST_COMMIT)
    assert d.status is Status.COMPLETE and d.synced and [c.cluster for c in d.clusters] == ["west-europe"]
    assert d.duration_secs == 7 * 60
    assert d.id == lite.id, "the same steps derive the same record key in every store"

    def without_times(doc: dict[str, Any]) -> dict[str, Any]:
        # What the store stamps on writing differs between two stores written one after the other.
        doc = {k: v for k, v in doc.items() if k != "record"}
        doc["clusters"] = [{k: v for k, v in c.items() if k != "syncedAt"} for c in doc["clusters"]]
        doc["liveIn"] = [{k: v for k, v in c.items() if k != "appliedAt"} for c in doc["liveIn"]]
        return doc

    assert without_times(d.to_dict()) == without_times(lite.to_dict())

    out = subprocess.run([spektate_cli(), "get", "--store", url, "-p", "fabrikam", "-o", "json"], capture_output=True, text=True, env=cli_env(), check=True)
    assert json.loads(out.stdout) == [d.to_dict()]
    table = subprocess.run([spektate_cli(), "get", "--store", url, "-p", "fabrikam"], capture_output=True, text=True, env=cli_env(), check=True)
    assert table.stdout == spektate.Tracker(url, partition="fabrikam").table_blocking()


def test_the_password_shows_in_no_repr_and_no_error(postgres: Postgres) -> None:
    url = postgres.databases["empty"]
    password = postgres.password
    store = spektate.Store.open(url)
    shown = url.replace(f":{password}@", "@")
    assert store.description == shown and repr(store) == f"Store('{shown}')"
    assert password not in repr(spektate.Recorder(url, "fabrikam"))
    assert password not in repr(spektate.Tracker(store, partition="fabrikam"))

    # A database no recorder wrote to has no schema: a reader says so and creates none.
    with pytest.raises(spektate.StoreError, match="has no spektate schema") as e:
        spektate.Tracker(url, partition="fabrikam").deployments_blocking()
    assert password not in str(e.value) and shown in str(e.value)

    wrong = url.replace(password, "not-the-password-7f3a")
    with pytest.raises(spektate.StoreError, match="password authentication failed") as e:
        spektate.Recorder(wrong, "fabrikam").image_built_blocking(p1="1", image_tag="t-1", commit_id="c1", service="s")
    assert "not-the-password-7f3a" not in str(e.value) and password not in str(e.value)
    with pytest.raises(spektate.StoreError) as e:
        spektate.Tracker(wrong).deployments_blocking()
    assert "not-the-password-7f3a" not in str(e.value)

    with pytest.raises(spektate.StoreError, match="sslmode 'sometimes'") as e:
        spektate.Store.open(url + "?sslmode=sometimes")
    assert password not in str(e.value)


def test_a_store_opened_without_create_only_reads(postgres: Postgres) -> None:
    url = postgres.databases["refused"]
    writer = spektate.Recorder(spektate.Store.open(url, create=True), "fabrikam")
    rec = writer.image_built_blocking(p1="1", image_tag="t-1", commit_id="c1", service="s")
    reader = spektate.Recorder(spektate.Store.open(url), "fabrikam")
    with pytest.raises(spektate.StoreError, match="read-only") as e:
        reader.image_built_blocking(p1="2", image_tag="t-2", commit_id="c2", service="s")
    assert postgres.password not in str(e.value)
    [d] = spektate.Tracker(url, partition="fabrikam").deployments_blocking()
    assert d.id == rec.row_key and d.image_tag == "t-1"
