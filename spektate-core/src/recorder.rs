//! The linking rules: how each pipeline's record finds the record of an earlier one.
//!
//! Every update is conditional on the version it read; a lost race re-reads and re-applies
//! the rule, so pipelines finishing at the same moment never lose each other's writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::cluster::MAX_CLUSTER_CHARS;
use crate::model::deployment::ClusterSync;
use crate::model::record::{
    MAX_VALUE_LEN, Record, derived_row_key, display_service, empty_or_equal, normalize,
};
use crate::model::repo::RepoRef;
use crate::model::run::{RunReport, RunResult, RunStatus};
use crate::model::url::without_credentials;
use crate::store::{RecordQuery, RecordStore, back_off};

/// How many times a rule is re-applied after losing a race before giving up.
const MAX_ATTEMPTS: u32 = 64;

/// p1 finished: an image was built and pushed.
#[derive(Debug, Clone, Default)]
pub struct ImageBuilt {
    /// Image pipeline run id.
    pub p1: String,
    /// Image tag.
    pub image_tag: String,
    /// Source commit.
    pub commit_id: String,
    /// Service name.
    pub service: String,
    /// Source repository URL.
    pub repository: Option<String>,
}

/// p2 finished: the image tag was written into the HLD for a ring.
#[derive(Debug, Clone, Default)]
pub struct MetadataUpdated {
    /// Metadata pipeline (release) id.
    pub p2: String,
    /// Image tag.
    pub image_tag: String,
    /// HLD commit.
    pub hld_commit_id: String,
    /// Ring.
    pub env: String,
    /// Service, when the pipeline knows it: only records of that service (or of none) are
    /// linked, so two services whose images share a tag never take each other's record.
    pub service: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// HLD repository URL.
    pub repository: Option<String>,
}

/// p3 rendered manifests from an HLD commit.
#[derive(Debug, Clone, Default)]
pub struct ManifestGenerated {
    /// Manifest pipeline run id.
    pub p3: String,
    /// HLD commit it rendered.
    pub hld_commit_id: String,
    /// Manifest commit it pushed, when already known.
    pub manifest_commit_id: Option<String>,
    /// Pull request that was merged, for the PR fallback.
    pub pr: Option<String>,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// p3 pushed its manifest commit.
#[derive(Debug, Clone, Default)]
pub struct ManifestCommitted {
    /// Manifest pipeline run id.
    pub p3: String,
    /// Manifest commit.
    pub manifest_commit_id: String,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// What a pipeline says about its own run.
#[derive(Debug, Clone)]
pub struct RunReported {
    /// Run id, as recorded in p1, p2 or p3.
    pub id: String,
    /// Status.
    pub status: RunStatus,
    /// Result (required sense only once completed).
    pub result: Option<RunResult>,
    /// Web page.
    pub url: Option<String>,
    /// Source commit.
    pub commit: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
    /// Repository URL.
    pub repository: Option<String>,
    /// Queue time; defaults to an earlier report's, else now, never after the start or finish.
    pub queued_at: Option<DateTime<Utc>>,
    /// Start time; defaults to an earlier report's, else now once running, never before the
    /// queue time nor after the finish (it is then the queue time).
    pub started_at: Option<DateTime<Utc>>,
    /// Finish time; defaults to an earlier report's, else now once completed, never before
    /// the queue or start time. Times given that contradict each other are refused.
    pub finished_at: Option<DateTime<Utc>>,
    /// Which attempt of the run this is (GitHub's `run_attempt`, Azure Pipelines'
    /// `System.JobAttempt`). A later attempt replaces the report; an earlier one is ignored.
    pub attempt: Option<u32>,
}

impl RunReported {
    /// A report with just an id and status.
    pub fn new(id: impl Into<String>, status: RunStatus) -> Self {
        RunReported {
            id: id.into(),
            status,
            result: None,
            url: None,
            commit: None,
            branch: None,
            repository: None,
            queued_at: None,
            started_at: None,
            finished_at: None,
            attempt: None,
        }
    }
}

/// Applies the linking rules to a [`RecordStore`] partition.
#[derive(Clone)]
pub struct Recorder {
    store: Arc<dyn RecordStore>,
    partition: String,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("store", &self.store.describe())
            .field("partition", &self.partition)
            .finish()
    }
}

/// A required value: trimmed, lower-cased, non-empty, not too long.
fn required(field: &str, value: &str) -> Result<String> {
    match optional(field, Some(value))? {
        Some(v) => Ok(v),
        None => Err(Error::invalid(field, "is empty; a value is required")),
    }
}

/// An error naming `field` when `v` is longer than `max` characters; it shows the start only.
fn at_most(field: &str, v: &str, max: usize) -> Result<()> {
    let chars = v.chars().count();
    if chars <= max {
        return Ok(());
    }
    let head: String = v.chars().take(24).collect();
    Err(Error::invalid(
        field,
        format!("'{head}...' is {chars} characters long; the limit is {max}"),
    ))
}

/// An optional text kept as written (a URL, a branch): trimmed, `None` when empty, at most
/// `max` characters and no control character, which some stores cannot hold.
fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    at_most(field, v, max)?;
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("{v:?} contains a control character"),
        ));
    }
    Ok(Some(v.to_string()))
}

