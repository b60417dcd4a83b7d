"""Types of the native module.

Methods returning ``Awaitable`` are awaited inside a running asyncio event loop; each has a
blocking twin ``name_blocking`` with the same arguments that returns the result directly.
"""

import os
from datetime import datetime, timedelta
from typing import Any, Awaitable, Literal, Optional, Union, final

from typing_extensions import TypedDict, Unpack

from ._enums import Band, Basis, DeploymentKind, GroupBy, Outcome, RepoHost, RunKind, RunResult, RunStatus, Segment, Status, StepState

__version__: str

class SpektateError(Exception):
    """Base class of every error Spektate raises."""

class ConfigError(SpektateError):
    """Input that cannot be accepted: the message names the setting or argument and its value."""

class StoreError(SpektateError):
    """The record store failed (it names the store and the operation)."""

class ConflictError(SpektateError):
    """A conditional write lost: the record changed since it was read."""

class NotFoundError(SpektateError):
    """A record an operation needs does not exist."""

class ProviderError(SpektateError):
    """A CI or repository provider failed (it names the provider, operation and object)."""

class AuthError(ProviderError):
    """A provider rejected the credentials (HTTP 401 or 403)."""

StoreLike = Union["Store", str, "os.PathLike[str]"]
DateTimeArg = Optional[datetime]

StatusWord = Literal["complete", "inProgress", "failed", "canceled", "incomplete", "in-progress", "succeeded"]
"""The words a status filter takes: the ``Status`` values, ``spektate get``'s ``in-progress``, and
``succeeded`` (the dashboard's word for ``complete``). Any spelling of them is accepted."""
KindWord = Literal["deployment", "manualHldEdit", "manual-hld-edit"]
"""The words a kind filter takes: the ``DeploymentKind`` values and ``spektate get``'s ``manual-hld-edit``."""
ByWord = Literal["service", "ring", "week"]
"""The breakdowns ``Tracker.metrics`` takes: the ``GroupBy`` values (``env`` is taken for ``ring``, in any case)."""

class FilterCriteria(TypedDict, total=False):
    """The keyword arguments of ``Filter``, which ``Tracker.deployments`` and ``Tracker.table`` take too."""

    service: Optional[str]
    ring: Optional[str]
    author: Optional[str]
    image_tag: Optional[str]
    run_id: Optional[str]
    commit: Optional[str]
    deployment_id: Optional[str]
    kind: Union[DeploymentKind, KindWord, str, None]
    status: Union[Status, StatusWord, str, None]
    keyword: Optional[str]
    top: Optional[int]
    include_expired: bool

class Behind(TypedDict):
    """How far the image live in a cluster lags behind the newest image of its service and ring."""

    images: int
    """Images of the service sent to the ring and built later; 0 when up to date."""
    newestTag: Optional[str]
    newestDeploymentId: Optional[str]
    newestBuiltAt: Optional[str]
    """ISO 8601, UTC."""

class Placement(TypedDict):
    """Where one image of a service runs: a row of ``Tracker.status`` (``spektate status -o json``)."""

    service: Optional[str]
    ring: Optional[str]
    cluster: str
    imageTag: Optional[str]
    deploymentId: str
    commit: str
    """The commit the cluster runs: the deployment's own (``exact``), or a later one of the same repository."""
    exact: bool
    since: Optional[str]
    """When the cluster applied ``commit`` (ISO 8601, UTC); when not ``exact``, the tag was live there by then."""
    builtAt: Optional[str]
    behind: Behind

@final
class Store:
    """A record store: where pipelines record and trackers read."""

    @staticmethod
    def open(spec: Union[str, "os.PathLike[str]"], *, table: Optional[str] = None, create: bool = False) -> Store:
        """Opens ``sqlite:PATH`` or a plain path (SQLite), ``azure-table:CONNECTION_STRING`` with
        ``table``, or ``postgres://USER:PASSWORD@HOST/DATABASE`` (nothing connects before the first
        read or write). ``create=True`` opens it for writing: a missing SQLite file is created, a
        PostgreSQL schema is created or migrated at the first write."""
    @staticmethod
    def memory() -> Store:
        """A store in memory, gone with the process."""
    @property
    def description(self) -> str:
        """What the store is (``sqlite:/srv/spektate.db``, ``postgres://ci@db/spektate``); never a credential."""

