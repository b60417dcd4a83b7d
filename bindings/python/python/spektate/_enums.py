"""The enums of Spektate's results and arguments.

Each is a ``str`` enum whose values are the words of the JSON documents (``spektate get -o
json``): ``Status.IN_PROGRESS == "inProgress"``. Arguments accept a member or its word.
"""

from enum import Enum

__all__ = ["DeploymentKind", "Outcome", "RepoHost", "RunKind", "RunResult", "RunStatus", "Status", "StepState"]


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