/// An optional value: trimmed, lower-cased, `None` when empty, not too long.
fn optional(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value.and_then(normalize) else {
        return Ok(None);
    };
    at_most(field, &v, MAX_VALUE_LEN)?;
    if v.chars().any(|c| c == '\0') {
        return Err(Error::invalid(
            field,
            format!("{v:?} contains a NUL character"),
        ));
    }
    Ok(Some(v))
}

/// An optional repository URL, which must parse; user info (`user:token@`) is never stored.
fn repository(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let v = optional(field, value.map(without_credentials).as_deref())?;
    if let Some(url) = &v {
        RepoRef::parse(url).map_err(|_| {
            Error::invalid(
                field,
                format!("'{url}' is not an Azure DevOps, GitHub or GitLab repository URL"),
            )
        })?;
    }
    Ok(v)
}

/// Refuses a partition key no store can hold or that names nothing: empty, or with `/ \ # ?`
/// or a control character; the error names it.
pub fn check_partition(partition: &str) -> Result<()> {
    if partition.trim().is_empty() {
        return Err(Error::invalid(
            "partition key",
            "is empty; a value is required",
        ));
    }
    if partition
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control())
    {
        return Err(Error::invalid(
            "partition key",
            format!(
                "{partition:?} contains a character a table key cannot hold (/ \\ # ? or a control character)"
            ),
        ));
    }
    Ok(())
}

