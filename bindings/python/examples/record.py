"""A pipeline's step, recorded as ``spektate record`` records it: through a Spektate server when
``SPEKTATE_SERVER`` is set (with the write token in ``SPEKTATE_TOKEN``), else into the store.

Settings come from the same environment variables as the ``spektate`` command::

    SPEKTATE_SERVER=https://spektate.example.com   # record through `spektate serve` ...
    SPEKTATE_TOKEN=spk_...                         # ... with a write token for the partition
    SPEKTATE_STORE=postgres://ci@db/spektate       # or straight into a store (default sqlite:spektate.db)
    SPEKTATE_PARTITION_KEY=fabrikam                # the project (default: default)

Run it at the end of the image pipeline (p1); it prints the id of the deployment written::

    python examples/record.py --p1 "$BUILD_ID" --image-tag "frontend-$BUILD_ID" \\
        --commit-id "$COMMIT" --service fabrikam/frontend [--status completed]

``--status`` also reports the run itself, for a CI Spektate has no API client for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Optional, Union

import spektate


def env(name: str) -> Optional[str]:
    """An environment variable, `None` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def recorder_from_env() -> Union[spektate.Recorder, spektate.ServerRecorder]:
    """A recorder through the server the environment names, else into its store: both record
    the same steps with the same arguments."""
    partition = env("SPEKTATE_PARTITION_KEY") or "default"
    server = env("SPEKTATE_SERVER")
    if server is not None:
        return spektate.ServerRecorder(server, partition, token=env("SPEKTATE_TOKEN") or "")
    return spektate.Recorder(env("SPEKTATE_STORE") or "sqlite:spektate.db", partition)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Records that p1 built an image.")
    p.add_argument("--p1", required=True, help="the image pipeline's run id")
    p.add_argument("--image-tag", required=True, help="the container image tag")
    p.add_argument("--commit-id", required=True, help="the source commit")
    p.add_argument("--service", required=True, help="the service (org/name is shown as name)")
    p.add_argument("--repository", help="the source repository URL")
    p.add_argument("--status", choices=[s.value for s in spektate.RunStatus], help="also report the run")
    return p.parse_args(argv)


async def record(args: argparse.Namespace) -> str:
    recorder = recorder_from_env()
    written = await recorder.image_built(
        p1=args.p1, image_tag=args.image_tag, commit_id=args.commit_id, service=args.service, repository=args.repository
    )
    if args.status is not None:
        await recorder.run_reported(args.p1, args.status)
    # A local Recorder answers with the record, a ServerRecorder with its id.
    return written if isinstance(written, str) else written.row_key


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    try:
        print(asyncio.run(record(args)))
    except spektate.SpektateError as e:
        print(f"record: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