@final
class Recorder:
    """Records what each pipeline did, by the linking rules, into one partition of a store."""

    def __init__(self, store: StoreLike, partition: str = "default") -> None:
        """``store``: a ``Store``, or a spec or path (created when missing)."""
    @property
    def partition(self) -> str: ...
    @property
    def store(self) -> Store: ...
    def image_built(
        self, *, p1: str, image_tag: str, commit_id: str, service: str, repository: Optional[str] = None
    ) -> Awaitable[Record]:
        """p1 built and pushed an image: inserts a new record."""
    def image_built_blocking(
        self, *, p1: str, image_tag: str, commit_id: str, service: str, repository: Optional[str] = None
    ) -> Record: ...
    def metadata_updated(
        self,
        *,
        p2: str,
        image_tag: str,
        hld_commit_id: str,
        env: str,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
        service: Optional[str] = None,
    ) -> Awaitable[Record]:
        """p2 wrote the image tag into the HLD for a ring; `service` keeps images of two
        services that share a tag apart."""
    def metadata_updated_blocking(
        self,
        *,
        p2: str,
        image_tag: str,
        hld_commit_id: str,
        env: str,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
        service: Optional[str] = None,
    ) -> Record: ...
    def manifest_generated(
        self,
        *,
        p3: str,
        hld_commit_id: str,
        manifest_commit_id: Optional[str] = None,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
    ) -> Awaitable[Record]:
        """p3 rendered manifests from an HLD commit (no matching record: a manual HLD edit)."""
    def manifest_generated_blocking(
        self,
        *,
        p3: str,
        hld_commit_id: str,
        manifest_commit_id: Optional[str] = None,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
    ) -> Record: ...
    def manifest_committed(
        self, *, p3: str, manifest_commit_id: str, repository: Optional[str] = None
    ) -> Awaitable[Record]:
        """p3 pushed its manifest commit; ``NotFoundError`` when no record has that p3."""
    def manifest_committed_blocking(
        self, *, p3: str, manifest_commit_id: str, repository: Optional[str] = None
    ) -> Record: ...
    def run_reported(
        self,
        id: str,
        status: Union[RunStatus, str],
        *,
        result: Union[RunResult, str, None] = None,
        url: Optional[str] = None,
        commit: Optional[str] = None,
        branch: Optional[str] = None,
        repository: Optional[str] = None,
        queued_at: DateTimeArg = None,
        started_at: DateTimeArg = None,
        finished_at: DateTimeArg = None,
        attempt: Optional[int] = None,
    ) -> Awaitable[RunReport]:
        """A pipeline reports its own run; datetimes must be timezone-aware. ``attempt``: which
        attempt of the run this is; a later one replaces the report, an earlier one is ignored."""
    def run_reported_blocking(
        self,
        id: str,
        status: Union[RunStatus, str],
        *,
        result: Union[RunResult, str, None] = None,
        url: Optional[str] = None,
        commit: Optional[str] = None,
        branch: Optional[str] = None,
        repository: Optional[str] = None,
        queued_at: DateTimeArg = None,
        started_at: DateTimeArg = None,
        finished_at: DateTimeArg = None,
        attempt: Optional[int] = None,
    ) -> RunReport: ...
    def cluster_synced(self, cluster: str, commit: str, *, reporter: Optional[str] = None) -> Awaitable[ClusterSync]:
        """A cluster (or a hook beside it) reports the manifest commit it runs."""
    def cluster_synced_blocking(self, cluster: str, commit: str, *, reporter: Optional[str] = None) -> ClusterSync: ...