impl Recorder {
    /// A recorder writing to `partition` of `store`.
    pub fn new(store: Arc<dyn RecordStore>, partition: impl Into<String>) -> Result<Self> {
        let partition = partition.into();
        check_partition(&partition)?;
        Ok(Recorder { store, partition })
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<dyn RecordStore> {
        &self.store
    }

    /// The partition written to.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Rule 1: p1 built an image. Inserts a new record (or completes the record of the same
    /// p1 when the step is reported twice).
    pub async fn image_built(&self, e: &ImageBuilt) -> Result<Record> {
        let p1 = required("p1", &e.p1)?;
        let image_tag = required("imageTag", &e.image_tag)?;
        let commit_id = required("commitId", &e.commit_id)?;
        let service = required("service", &e.service)?;
        let repo = repository("repository", e.repository.as_deref())?;
        self.apply(RecordQuery::all().p1(&p1), |found, new| {
            let fill = |r: &mut Record| {
                r.p1 = Some(p1.clone());
                r.image_tag = Some(image_tag.clone());
                r.commit_id = Some(commit_id.clone());
                r.service = Some(service.clone());
                if repo.is_some() {
                    r.source_repo = repo.clone();
                }
            };
            match found
                .iter()
                .find(|r| r.image_tag.as_deref() == Some(image_tag.as_str()))
            {
                Some(r) => {
                    let mut r = r.clone();
                    fill(&mut r);
                    Write::Replace(r)
                }
                None => {
                    let mut r = new;
                    r.row_key = derived_row_key(&["p1", &p1, &image_tag]);
                    fill(&mut r);
                    Write::Insert(r)
                }
            }
        })
        .await
    }

    /// Rule 2: p2 wrote an image tag into the HLD for a ring.
    pub async fn metadata_updated(&self, e: &MetadataUpdated) -> Result<Record> {
        let p2 = Some(required("p2", &e.p2)?);
        let image_tag = required("imageTag", &e.image_tag)?;
        let hld = Some(required("hldCommitId", &e.hld_commit_id)?);
        let env = Some(required("env", &e.env)?);
        let pr = optional("pr", e.pr.as_deref())?;
        let repo = repository("repository", e.repository.as_deref())?;
        let service = optional("service", e.service.as_deref())?;
        let record = self
            .apply(RecordQuery::all().image_tag(&image_tag), |found, new| {
                let fill = |r: &mut Record| {
                    r.p2 = p2.clone();
                    r.image_tag = Some(image_tag.clone());
                    r.hld_commit_id = hld.clone();
                    r.env = env.clone();
                    if pr.is_some() {
                        r.pr = pr.clone();
                    }
                    if repo.is_some() {
                        r.hld_repo = repo.clone();
                    }
                    if r.service.is_none() {
                        r.service = service.clone();
                    }
                };
                let found: Vec<&Record> = found
                    .iter()
                    .filter(|r| same_service(r.service.as_deref(), service.as_deref()))
                    .collect();
                let matching = found.iter().find(|r| {
                    empty_or_equal(&r.p2, &p2)
                        && empty_or_equal(&r.hld_commit_id, &hld)
                        && empty_or_equal(&r.env, &env)
                });
                if let Some(r) = matching {
                    let mut r = (*r).clone();
                    fill(&mut r);
                    return Write::Replace(r);
                }
                let mut r = new;
                // The HLD commit too: a run of the same p2 that makes another HLD commit is
                // another record (rule 2), not a retry of this one.
                r.row_key = derived_row_key(&[
                    "p2",
                    p2.as_deref().unwrap_or_default(),
                    &image_tag,
                    env.as_deref().unwrap_or_default(),
                    hld.as_deref().unwrap_or_default(),
                ]);
                if let Some(last) = found.last() {
                    // The same image going to another ring.
                    r.commit_id = last.commit_id.clone();
                    r.p1 = last.p1.clone();
                    r.service = last.service.clone();
                    r.source_repo = last.source_repo.clone();
                }
                fill(&mut r);
                Write::Insert(r)
            })
            .await?;
        self.absorb_early_manifests(record).await
    }

    /// Merges into `record` what a manifest pipeline recorded for its HLD commit (else for its
    /// PR, whose merge commit p3 rendered) before the metadata pipeline did (the HLD push can
    /// start p3 first): such a record has an HLD commit and no image. Its p3, manifest
    /// commit, repository and PR move over, and it is deleted in the same write
    /// ([`RecordStore::replace_and_delete`]), so no "manual HLD edit" is left beside the
    /// deployment.
    async fn absorb_early_manifests(&self, mut record: Record) -> Result<Record> {
        let Some(hld) = record.hld_commit_id.clone() else {
            return Ok(record);
        };
        for attempt in 0..MAX_ATTEMPTS {
            let early = |found: Vec<Record>, record: &Record| -> Vec<Record> {
                found
                    .into_iter()
                    .filter(|r| {
                        r.row_key != record.row_key
                            && r.image_tag.is_none()
                            && r.p1.is_none()
                            && r.p2.is_none()
                            && r.p3.is_some()
                            && empty_or_equal(&r.p3, &record.p3)
                    })
                    .collect()
            };
            let by_hld = self
                .store
                .query(&self.partition, &RecordQuery::all().hld_commit_id(&hld))
                .await?;
            let mut found = early(by_hld, &record);
            // Else, as rule 3 falls back to the PR: p3 rendered the PR's merge commit, p2
            // recorded the PR branch's.
            let mut via_pr = false;
            if found.is_empty()
                && let Some(pr) = &record.pr
            {
                let by_pr = self
                    .store
                    .query(&self.partition, &RecordQuery::all().pr(pr))
                    .await?;
                found = early(by_pr, &record);
                via_pr = true;
            }
            let Some(first) = found.first() else {
                return Ok(record);
            };
            let mut merged = record.clone();
            if via_pr {
                // What rule 3 writes when p3 comes last through the PR: the commit it rendered.
                merged.hld_commit_id = first.hld_commit_id.clone();
            }
            merged.p3 = merged.p3.or_else(|| first.p3.clone());
            merged.manifest_commit_id = merged
                .manifest_commit_id
                .or_else(|| first.manifest_commit_id.clone());
            merged.manifest_repo = merged.manifest_repo.or_else(|| first.manifest_repo.clone());
            merged.pr = merged.pr.or_else(|| first.pr.clone());
            // One write: no reader sees the merged record beside the early one, or neither.
            match self
                .store
                .replace_and_delete(&merged, &first.row_key, first.etag.as_deref())
                .await
            {
                Ok(stored) => record = stored,
                // Either changed meanwhile (the early record's manifest commit arrived, say):
                // read again and merge again.
                Err(e) if e.is_conflict() => {
                    back_off(attempt).await;
                    record = self.reread(&record).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(record)
    }

    /// The current version of `record`.
    async fn reread(&self, record: &Record) -> Result<Record> {
        self.store
            .query(
                &self.partition,
                &RecordQuery::all().row_key(&record.row_key),
            )
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound {
                what: format!("record {} in partition {}", record.row_key, self.partition),
            })
    }

    /// Rule 3: p3 rendered manifests from an HLD commit.
    pub async fn manifest_generated(&self, e: &ManifestGenerated) -> Result<Record> {
        let p3 = Some(required("p3", &e.p3)?);
        let hld = required("hldCommitId", &e.hld_commit_id)?;
        let manifest = optional("manifestCommitId", e.manifest_commit_id.as_deref())?;
        let pr = optional("pr", e.pr.as_deref())?;
        let repo = repository("repository", e.repository.as_deref())?;
        let by_pr = pr.clone();
        let written = self
            .apply_with_fallback(
                RecordQuery::all().hld_commit_id(&hld),
                by_pr.map(|pr| RecordQuery::all().pr(&pr)),
                |found, new| {
                    let fill = |r: &mut Record| {
                        r.p3 = p3.clone();
                        r.hld_commit_id = Some(hld.clone());
                        if manifest.is_some() {
                            r.manifest_commit_id = manifest.clone();
                        }
                        if pr.is_some() {
                            r.pr = pr.clone();
                        }
                        if repo.is_some() {
                            r.manifest_repo = repo.clone();
                        }
                    };
                    let matching = found.iter().find(|r| {
                        empty_or_equal(&r.p3, &p3)
                            && empty_or_equal(&r.manifest_commit_id, &manifest)
                    });
                    if let Some(r) = matching {
                        let mut r = r.clone();
                        fill(&mut r);
                        return Write::Replace(r);
                    }
                    let key = derived_row_key(&[
                        "p3",
                        p3.as_deref().unwrap_or_default(),
                        &hld,
                        manifest.as_deref().unwrap_or_default(),
                    ]);
                    let mut r = match found.last() {
                        // A re-run, or a second manifest commit of the same HLD change: a copy.
                        Some(last) => Record {
                            partition_key: new.partition_key,
                            row_key: key,
                            sequence: None,
                            context: false,
                            manifest_commit_id: None,
                            timestamp: None,
                            etag: None,
                            ..last.clone()
                        },
                        // A manual HLD edit: no image behind it.
                        None => Record {
                            row_key: key,
                            ..new
                        },
                    };
                    fill(&mut r);
                    Write::Insert(r)
                },
            )
            .await?;
        self.merge_into_deployment(written).await
    }

    /// After rule 3 wrote a record with no image (p3 came first): a p2 record of its HLD
    /// commit (else of its PR) written meanwhile absorbs it, as that p2 would have had it
    /// been written after. Each side looks after its own write, so one sees the other.
    async fn merge_into_deployment(&self, written: Record) -> Result<Record> {
        let early = written.image_tag.is_none() && written.p1.is_none() && written.p2.is_none();
        let Some(hld) = written.hld_commit_id.clone().filter(|_| early) else {
            return Ok(written);
        };
        let with_p2 = |found: Vec<Record>| {
            found.into_iter().find(|r| {
                r.row_key != written.row_key && r.p2.is_some() && empty_or_equal(&r.p3, &written.p3)
            })
        };
        let mut target = with_p2(
            self.store
                .query(&self.partition, &RecordQuery::all().hld_commit_id(&hld))
                .await?,
        );
        if target.is_none()
            && let Some(pr) = &written.pr
        {
            target = with_p2(
                self.store
                    .query(&self.partition, &RecordQuery::all().pr(pr))
                    .await?,
            );
        }
        let Some(target) = target else {
            return Ok(written);
        };
        let merged = self.absorb_early_manifests(target).await?;
        // Merged when the p2 record now has this p3; else another writer changed it first.
        Ok(if merged.p3 == written.p3 {
            merged
        } else {
            written
        })
    }

    /// Rule 4: p3 pushed its manifest commit. The record with that p3 is updated in place
    /// (as `bedrock deployment create` does), also when it already names a manifest commit
    /// (a re-pushed manifest); when several records share that p3, all of them are. The
    /// record with that p3 must exist.
    pub async fn manifest_committed(&self, e: &ManifestCommitted) -> Result<Record> {
        let p3 = required("p3", &e.p3)?;
        let manifest = Some(required("manifestCommitId", &e.manifest_commit_id)?);
        let repo = repository("repository", e.repository.as_deref())?;
        for round in 0..MAX_ATTEMPTS {
            let found = self
                .store
                .query(&self.partition, &RecordQuery::all().p3(&p3))
                .await?;
            if found.is_empty() {
                return Err(Error::NotFound {
                    what: format!(
                        "record with p3 '{p3}' in partition '{}' (record the manifest generation with --p3 and --hld-commit-id first)",
                        self.partition
                    ),
                });
            }
            let mut updated: Option<Record> = None;
            let mut merged_away = false;
            for record in found {
                match self.set_manifest(record, &manifest, &repo).await {
                    Ok(stored) => {
                        updated.get_or_insert(stored);
                    }
                    // Merged into its deployment's record meanwhile (an early p3 absorbed by
                    // p2): read the records of p3 again.
                    Err(Error::NotFound { .. }) => merged_away = true,
                    Err(e) => return Err(e),
                }
            }
            if !merged_away && let Some(stored) = updated {
                return Ok(stored);
            }
            back_off(round).await;
        }
        Err(Error::store(
            self.store.describe(),
            "record",
            "too many conflicts",
        ))
    }

    /// Sets the manifest commit (and repository) of `record`, re-reading it after a lost race.
    async fn set_manifest(
        &self,
        mut current: Record,
        manifest: &Option<String>,
        repo: &Option<String>,
    ) -> Result<Record> {
        let mut attempt = 0;
        loop {
            let mut r = current.clone();
            r.manifest_commit_id = manifest.clone();
            if repo.is_some() {
                r.manifest_repo = repo.clone();
            }
            match self.store.replace(&r).await {
                Err(e) if e.is_conflict() && attempt < MAX_ATTEMPTS => {
                    back_off(attempt).await;
                    attempt += 1;
                    current = self.reread(&current).await?;
                }
                other => return other,
            }
        }
    }

    /// A pipeline reports its own run; fields not given keep an earlier report's values.
    /// Times not given default as [`RunReported`] says, so queued <= started <= finished;
    /// times given that contradict each other are refused.
    ///
    /// The write is conditional on the report it read, so two reports at once both count.
    /// A run's state never goes backwards: a late `queued` or `inProgress` after
    /// `completed` of the same attempt is ignored (the stored report is returned). A rerun
    /// is a new attempt: a higher `attempt`, or, when the pipeline gives none, a report
    /// queued after the stored attempt finished.
    pub async fn run_reported(&self, e: &RunReported) -> Result<RunReport> {
        let id = required("run id", &e.id)?;
        if e.attempt == Some(0) {
            return Err(Error::invalid(
                "attempt",
                "0 is not an attempt; attempts count from 1",
            ));
        }
        if e.result.is_some() && e.status != RunStatus::Completed {
            return Err(Error::invalid(
                "result",
                "is only valid with status completed",
            ));
        }
        // Credentials dropped first: an error names the value.
        let url = e.url.as_deref().map(without_credentials);
        let url = text("url", url.as_deref(), MAX_VALUE_LEN)?;
        let branch = text("branch", e.branch.as_deref(), MAX_VALUE_LEN)?;
        let repo = repository("repository", e.repository.as_deref())?;
        let commit = optional("commit", e.commit.as_deref())?;
        times_in_order(e)?;
        times_not_ahead(e, Utc::now())?;
        let mut last_conflict = None;
        for round in 0..MAX_ATTEMPTS {
            let stored = self
                .store
                .run_reports(&self.partition, std::slice::from_ref(&id))
                .await?
                .pop();
            let (earlier, attempt) = match &stored {
                None => (None, e.attempt),
                Some(s) => match attempt_of(s, e) {
                    Attempt::Earlier => return Ok(s.clone()),
                    Attempt::Same if e.status < s.status => return Ok(s.clone()),
                    Attempt::Same => (Some(s), e.attempt.or(s.attempt)),
                    Attempt::Later(n) => (None, Some(n)),
                },
            };
            let [queued_at, started_at, finished_at] = run_times(e, earlier, Utc::now());
            let result = match (e.status, e.result) {
                (RunStatus::Completed, None) => Some(RunResult::Succeeded),
                (_, r) => r,
            };
            let prev = |f: fn(&RunReport) -> Option<String>| earlier.and_then(f);
            let report = RunReport {
                id: id.clone(),
                status: e.status,
                result,
                queued_at,
                started_at,
                finished_at,
                url: url.clone().or_else(|| prev(|r| r.url.clone())),
                commit: commit.clone().or_else(|| prev(|r| r.commit.clone())),
                branch: branch.clone().or_else(|| prev(|r| r.branch.clone())),
                repository: repo.clone().or_else(|| prev(|r| r.repository.clone())),
                number: stored.as_ref().and_then(|r| r.number.clone()),
                reported_at: None,
                attempt,
                etag: stored.as_ref().and_then(|r| r.etag.clone()),
            };
            match self.store.put_run_report(&self.partition, &report).await {
                Err(e) if e.is_conflict() => {
                    last_conflict = Some(e);
                    back_off(round).await;
                }
                other => return other,
            }
        }
        Err(last_conflict.unwrap_or_else(|| {
            Error::store(self.store.describe(), "record run", "too many conflicts")
        }))
    }

    /// A cluster (or a hook beside it) reports the manifest commit it runs.
    pub async fn cluster_synced(
        &self,
        cluster: &str,
        commit: &str,
        reporter: Option<&str>,
    ) -> Result<ClusterSync> {
        let Some(cluster) = text("cluster", Some(cluster), MAX_CLUSTER_CHARS)? else {
            return Err(Error::invalid("cluster", "is empty; a value is required"));
        };
        let cluster = cluster.as_str();
        let commit = required("commit", commit)?;
        let sync = ClusterSync {
            cluster: cluster.to_string(),
            commit,
            synced_at: Some(Utc::now()),
            tagger: reporter.map(str::to_string),
        };
        self.store.put_cluster_sync(&self.partition, &sync).await?;
        Ok(sync)
    }

    async fn apply<D>(&self, query: RecordQuery, decide: D) -> Result<Record>
    where
        D: Fn(&[Record], Record) -> Write,
    {
        self.apply_with_fallback(query, None, decide).await
    }

    /// Reads the matching records (or, when none, those of `fallback`), lets the rule
    /// decide, and writes conditionally; a lost race starts over.
    async fn apply_with_fallback<D>(
        &self,
        query: RecordQuery,
        fallback: Option<RecordQuery>,
        decide: D,
    ) -> Result<Record>
    where
        D: Fn(&[Record], Record) -> Write,
    {
        let mut last_conflict = None;
        for attempt in 0..MAX_ATTEMPTS {
            let mut found = self.store.query(&self.partition, &query).await?;
            if found.is_empty()
                && let Some(fb) = &fallback
            {
                found = self.store.query(&self.partition, fb).await?;
            }
            let (outcome, replacing) = match decide(&found, Record::new(&self.partition)) {
                Write::Insert(r) => (self.store.insert(&r).await, false),
                Write::Replace(r) => (self.store.replace(&r).await, true),
            };
            match outcome {
                // A record read and gone before the replace was merged into another (an early
                // p3 absorbed by p2): a lost race too.
                Err(e) if e.is_conflict() || (replacing && matches!(e, Error::NotFound { .. })) => {
                    last_conflict = Some(e);
                    back_off(attempt).await;
                }
                other => return other,
            }
        }
        Err(last_conflict
            .unwrap_or_else(|| Error::store(self.store.describe(), "record", "too many conflicts")))
    }
}

/// Whether a record of service `stored` may take a step of service `given`: either is
/// unknown, they are equal, or one is the other's short name (`frontend` for
/// `fabrikam/frontend`).
fn same_service(stored: Option<&str>, given: Option<&str>) -> bool {
    match (stored, given) {
        (Some(a), Some(b)) => {
            a == b
                || (!a.contains('/') && a == display_service(b))
                || (!b.contains('/') && b == display_service(a))
        }
        _ => true,
    }
}

/// The time flags of a run report, in the order a run passes them.
const TIME_FLAGS: [&str; 3] = ["queued-at", "started-at", "finished-at"];

/// Refuses times given in one report that contradict each other (a start after the finish,
/// say); the error names the flag and both values.
fn times_in_order(e: &RunReported) -> Result<()> {
    let given = [e.queued_at, e.started_at, e.finished_at];
    let shown = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    // (earlier, later, the one named): the start when it is one of the two.
    for (a, b, named) in [(1, 2, 1), (0, 1, 1), (0, 2, 2)] {
        let (Some(ta), Some(tb)) = (given[a], given[b]) else {
            continue;
        };
        if ta <= tb {
            continue;
        }
        let ((this, t), (other, o), word) = if named == a {
            ((a, ta), (b, tb), "after")
        } else {
            ((b, tb), (a, ta), "before")
        };
        return Err(Error::invalid(
            TIME_FLAGS[this],
            format!(
                "'{}' is {word} {} '{}'",
                shown(t),
                TIME_FLAGS[other],
                shown(o)
            ),
        ));
    }
    Ok(())
}

/// Refuses a run report's time more than [`crate::ingest::MAX_CLOCK_AHEAD`] after `now`: a run
/// dated years ahead would keep that time, and a rerun queued now would not count as one.
fn times_not_ahead(e: &RunReported, now: DateTime<Utc>) -> Result<()> {
    let given = [e.queued_at, e.started_at, e.finished_at];
    for (t, field) in given.into_iter().zip(TIME_FLAGS) {
        if let Some(t) = t {
            let shown = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            crate::ingest::not_ahead(field, &shown, t, now)?;
        }
    }
    Ok(())
}

/// Where a time of a run report comes from; a time yields to those from above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Given,
    Earlier,
    Now,
}

/// The queue, start and finish times of a report whose given times are in order: each
/// given, else the earlier report's, else `now` as the status implies (no start while
/// queued, a finish once completed). A time not given is moved so that queued <= started
/// <= finished: a start that would come after the finish is the queue time (the run is
/// drawn running from its queue time to its finish), else the finish.
fn run_times(
    e: &RunReported,
    earlier: Option<&RunReport>,
    now: DateTime<Utc>,
) -> [Option<DateTime<Utc>>; 3] {
    let given = [e.queued_at, e.started_at, e.finished_at];
    let stored = earlier.map_or([None; 3], |r| [r.queued_at, r.started_at, r.finished_at]);
    let by_default = [
        Some(now),
        (e.status != RunStatus::Queued).then_some(now),
        (e.status == RunStatus::Completed).then_some(now),
    ];
    let source = |i: usize| -> Option<(DateTime<Utc>, Source)> {
        given[i]
            .map(|t| (t, Source::Given))
            .or(stored[i].map(|t| (t, Source::Earlier)))
            .or(by_default[i].map(|t| (t, Source::Now)))
    };
    let mut out = [None; 3];
    for from in [Source::Given, Source::Earlier, Source::Now] {
        // The finish first, then the queue time: the start goes between them.
        for i in [2, 0, 1] {
            let Some((t, _)) = source(i).filter(|(_, s)| *s == from) else {
                continue;
            };
            let low = out[..i].iter().flatten().max().copied();
            let high = out[i + 1..].iter().flatten().min().copied();
            out[i] = Some(match (low, high) {
                (Some(low), _) if t < low => low,
                (low, Some(high)) if t > high => low.unwrap_or(high),
                _ => t,
            });
        }
    }
    out
}

/// How a new report's attempt relates to the stored report's.
enum Attempt {
    Earlier,
    Same,
    Later(u32),
}

fn attempt_of(stored: &RunReport, new: &RunReported) -> Attempt {
    let had = stored.attempt.unwrap_or(1);
    match new.attempt {
        Some(n) if n < had => Attempt::Earlier,
        Some(n) if n > had => Attempt::Later(n),
        Some(_) => Attempt::Same,
        None => {
            // No attempt given: a report queued after the stored run finished is a rerun.
            let rerun = stored.status == RunStatus::Completed
                && new.status != RunStatus::Completed
                && matches!((new.queued_at, stored.finished_at), (Some(q), Some(f)) if q > f);
            match had.checked_add(1) {
                Some(next) if rerun => Attempt::Later(next),
                _ => Attempt::Same,
            }
        }
    }
}

/// What a rule decided to write.
enum Write {
    Insert(Record),
    Replace(Record),
}
