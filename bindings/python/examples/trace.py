"""Where is my container? The deployments of a store, as ``spektate get`` shows them.

Settings come from the same environment variables as the ``spektate`` command::

    SPEKTATE_STORE=sqlite:spektate.db        # where the pipelines record (the default)
    SPEKTATE_PARTITION_KEY=fabrikam          # the project (default: default)
    SPEKTATE_GITHUB_TOKEN=github_pat_...     # optional: runs, authors, PRs from GitHub
    SPEKTATE_GITHUB_URL=https://github.example.com/api/v3   # optional: GitHub Enterprise
    SPEKTATE_AZDO_ORG=fabrikam SPEKTATE_AZDO_PROJECT=hello SPEKTATE_AZDO_TOKEN=...  # optional
    SPEKTATE_AZDO_URL=https://tfs.corp.local/tfs            # optional: Azure DevOps Server
    SPEKTATE_MANIFEST_REPO=https://github.com/fabrikam/manifests  # optional: cluster sync

Run it::

    python examples/trace.py                    # the table of `spektate get`
    python examples/trace.py --wide --ring prod # `spektate get -o wide --env prod`
    python examples/trace.py --json             # `spektate get -o json`
    python examples/trace.py --blocking         # the same, through the blocking twins
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Optional

import spektate


def env(name: str) -> Optional[str]:
    """An environment variable, `None` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def tracker_from_env() -> spektate.Tracker:
    """The tracker the environment describes."""
    github: Optional[spektate.GitHub] = None
    if env("SPEKTATE_GITHUB_TOKEN") or env("SPEKTATE_GITHUB_URL"):
        github = spektate.GitHub(token=env("SPEKTATE_GITHUB_TOKEN"), api_url=env("SPEKTATE_GITHUB_URL"))
    azure_devops: Optional[spektate.AzureDevOps] = None
    org, project = env("SPEKTATE_AZDO_ORG"), env("SPEKTATE_AZDO_PROJECT")
    if org and project:
        azure_devops = spektate.AzureDevOps(org, project, token=env("SPEKTATE_AZDO_TOKEN"), url=env("SPEKTATE_AZDO_URL"))
    return spektate.Tracker(
        env("SPEKTATE_STORE") or "sqlite:spektate.db",
        partition=env("SPEKTATE_PARTITION_KEY") or "default",
        azure_devops=azure_devops,
        github=github,
        manifest_repo=env("SPEKTATE_MANIFEST_REPO"),
        hld_repo=env("SPEKTATE_HLD_REPO"),
        source_repo=env("SPEKTATE_SOURCE_REPO"),
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The deployments of a Spektate store.")
    p.add_argument("-s", "--service", help="only this service")
    p.add_argument("-e", "--env", "--ring", dest="ring", help="only this ring")
    p.add_argument("-a", "--author", help="only changes by this author")
    p.add_argument("--status", choices=[s.value for s in spektate.Status], help="only this status")
    p.add_argument("--top", type=int, help="at most this many, newest first")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--wide", action="store_true", help="the wide table")
    out.add_argument("--json", action="store_true", help="JSON documents, as `spektate get -o json`")
    p.add_argument("--blocking", action="store_true", help="use the blocking twins instead of asyncio")
    return p.parse_args(argv)


def report(deployments: list[spektate.Deployment], table: Optional[str]) -> None:
    """Prints the table (or the JSON documents), and warnings on stderr."""
    if table is None:
        print(json.dumps([d.to_dict() for d in deployments], indent=2))
    elif deployments:
        print(table, end="")
    else:
        print("No deployments found.")
    for d in deployments:
        for warning in d.warnings:
            print(f"warning: deployment {d.id}: {warning}", file=sys.stderr)


def filter_of(args: argparse.Namespace) -> spektate.Filter:
    """The criteria given on the command line, as one filter for both calls."""
    return spektate.Filter(service=args.service, ring=args.ring, author=args.author, status=args.status, top=args.top)


async def trace(args: argparse.Namespace) -> None:
    tracker = tracker_from_env()
    criteria = filter_of(args)
    deployments = await tracker.deployments(criteria)
    table = None if args.json else await tracker.table(criteria, wide=args.wide)
    report(deployments, table)


def trace_blocking(args: argparse.Namespace) -> None:
    tracker = tracker_from_env()
    criteria = filter_of(args)
    deployments = tracker.deployments_blocking(criteria)
    table = None if args.json else tracker.table_blocking(criteria, wide=args.wide)
    report(deployments, table)


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    try:
        if args.blocking:
            trace_blocking(args)
        else:
            asyncio.run(trace(args))
    except spektate.SpektateError as e:
        print(f"trace: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`trace.py | head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