@final
class ServerRecorder:
    """Records what each pipeline did through a Spektate server (``spektate serve``), which applies
    the linking rules to its store. Each request is retried with backoff on network errors, 429 and
    5xx, with one ``Idempotency-Key``, so the server writes it once. Each method returns the id
    written: the record's (the deployment id), the run id, or the cluster."""

    def __init__(self, server: str, partition: str = "default", *, token: str) -> None:
        """``server``: the server's URL (``https://spektate.example.com``); ``token``: a write token
        for the partition (``spektate token create``), never shown. Nothing is sent yet."""
    @property
    def server(self) -> str: ...
    @property
    def partition(self) -> str: ...
    def image_built(
        self, *, p1: str, image_tag: str, commit_id: str, service: str, repository: Optional[str] = None
    ) -> Awaitable[str]:
        """p1 built and pushed an image."""
    def image_built_blocking(
        self, *, p1: str, image_tag: str, commit_id: str, service: str, repository: Optional[str] = None
    ) -> str: ...
    def metadata_updated(
        self,
        *,
        p2: str,
        image_tag: str,
        hld_commit_id: str,
        env: str,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
        service: Optional[str] = None,
    ) -> Awaitable[str]:
        """p2 wrote the image tag into the HLD for a ring."""
    def metadata_updated_blocking(
        self,
        *,
        p2: str,
        image_tag: str,
        hld_commit_id: str,
        env: str,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
        service: Optional[str] = None,
    ) -> str: ...
    def manifest_generated(
        self,
        *,
        p3: str,
        hld_commit_id: str,
        manifest_commit_id: Optional[str] = None,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
    ) -> Awaitable[str]:
        """p3 rendered manifests from an HLD commit."""
    def manifest_generated_blocking(
        self,
        *,
        p3: str,
        hld_commit_id: str,
        manifest_commit_id: Optional[str] = None,
        pr: Optional[str] = None,
        repository: Optional[str] = None,
    ) -> str: ...
    def manifest_committed(
        self, *, p3: str, manifest_commit_id: str, repository: Optional[str] = None
    ) -> Awaitable[str]:
        """p3 pushed its manifest commit; ``NotFoundError`` when no record has that p3."""
    def manifest_committed_blocking(
        self, *, p3: str, manifest_commit_id: str, repository: Optional[str] = None
    ) -> str: ...
    def run_reported(
        self,
        id: str,
        status: Union[RunStatus, str],
        *,
        result: Union[RunResult, str, None] = None,
        url: Optional[str] = None,
        commit: Optional[str] = None,
        branch: Optional[str] = None,
        repository: Optional[str] = None,
        queued_at: DateTimeArg = None,
        started_at: DateTimeArg = None,
        finished_at: DateTimeArg = None,
        attempt: Optional[int] = None,
    ) -> Awaitable[str]:
        """A pipeline reports its own run; datetimes must be timezone-aware."""
    def run_reported_blocking(
        self,
        id: str,
        status: Union[RunStatus, str],
        *,
        result: Union[RunResult, str, None] = None,
        url: Optional[str] = None,
        commit: Optional[str] = None,
        branch: Optional[str] = None,
        repository: Optional[str] = None,
        queued_at: DateTimeArg = None,
        started_at: DateTimeArg = None,
        finished_at: DateTimeArg = None,
        attempt: Optional[int] = None,
    ) -> str: ...
    def cluster_synced(self, cluster: str, commit: str) -> Awaitable[str]:
        """A cluster (or a hook beside it) reports the manifest commit it runs."""
    def cluster_synced_blocking(self, cluster: str, commit: str) -> str: ...

@final
class GitHub:
    """GitHub or GitHub Enterprise Server settings; the token is never shown."""

    def __init__(
        self, *, token: Optional[str] = None, api_url: Optional[str] = None, ids: Literal["run", "job", "auto"] = "run"
    ) -> None:
        """``api_url``: ``https://api.github.com`` by default; for Enterprise ``https://HOST/api/v3``.
        ``ids``: what a bare recorded run id names, ``"run"`` (the default), ``"job"`` or ``"auto"``
        (a job when the repository has no run of that id)."""
    @property
    def api_url(self) -> Optional[str]: ...

