"""The enums of Spektate's results and arguments.

Each is a ``str`` enum whose values are the words of the JSON documents (``spektate get -o
json``): ``Status.IN_PROGRESS == "inProgress"``. Arguments accept a member or its word.
"""

from enum import Enum

__all__ = [
    "Band",
    "Basis",
    "DeploymentKind",
    "GroupBy",
    "Outcome",
    "RepoHost",
    "RunKind",
    "RunResult",
    "RunStatus",
    "Segment",
    "Status",
    "StepState",
]


class _Word(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class Status(_Word):
    """The overall state of a deployment."""

    COMPLETE = "complete"
    """The manifest pipeline completed and succeeded."""
    IN_PROGRESS = "inProgress"
    """A run is queued or running."""
    FAILED = "failed"
    """A run failed."""
    CANCELED = "canceled"
    """A run was canceled."""
    INCOMPLETE = "incomplete"
    """Nothing runs and nothing failed, but the journey has not reached the manifests."""


class StepState(_Word):
    """What one step of a deployment (image, metadata, manifest) is doing."""

    QUEUED = "queued"
    IN_PROGRESS = "inProgress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    """A stage that never ran because an earlier one failed."""
    UNKNOWN = "unknown"
    """Nothing knows about the run yet (no provider serves it, no run report yet)."""
    EXPIRED = "expired"
    """The CI says the run is gone (retention expired)."""


class DeploymentKind(_Word):
    """An image travelling to the clusters, or a change made straight in the HLD repo."""

    DEPLOYMENT = "deployment"
    MANUAL_HLD_EDIT = "manualHldEdit"


class RunStatus(_Word):
    """Where a run is in its life."""

    QUEUED = "queued"
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"


class RunResult(_Word):
    """How a finished run ended."""

    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partiallySucceeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"


class RunKind(_Word):
    """A build (p1, p3, multi-stage p2) or a classic release (p2)."""

    BUILD = "build"
    RELEASE = "release"


class RepoHost(_Word):
    """The service hosting a repository."""

    AZURE_DEVOPS = "azure-devops"
    GITHUB = "github"
    GITLAB = "gitlab"


class Outcome(_Word):
    """How a GitOps agent's attempt to apply a commit to a cluster ended."""

    APPLIED = "applied"
    """The commit was applied: the cluster runs it."""
    FAILED = "failed"
    """Applying it failed (a failed reconciliation, health check or sync)."""


class Band(_Word):
    """A DORA performance band of a metric (the thresholds are in the README, "Metrics")."""

    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class GroupBy(_Word):
    """How ``Tracker.metrics`` breaks its figures down besides the whole."""

    SERVICE = "service"
    RING = "ring"
    WEEK = "week"
    """One group per ISO week (Monday to Sunday, UTC), named ``2026-W05``."""


class Segment(_Word):
    """A step of a deployment's journey, as the metrics and the ETA cut it."""

    IMAGE = "image"
    """From the image pipeline's queue time to its finish."""
    METADATA = "metadata"
    """To the metadata pipeline's finish."""
    APPROVAL = "approval"
    """To the approval pull request's merge."""
    MANIFESTS = "manifests"
    """To the manifest pipeline's finish."""
    SYNC = "sync"
    """To the first cluster running the deployment."""


class Basis(_Word):
    """Whose history an ETA step's estimate came from."""

    SERVICE_RING = "serviceRing"
    """Deployments of the same service to the same ring."""
    SERVICE = "service"
    """Deployments of the same service."""
    ALL = "all"
    """Every deployment."""
