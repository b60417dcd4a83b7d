"""Spektate: where is my container?

Record what each pipeline of a GitOps flow did, and trace every change from source commit
to cluster. A thin layer over the Rust library: the same store specs, linking rules,
providers and results as the ``spektate`` command.

Every I/O method comes in two forms, by one convention:

* ``name(...)`` is a coroutine method: ``await tracker.deployments()`` inside a running
  asyncio event loop (``async def``);
* ``name_blocking(...)`` takes the same arguments and returns the result directly, for
  scripts; the GIL is released while it waits, so threads run meanwhile. Don't call it
  from a coroutine: it would hold up the event loop.

``ServerRecorder(server, partition, token=...)`` records the steps a ``Recorder`` records through
a team's ``spektate serve`` instead of into a store.

``Tracker.deployments``, ``Tracker.table`` and ``Tracker.metrics`` take a ``Filter``
(``Filter(ring="prod", status="in-progress")``) or its criteria as keyword arguments.
``Tracker.metrics(since=..., until=..., by="service")`` answers the DORA metrics of those
deployments; a deployment on its way has an ``eta``.

Example::

    import asyncio
    import spektate

    async def main() -> None:
        tracker = spektate.Tracker("sqlite:spektate.db", partition="fabrikam")
        print(await tracker.table())

    asyncio.run(main())
"""

from ._enums import (
    Band,
    Basis,
    DeploymentKind,
    GroupBy,
    Outcome,
    RepoHost,
    RunKind,
    RunResult,
    RunStatus,
    Segment,
    Status,
    StepState,
)
from ._spektate import (
    AuthError,
    Author,
    AzureDevOps,
    ChangeFailureRate,
    ClusterReport,
    ClusterSync,
    ConfigError,
    ConflictError,
    Deployment,
    DeploymentFrequency,
    Eta,
    EtaStep,
    Figures,
    Filter,
    GitHub,
    GitLab,
    LeadTime,
    LeadTimeShares,
    Live,
    Metrics,
    MetricsGroup,
    NotFoundError,
    ProviderError,
    PullRequest,
    Record,
    Recorder,
    RefreshStats,
    Repo,
    Run,
    RunReport,
    ServerRecorder,
    SpektateError,
    Stage,
    Step,
    Store,
    StoreError,
    TimeToRestore,
    Tracker,
    __version__,
)

__all__ = [
    "AuthError",
    "Author",
    "AzureDevOps",
    "Band",
    "Basis",
    "ChangeFailureRate",
    "ClusterReport",
    "ClusterSync",
    "ConfigError",
    "ConflictError",
    "Deployment",
    "DeploymentFrequency",
    "DeploymentKind",
    "Eta",
    "EtaStep",
    "Figures",
    "Filter",
    "GitHub",
    "GitLab",
    "GroupBy",
    "LeadTime",
    "LeadTimeShares",
    "Live",
    "Metrics",
    "MetricsGroup",
    "NotFoundError",
    "Outcome",
    "ProviderError",
    "PullRequest",
    "Record",
    "Recorder",
    "RefreshStats",
    "Repo",
    "RepoHost",
    "Run",
    "RunKind",
    "RunReport",
    "RunResult",
    "RunStatus",
    "Segment",
    "ServerRecorder",
    "SpektateError",
    "Stage",
    "Status",
    "Step",
    "StepState",
    "Store",
    "StoreError",
    "TimeToRestore",
    "Tracker",
    "__version__",
]