@final
class GitLab:
    """GitLab (gitlab.com or a self-managed instance) settings; the token is never shown."""

    def __init__(
        self,
        *,
        token: Optional[str] = None,
        url: Optional[str] = None,
        token_kind: Literal["private", "oauth", "job"] = "private",
        project: Optional[str] = None,
    ) -> None:
        """``url``: ``https://gitlab.com`` by default, or a self-managed instance's URL with its path.
        ``token_kind``: how the token is sent. ``project``: the project of pipelines whose record
        names none (an id or a ``group/name`` path)."""
    @property
    def url(self) -> Optional[str]: ...

@final
class AzureDevOps:
    """One Azure DevOps project and the Azure Repos of its organisation; the token is never shown."""

    def __init__(self, org: str, project: str, *, token: Optional[str] = None, url: Optional[str] = None) -> None:
        """The project of the organisation (or Server collection) ``org``, which lives at ``url``:
        ``https://dev.azure.com`` by default, or a Server's URL above its collections."""
    @property
    def org_url(self) -> str: ...
    @property
    def project(self) -> str: ...
    def check(self) -> Awaitable[str]:
        """The project's name, once the project is found and the token accepted (else ``AuthError``)."""
    def check_blocking(self) -> str: ...

@final
class Filter:
    """Which deployments to show; every given criterion must hold. Reusable; compares by value."""

    def __init__(
        self,
        *,
        service: Optional[str] = None,
        ring: Optional[str] = None,
        author: Optional[str] = None,
        image_tag: Optional[str] = None,
        run_id: Optional[str] = None,
        commit: Optional[str] = None,
        deployment_id: Optional[str] = None,
        kind: Union[DeploymentKind, KindWord, str, None] = None,
        status: Union[Status, StatusWord, str, None] = None,
        keyword: Optional[str] = None,
        top: Optional[int] = None,
        include_expired: bool = False,
    ) -> None:
        """``kind`` and ``status`` take a member or a word in any spelling ``spektate get`` accepts;
        ``top`` keeps the newest N (1 or more); ``include_expired`` also passes the deployments whose
        runs the CI no longer has (``Deployment.expired``). A bad value raises ``ConfigError``."""
    @property
    def service(self) -> Optional[str]: ...
    @property
    def ring(self) -> Optional[str]: ...
    @property
    def author(self) -> Optional[str]: ...
    @property
    def image_tag(self) -> Optional[str]: ...
    @property
    def run_id(self) -> Optional[str]: ...
    @property
    def commit(self) -> Optional[str]: ...
    @property
    def deployment_id(self) -> Optional[str]: ...
    @property
    def kind(self) -> Optional[DeploymentKind]: ...
    @property
    def status(self) -> Optional[Status]: ...
    @property
    def keyword(self) -> Optional[str]: ...
    @property
    def top(self) -> Optional[int]: ...
    @property
    def include_expired(self) -> bool: ...

@final
class Tracker:
    """Joins a store's records with what providers know into deployments, and keeps them fresh."""

    def __init__(
        self,
        store: StoreLike,
        *,
        partition: str = "default",
        azure_devops: Optional[AzureDevOps] = None,
        github: Optional[GitHub] = None,
        gitlab: Optional[GitLab] = None,
        source_repo: Optional[str] = None,
        hld_repo: Optional[str] = None,
        manifest_repo: Optional[str] = None,
    ) -> None:
        """``store``: a ``Store``, or a spec or path that must exist."""
    @property
    def partition(self) -> str: ...
    @property
    def store(self) -> Store: ...
    def deployments(self, filter: Optional[Filter] = None, **criteria: Unpack[FilterCriteria]) -> Awaitable[list[Deployment]]:
        """The deployments that pass ``filter`` (or the criteria given as keywords, not both), newest
        first. The first call refreshes; later calls answer from the last ``refresh()``."""
    def deployments_blocking(
        self, filter: Optional[Filter] = None, **criteria: Unpack[FilterCriteria]
    ) -> list[Deployment]: ...
    def status(
        self, *, service: Optional[str] = None, ring: Optional[str] = None, image_tag: Optional[str] = None, cluster: Optional[str] = None
    ) -> Awaitable[list[Placement]]:
        """Where each service is running: per service, ring and cluster, the image tag live there, since
        when, and how far behind the newest image of its service and ring (``spektate status -o json``).
        The keywords pick rows; newer images still count."""
    def status_blocking(
        self, *, service: Optional[str] = None, ring: Optional[str] = None, image_tag: Optional[str] = None, cluster: Optional[str] = None
    ) -> list[Placement]: ...
    def table(
        self, filter: Optional[Filter] = None, *, wide: bool = False, **criteria: Unpack[FilterCriteria]
    ) -> Awaitable[str]:
        """The table ``spektate get`` prints for them (``wide=True``: ``-o wide``); just the header when there are none."""
    def table_blocking(
        self, filter: Optional[Filter] = None, *, wide: bool = False, **criteria: Unpack[FilterCriteria]
    ) -> str: ...
    def metrics(
        self,
        filter: Optional[Filter] = None,
        *,
        since: DateTimeArg = None,
        until: DateTimeArg = None,
        by: Union[GroupBy, ByWord, str, None] = None,
        **criteria: Unpack[FilterCriteria],
    ) -> Awaitable[Metrics]:
        """The DORA metrics of the deployments that pass ``filter`` (or the criteria given as keywords;
        those whose runs the CI no longer has count whatever ``include_expired`` says), as
        ``spektate metrics -o json`` computes them. Deployments count by the time they finished,
        from ``since`` (an aware datetime; ``None``: the first that finished) to ``until`` (``None``:
        now); ``by`` breaks them down by service, ring or ISO week. A ``by`` word that is none of
        these, or an ``until`` not after ``since``, raises ``ConfigError`` naming it."""
    def metrics_blocking(
        self,
        filter: Optional[Filter] = None,
        *,
        since: DateTimeArg = None,
        until: DateTimeArg = None,
        by: Union[GroupBy, ByWord, str, None] = None,
        **criteria: Unpack[FilterCriteria],
    ) -> Metrics: ...
    def refresh(self) -> Awaitable[RefreshStats]:
        """Reads what changed in the store and re-fetches only what can still change."""
    def refresh_blocking(self) -> RefreshStats: ...
    def prune_expired(self) -> Awaitable[int]:
        """Deletes the records whose runs the CI says are gone; returns how many."""
    def prune_expired_blocking(self) -> int: ...

@final
class Repo:
    """A repository, parsed from its URL."""

    @property
    def provider(self) -> RepoHost: ...
    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def project(self) -> Optional[str]: ...
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def key(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Author:
    """The author of a commit."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> Optional[str]: ...
    @property
    def login(self) -> Optional[str]: ...
    @property
    def avatar_url(self) -> Optional[str]: ...
    @property
    def url(self) -> Optional[str]: ...
    @property
    def committed_at(self) -> Optional[datetime]:
        """When the commit was committed, as its repository says."""
    def to_dict(self) -> dict[str, Any]: ...

@final
class PullRequest:
    """An approval pull request in the HLD repository."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def source_branch(self) -> Optional[str]: ...
    @property
    def target_branch(self) -> Optional[str]: ...
    @property
    def merged(self) -> bool: ...
    @property
    def merged_by(self) -> Optional[Author]: ...
    @property
    def merged_at(self) -> Optional[datetime]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def url(self) -> Optional[str]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class ClusterSync:
    """A cluster running a manifest commit."""

    @property
    def cluster(self) -> str: ...
    @property
    def commit(self) -> str: ...
    @property
    def synced_at(self) -> Optional[datetime]: ...
    @property
    def tagger(self) -> Optional[str]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Live:
    """A cluster where a deployment is live: it runs the deployment's manifest commit, or a later
    commit of the same repository that no later deployment of its service and ring replaced."""

    @property
    def cluster(self) -> str: ...
    @property
    def commit(self) -> str:
        """The commit the cluster runs: the deployment's own (``exact``) or a later one."""
    @property
    def exact(self) -> bool: ...
    @property
    def applied_at(self) -> Optional[datetime]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class ClusterReport:
    """What a cluster's agent reported wrong with a deployment's commit: a failed reconciliation
    or sync, or a health other than healthy."""

    @property
    def cluster(self) -> str: ...
    @property
    def commit(self) -> str: ...
    @property
    def synced_at(self) -> Optional[datetime]: ...
    @property
    def tagger(self) -> Optional[str]: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def health(self) -> Optional[str]: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def message(self) -> Optional[str]: ...
    @property
    def text(self) -> str:
        """What went wrong, in a few words: ``west-eu failed (HealthCheckFailed)``."""
    def to_dict(self) -> dict[str, Any]: ...

@final
class Stage:
    """One stage of a multi-stage run."""

    @property
    def name(self) -> str: ...
    @property
    def order(self) -> int: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def result(self) -> Optional[RunResult]: ...
    @property
    def started_at(self) -> Optional[datetime]: ...
    @property
    def finished_at(self) -> Optional[datetime]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Run:
    """A pipeline run (build or release)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> RunKind: ...
    @property
    def number(self) -> Optional[str]: ...
    @property
    def pipeline(self) -> Optional[str]: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def result(self) -> Optional[RunResult]: ...
    @property
    def queued_at(self) -> Optional[datetime]: ...
    @property
    def started_at(self) -> Optional[datetime]: ...
    @property
    def finished_at(self) -> Optional[datetime]: ...
    @property
    def last_changed_at(self) -> Optional[datetime]: ...
    @property
    def url(self) -> Optional[str]: ...
    @property
    def source_branch(self) -> Optional[str]: ...
    @property
    def source_commit(self) -> Optional[str]: ...
    @property
    def repository(self) -> Optional[Repo]: ...
    @property
    def requested_by(self) -> Optional[str]: ...
    @property
    def image_version(self) -> Optional[str]: ...
    @property
    def stages(self) -> list[Stage]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Step:
    """One pipeline step of a deployment."""

    @property
    def id(self) -> str:
        """The run id recorded for the step (p1, p2 or p3)."""
    @property
    def state(self) -> StepState: ...
    @property
    def run(self) -> Optional[Run]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Record:
    """One stored row, with the columns of the Spektate table."""

    @property
    def partition_key(self) -> str: ...
    @property
    def row_key(self) -> str: ...
    @property
    def service(self) -> Optional[str]: ...
    @property
    def commit_id(self) -> Optional[str]: ...
    @property
    def image_tag(self) -> Optional[str]: ...
    @property
    def p1(self) -> Optional[str]: ...
    @property
    def p2(self) -> Optional[str]: ...
    @property
    def p3(self) -> Optional[str]: ...
    @property
    def env(self) -> Optional[str]: ...
    @property
    def hld_commit_id(self) -> Optional[str]: ...
    @property
    def manifest_commit_id(self) -> Optional[str]: ...
    @property
    def pr(self) -> Optional[str]: ...
    @property
    def source_repo(self) -> Optional[str]: ...
    @property
    def hld_repo(self) -> Optional[str]: ...
    @property
    def manifest_repo(self) -> Optional[str]: ...
    @property
    def timestamp(self) -> Optional[datetime]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RunReport:
    """What a pipeline said about its own run."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def result(self) -> Optional[RunResult]: ...
    @property
    def queued_at(self) -> Optional[datetime]: ...
    @property
    def started_at(self) -> Optional[datetime]: ...
    @property
    def finished_at(self) -> Optional[datetime]: ...
    @property
    def url(self) -> Optional[str]: ...
    @property
    def commit(self) -> Optional[str]: ...
    @property
    def branch(self) -> Optional[str]: ...
    @property
    def repository(self) -> Optional[str]: ...
    @property
    def number(self) -> Optional[str]: ...
    @property
    def reported_at(self) -> Optional[datetime]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RefreshStats:
    """What one refresh did."""

    @property
    def records_read(self) -> int: ...
    @property
    def records_changed(self) -> int: ...
    @property
    def runs_requested(self) -> int: ...
    @property
    def deployments(self) -> int: ...
    def to_dict(self) -> dict[str, int]: ...

@final
class Deployment:
    """The journey of one change, from source commit to cluster."""

    @property
    def id(self) -> str: ...
    @property
    def partition(self) -> str: ...
    @property
    def kind(self) -> DeploymentKind: ...
    @property
    def service(self) -> Optional[str]: ...
    @property
    def ring(self) -> Optional[str]: ...
    @property
    def image_tag(self) -> Optional[str]: ...
    @property
    def commit_id(self) -> Optional[str]: ...
    @property
    def hld_commit_id(self) -> Optional[str]: ...
    @property
    def manifest_commit_id(self) -> Optional[str]: ...
    @property
    def pr(self) -> Optional[str]: ...
    @property
    def source_repo(self) -> Optional[Repo]: ...
    @property
    def hld_repo(self) -> Optional[Repo]: ...
    @property
    def manifest_repo(self) -> Optional[Repo]: ...
    @property
    def image(self) -> Optional[Step]:
        """p1: image creation."""
    @property
    def metadata(self) -> Optional[Step]:
        """p2: metadata update."""
    @property
    def manifest(self) -> Optional[Step]:
        """p3: manifest generation (ready to deploy)."""
    @property
    def multi_stage(self) -> bool: ...
    @property
    def author(self) -> Optional[Author]: ...
    @property
    def pull_request(self) -> Optional[PullRequest]: ...
    @property
    def clusters(self) -> list[ClusterSync]: ...
    @property
    def live_in(self) -> list[Live]:
        """Clusters where it is live: they run its manifest commit or a later one of the same repository."""
    @property
    def cluster_troubles(self) -> list[ClusterReport]:
        """What agents reported wrong with its commit, one report per cluster."""
    @property
    def status(self) -> Status: ...
    @property
    def synced(self) -> bool: ...
    @property
    def awaiting_approval(self) -> bool: ...
    @property
    def expired(self) -> bool:
        """The CI no longer has its runs: shown from what was recorded and last fetched; only a filter
        with ``include_expired`` passes it."""
    @property
    def duration_secs(self) -> Optional[int]: ...
    @property
    def duration(self) -> Optional[timedelta]: ...
    @property
    def started_at(self) -> Optional[datetime]: ...
    @property
    def last_updated(self) -> datetime: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def eta(self) -> Optional[Eta]:
        """When it is expected to be live, while on its way and its history knows every remaining step."""
    @property
    def record(self) -> Record: ...
    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``spektate get -o json`` prints for this deployment."""

@final
class EtaStep:
    """The expected finish of one remaining step of a deployment's journey."""

    @property
    def segment(self) -> Segment: ...
    @property
    def expected_at(self) -> datetime:
        """Its expected finish (medians)."""
    @property
    def p90_at(self) -> datetime:
        """Its finish at the 90th percentile."""
    @property
    def samples(self) -> int:
        """How many past durations the estimate rests on."""
    @property
    def basis(self) -> Basis:
        """Whose history: the same service and ring, the service, or every deployment."""
    def to_dict(self) -> dict[str, Any]: ...

@final
class Eta:
    """When a deployment on its way is expected to be live (the deployment JSON's ``eta``)."""

    @property
    def steps(self) -> list[EtaStep]:
        """The remaining steps, the running one first."""
    @property
    def live_at(self) -> datetime:
        """Expected to be live: the last step's expected finish (medians)."""
    @property
    def live_p90_at(self) -> datetime:
        """Live at the 90th percentile."""
    def to_dict(self) -> dict[str, Any]: ...

@final
class DeploymentFrequency:
    """Deployments that completed (their last step succeeded), per day and per week."""

    @property
    def completed(self) -> int: ...
    @property
    def days(self) -> float:
        """The window's length in days."""
    @property
    def per_day(self) -> Optional[float]: ...
    @property
    def per_week(self) -> Optional[float]: ...
    @property
    def band(self) -> Optional[Band]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class LeadTimeShares:
    """The share of lead time each step took, from 0 to 1."""

    @property
    def commit(self) -> float:
        """From the source commit to the image pipeline's queue time."""
    @property
    def image(self) -> float: ...
    @property
    def metadata(self) -> float: ...
    @property
    def approval(self) -> float: ...
    @property
    def manifests(self) -> float: ...
    @property
    def sync(self) -> float: ...
    def to_dict(self) -> dict[str, float]: ...

@final
class LeadTime:
    """Lead time for changes: from the source commit's time (else the image pipeline's queue time) to the first cluster (or the last step)."""

    @property
    def count(self) -> int: ...
    @property
    def live(self) -> int:
        """Of ``count``, how many reached a cluster."""
    @property
    def from_commit(self) -> int:
        """Of ``count``, how many start at the source commit's time (the others at the image pipeline's queue time)."""
    @property
    def median_secs(self) -> Optional[int]: ...
    @property
    def median(self) -> Optional[timedelta]: ...
    @property
    def p90_secs(self) -> Optional[int]:
        """The 90th percentile by nearest rank."""
    @property
    def p90(self) -> Optional[timedelta]: ...
    @property
    def shares(self) -> Optional[LeadTimeShares]: ...
    @property
    def band(self) -> Optional[Band]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class ChangeFailureRate:
    """Deployments with a failed step over those that finished (completed or failed)."""

    @property
    def failed(self) -> int: ...
    @property
    def finished(self) -> int: ...
    @property
    def rate(self) -> Optional[float]: ...
    @property
    def band(self) -> Optional[Band]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class TimeToRestore:
    """From a failed deployment's finish to the next completed one of the same service and ring."""

    @property
    def restorations(self) -> int: ...
    @property
    def unrestored(self) -> int:
        """Failures in the window no completed deployment followed yet."""
    @property
    def median_secs(self) -> Optional[int]: ...
    @property
    def median(self) -> Optional[timedelta]: ...
    @property
    def band(self) -> Optional[Band]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Figures:
    """The four DORA figures over one set of deployments."""

    @property
    def deployment_frequency(self) -> DeploymentFrequency: ...
    @property
    def lead_time(self) -> LeadTime: ...
    @property
    def change_failure_rate(self) -> ChangeFailureRate: ...
    @property
    def time_to_restore(self) -> TimeToRestore: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class MetricsGroup:
    """The figures of one service, ring (``-`` for none) or ISO week (``2026-W05``)."""

    @property
    def key(self) -> str: ...
    @property
    def figures(self) -> Figures: ...
    @property
    def deployment_frequency(self) -> DeploymentFrequency: ...
    @property
    def lead_time(self) -> LeadTime: ...
    @property
    def change_failure_rate(self) -> ChangeFailureRate: ...
    @property
    def time_to_restore(self) -> TimeToRestore: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Metrics:
    """The DORA metrics of a tracker's deployments in a window (``spektate metrics -o json``)."""

    @property
    def since(self) -> Optional[datetime]:
        """The window's start: the one given, else the first deployment that finished."""
    @property
    def until(self) -> datetime: ...
    @property
    def lead_time_from(self) -> str:
        """Where lead time starts."""
    @property
    def overall(self) -> Figures: ...
    @property
    def by(self) -> Optional[GroupBy]: ...
    @property
    def groups(self) -> list[MetricsGroup]:
        """One per group, in key order; empty without ``by``."""
    def to_dict(self) -> dict[str, Any]: ...
