//! [`AzureTableStore`]: a [`RecordStore`] over the Table service REST API.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;
use spektate_core::cache::{Answer, AnswerKey};
use spektate_core::http::{Auth, HttpClient, Method, Policy, Request, Response};
use spektate_core::model::record::MAX_VALUE_LEN;
use spektate_core::url_encode::query_value;
use spektate_core::{
    ClusterHistory, ClusterReport, Error, Record, RecordQuery, RecordStore, Result, RunReport,
};
use tokio::sync::OnceCell;

use super::batch::{self, Batch};
use super::connection::{TableAccount, TableCredential};
use super::entity::{
    entity_history, entity_record, entity_report, etag_time, history_entity, record_entity,
    replacement_entity, report_entity,
};
use super::limits::{check_entity, check_key};
use super::odata::{entity_path, eq, filters_keys_and_times_only, record_filter, safe_key};
use super::page::{RecordRow, parse_page};
use super::signing::{authorization, canonical_resource, http_date};

/// The REST API version every request asks for.
pub(super) const API_VERSION: &str = "2019-02-02";
/// Suffix of the partition that holds a partition's run reports.
pub const RUNS_SUFFIX: &str = "~runs";
/// The most UTF-16 code units of a cluster's history column, under the service's 64 KiB
/// string limit with room for the other columns.
const MAX_HISTORY_UNITS: usize = 30_000;

/// Suffix of the partition that holds a partition's cluster reports.
pub const CLUSTERS_SUFFIX: &str = "~clusters";
/// Suffix of the partition that holds the providers' answers kept for a partition.
pub const ANSWERS_SUFFIX: &str = "~answers";
/// Suffix of the partition that holds the claims of servers sharing a partition.
pub const CLAIMS_SUFFIX: &str = "~claims";
/// A `$filter` may hold at most 15 comparisons: the partition and 14 row keys.
const KEYS_PER_FILTER: usize = 14;
/// Up to this many run reports are read by key; more read the whole runs partition.
const KEYED_READ_MAX: usize = KEYS_PER_FILTER * 3;

/// The most pages one query follows: 100 million rows at the service's 1,000 a page. A
/// service that keeps sending continuations past it (or the same one twice) gets an error,
/// not a refresh that never ends.
const MAX_QUERY_PAGES: usize = 100_000;

/// Deployment records in an Azure Storage table (or Azurite), read and written with the
/// columns the original Spektate pipelines use, so existing tables work as they are.
///
/// - Records live in the partition named by the project, one entity per deployment.
/// - Run reports, cluster reports and providers' final answers live beside them, under the
///   PartitionKeys `<partition>~runs`, `<partition>~clusters` and `<partition>~answers`,
///   which tools that read a partition by its exact key never see (a record partition may
///   not end with one of these suffixes).
/// - Replace and delete are conditional on the ETag read (`If-Match`); a lost race is
///   [`Error::Conflict`].
/// - "Changed since" is a filter on the service's `Timestamp`, so a refresh reads only what
///   changed.
/// - A query finds rows other tools wrote as they spelled them (`Hello-Bedrock-Master-7254`,
///   `DEV `, run ids as numbers), as it finds its own: the service compares values only in
///   rows this store wrote (they carry [`super::odata::NORMAL_FORM`]), sends the others
///   whatever their values, and every row read is checked again as normalized.
/// - Records come back in insertion order, as the linking rules' "first" and "last" need:
///   the service's `Timestamp` of a row not yet replaced is its insertion time, and the
///   first replace pins it in an `insertedAt` column. Rows other tools replaced before this
///   store ever did are ordered by their last write.
/// - A replace keeps the columns other tools wrote (it reads the row, then writes it back
///   with the record's columns, conditional on the record's ETag).
/// - The table is created when first written to; reading a missing table reads nothing.
/// - The service's limits are checked before a write is sent (keys of 512 UTF-16 code
///   units, strings of 64 KiB, dates from 1601, entities of 1 MiB; see [`super::limits`]):
///   a write that breaks one is an [`Error::Invalid`] naming the column, and nothing is
///   written.
pub struct AzureTableStore {
    http: HttpClient,
    account: TableAccount,
    table: String,
    created: OnceCell<()>,
}

impl std::fmt::Debug for AzureTableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureTableStore")
            .field("account", &self.account)
            .field("table", &self.table)
            .finish()
    }
}

/// One request to the service: `path` is encoded and below the endpoint.
pub(super) struct Call<'a> {
    operation: &'a str,
    method: Method,
    path: &'a str,
    query: &'a str,
    body: Option<Body<'a>>,
    headers: &'a [(&'a str, &'a str)],
    pass: &'a [u16],
}

/// What a request carries.
enum Body<'a> {
    /// An entity or a table, as JSON.
    Json(&'a Value),
    /// Bytes of a content type (an entity group transaction's multipart body).
    Raw(&'a str, Vec<u8>),
}

impl<'a> Call<'a> {
    pub(super) fn new(operation: &'a str, method: Method, path: &'a str) -> Self {
        Call {
            operation,
            method,
            path,
            query: "",
            body: None,
            headers: &[],
            pass: &[],
        }
    }

    fn query(mut self, query: &'a str) -> Self {
        self.query = query;
        self
    }

    fn body(mut self, body: &'a Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    /// A body of `content_type` other than JSON.
    pub(super) fn raw_body(mut self, content_type: &'a str, bytes: Vec<u8>) -> Self {
        self.body = Some(Body::Raw(content_type, bytes));
        self
    }

    pub(super) fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    pub(super) fn pass(mut self, pass: &'a [u16]) -> Self {
        self.pass = pass;
        self
    }
}

/// What a response means to the store: the body, or a status handed back.
pub(super) enum Outcome {
    Ok(Response),
    /// A status handed back: the status, the service's error code, and how many attempts
    /// the request took.
    Status(u16, String, u32),
}

fn check_table_name(table: &str) -> Result<()> {
    let ok = (3..=63).contains(&table.len())
        && table
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        && table.bytes().all(|b| b.is_ascii_alphanumeric())
        && !table.eq_ignore_ascii_case("tables");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "table name",
            format!("'{table}' must be 3 to 63 letters and digits, starting with a letter"),
        ))
    }
}

pub(super) fn check_partition(partition: &str) -> Result<()> {
    check_key("partition key", "PartitionKey", partition)?;
    if let Some(suffix) = [RUNS_SUFFIX, CLUSTERS_SUFFIX, ANSWERS_SUFFIX, CLAIMS_SUFFIX]
        .into_iter()
        .find(|s| partition.ends_with(s))
    {
        return Err(Error::invalid(
            "partition key",
            format!(
                "'{partition}' ends with '{suffix}'; '{RUNS_SUFFIX}', '{CLUSTERS_SUFFIX}', '{ANSWERS_SUFFIX}' and '{CLAIMS_SUFFIX}' name the partitions kept beside the records"
            ),
        ));
    }
    Ok(())
}

fn check_values(record: &Record) -> Result<()> {
    for (column, value) in record.columns() {
        if let Some(v) = value
            && v.chars().count() > MAX_VALUE_LEN
        {
            return Err(Error::invalid(
                column,
                format!(
                    "is {} characters long; the limit is {MAX_VALUE_LEN}",
                    v.chars().count()
                ),
            ));
        }
    }
    Ok(())
}

impl AzureTableStore {
    /// The table `table` of `account`, with the default policy (30 s timeout, 4 retries,
    /// 8 requests at once).
    pub fn new(account: TableAccount, table: &str) -> Result<Self> {
        Self::with_policy(account, table, Policy::default())
    }

    /// The table `table` of the account a connection string names.
    pub fn from_connection_string(connection_string: &str, table: &str) -> Result<Self> {
        Self::new(
            TableAccount::from_connection_string(connection_string)?,
            table,
        )
    }

    /// The table `table` of `account`, with explicit timeouts, retries and concurrency.
    pub fn with_policy(account: TableAccount, table: &str, policy: Policy) -> Result<Self> {
        let table = table.trim().to_string();
        check_table_name(&table)?;
        let http = HttpClient::with_policy(
            format!("azure-table {}/{table}", account.name()),
            Auth::None,
            policy,
        )?;
        Ok(AzureTableStore {
            http,
            account,
            table,
            created: OnceCell::new(),
        })
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The account.
    pub fn account(&self) -> &TableAccount {
        &self.account
    }

    pub(super) fn err(&self, operation: &str, message: impl std::fmt::Display) -> Error {
        Error::store(self.describe(), operation, message)
    }

    /// Sends a signed request.
    pub(super) async fn call(&self, c: Call<'_>) -> Result<Outcome> {
        let Call {
            operation,
            method,
            path,
            query,
            body,
            headers,
            pass,
        } = c;
        let full_path = format!("{}{path}", self.account.endpoint_path());
        let credential = self.account.credential();
        // A SAS goes first in the query, so the request's own parameters follow it.
        let query = match (credential, query.is_empty()) {
            (TableCredential::Sas(sas), true) => sas.expose().to_string(),
            (TableCredential::Sas(sas), false) => format!("{}&{query}", sas.expose()),
            (_, _) => query.to_string(),
        };
        let url = if query.is_empty() {
            format!("{}{path}", self.account.endpoint())
        } else {
            format!("{}{path}?{query}", self.account.endpoint())
        };
        let date = http_date(Utc::now());
        let content_type = match &body {
            Some(Body::Json(_)) => "application/json",
            Some(Body::Raw(content_type, _)) => content_type,
            None => "",
        };
        let mut req = Request::new(method.clone(), url, operation, &self.table)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("accept", "application/json;odata=minimalmetadata")
            .header("dataserviceversion", "3.0;NetFx")
            .header("maxdataserviceversion", "3.0;NetFx");
        match credential {
            TableCredential::SharedKey { bytes, .. } => {
                let auth = authorization(
                    self.account.name(),
                    bytes,
                    method.as_str(),
                    content_type,
                    &date,
                    &canonical_resource(self.account.name(), &full_path),
                );
                req = req.header("authorization", &auth);
            }
            TableCredential::Sas(_) => {}
            TableCredential::Entra(entra) => {
                let token = entra.token().await.map_err(|e| {
                    self.err(
                        operation,
                        format!("no Entra ID token: {}", token_failure(e)),
                    )
                })?;
                req = req.header("authorization", &format!("Bearer {}", token.expose()));
            }
        }
        for (name, value) in headers {
            // A value no header can carry (an ETag with a line break) is refused: dropped,
            // an If-Match would turn a conditional write into an unconditional one.
            check_header(name, value)?;
            req = req.header(name, value);
        }
        match body {
            Some(Body::Json(b)) => req = req.json(b),
            Some(Body::Raw(content_type, bytes)) => {
                req = req.header("content-type", content_type).body(bytes);
            }
            None => {}
        }
        let mut passed = vec![401, 403];
        passed.extend_from_slice(pass);
        let resp = self
            .http
            .send(req.pass(&passed))
            .await
            .map_err(|e| match e {
                Error::Provider { message, .. } => self.err(operation, message),
                other => other,
            })?;
        match resp.status {
            200..=299 => Ok(Outcome::Ok(resp)),
            401 | 403 if pass.contains(&resp.status) => Ok(Outcome::Status(
                resp.status,
                error_code(&resp),
                resp.attempts(),
            )),
            401 | 403 => {
                if let TableCredential::Entra(entra) = credential {
                    // A revoked or outdated token: the next request fetches another.
                    entra.invalidate().await;
                }
                Err(self.err(operation, self.rejected(&resp)))
            }
            s => Ok(Outcome::Status(s, error_code(&resp), resp.attempts())),
        }
    }

    /// Why the service refused the credential, naming it (never showing it).
    fn rejected(&self, resp: &Response) -> String {
        let credential = self.account.credential();
        let mut why = format!(
            "the {} was rejected (HTTP {}){}",
            credential.kind(),
            resp.status,
            detail(resp)
        );
        if let TableCredential::Sas(sas) = credential {
            if let Some(expiry) = sas.expiry().filter(|t| *t <= Utc::now()) {
                why.push_str(&format!(
                    "; the SAS expired at {}",
                    expiry.format("%Y-%m-%d %H:%M:%S UTC")
                ));
            } else if sas
                .table()
                .is_some_and(|t| t != self.table.to_ascii_lowercase())
            {
                why.push_str(&format!(
                    "; the SAS is for the table '{}', not '{}'",
                    sas.table().unwrap_or_default(),
                    self.table
                ));
            }
        }
        why
    }

    /// Checks that the credential can be used: fetches an Entra ID token, so a missing
    /// identity is reported before any record is read. A key or SAS needs nothing.
    pub async fn check_credential(&self) -> Result<String> {
        match self.account.credential() {
            TableCredential::Entra(entra) => {
                entra.token().await.map_err(|e| {
                    self.err(
                        "get token",
                        format!("no Entra ID token: {}", token_failure(e)),
                    )
                })?;
                Ok(format!("token of the {}", entra.describe()))
            }
            other => Ok(other.kind()),
        }
    }

    /// Creates the table unless it exists; done once per store.
    ///
    /// A table SAS (`tn=`) cannot create tables: its table must exist, and nothing is asked.
    /// With a SAS or an Entra ID token that may not create tables (an account SAS without
    /// that permission, a role with data actions only), a refusal of the creation is not an
    /// error: the write that follows says whether the table is there.
    pub async fn ensure_table(&self) -> Result<()> {
        self.created
            .get_or_try_init(|| async {
                let may_refuse = match self.account.credential() {
                    TableCredential::Sas(sas) if sas.table().is_some() => return Ok(()),
                    TableCredential::SharedKey { .. } => &[409][..],
                    _ => &[409, 403][..],
                };
                let body = serde_json::json!({ "TableName": self.table });
                let headers = [("prefer", "return-no-content")];
                match self
                    .call(
                        Call::new("create table", Method::POST, "/Tables")
                            .body(&body)
                            .headers(&headers)
                            .pass(may_refuse),
                    )
                    .await?
                {
                    Outcome::Ok(_) | Outcome::Status(409, ..) => Ok(()),
                    Outcome::Status(403, code, _) => {
                        tracing::debug!(table = %self.table, %code, "may not create the table; assuming it exists");
                        Ok(())
                    }
                    Outcome::Status(s, code, _) => {
                        Err(self.err("create table", format!("HTTP {s} {code}")))
                    }
                }
            })
            .await
            .map(|_| ())
    }

    /// Reads every entity that passes `filter`, following continuation tokens until none is
    /// left (at most [`MAX_QUERY_PAGES`], each continuation one not sent before, so a service
    /// that cycles through continuations ends the query), and hands each page's body to
    /// `on_page` as it arrives: only one page is held at a time. A missing table reads nothing.
    async fn query_pages(
        &self,
        operation: &str,
        filter: &str,
        mut on_page: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut token: Option<(String, String)> = None;
        let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
        let path = format!("/{}()", self.table);
        let mut page = 0usize;
        loop {
            page += 1;
            let mut query = format!("$filter={}", query_value(filter));
            if let Some((pk, rk)) = &token {
                query.push_str(&format!("&NextPartitionKey={}", query_value(pk)));
                if !rk.is_empty() {
                    query.push_str(&format!("&NextRowKey={}", query_value(rk)));
                }
            }
            let resp = match self
                .call(
                    Call::new(operation, Method::GET, &path)
                        .query(&query)
                        .pass(&[404]),
                )
                .await?
            {
                Outcome::Ok(r) => r,
                // No table yet: no rows. A 404 saying anything else (a proxy's, a wrong
                // endpoint's), or after the first page, is not an empty table.
                Outcome::Status(404, code, _) if code == "TableNotFound" && page == 1 => {
                    return Ok(());
                }
                Outcome::Status(s, code, _) => {
                    return Err(self.err(operation, format!("HTTP {s} {code}")));
                }
            };
            on_page(&resp.body)?;
            let next_pk = resp
                .header("x-ms-continuation-nextpartitionkey")
                .filter(|pk| !pk.is_empty())
                .map(str::to_string);
            let next_rk = resp
                .header("x-ms-continuation-nextrowkey")
                .unwrap_or_default()
                .to_string();
            let Some(pk) = next_pk else { return Ok(()) };
            let next = (pk, next_rk);
            if let Some(before) = seen.insert(next.clone(), page) {
                let which = if before + 1 == page {
                    "the page before it".to_string()
                } else {
                    format!("page {before}")
                };
                return Err(self.err(
                    operation,
                    format!("page {page} sent the continuation of {which} again"),
                ));
            }
            if page >= MAX_QUERY_PAGES {
                return Err(self.err(
                    operation,
                    format!("more than {MAX_QUERY_PAGES} pages; refine the query"),
                ));
            }
            token = Some(next);
        }
    }

    /// Reads every row that passes `filter` as a `T`, each page parsed as it arrives.
    pub(super) async fn query_rows<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        filter: &str,
        mut each: impl FnMut(T),
    ) -> Result<()> {
        self.query_pages(operation, filter, |body| {
            parse_page(body, &mut each)
                .map_err(|e| self.err(operation, format!("malformed response body: {e}")))
        })
        .await
    }

    /// Every entity that passes `filter`, as JSON (for the small report partitions).
    async fn query_entities(&self, operation: &str, filter: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        self.query_rows(operation, filter, |row: Value| out.push(row))
            .await?;
        Ok(out)
    }

    /// The records of `partition` that pass `query`, each made by `make` as its row is read,
    /// in insertion order (the service returns rows by RowKey, which is random). Each row the
    /// service sends is checked again as read (normalized): rows other tools wrote are sent
    /// whatever their values ([`record_filter`]).
    async fn read_records<T: std::borrow::Borrow<Record>>(
        &self,
        partition: &str,
        query: &RecordQuery,
        make: impl Fn(Record) -> T,
    ) -> Result<Vec<T>> {
        check_partition(partition)?;
        let mut rows: Vec<(i64, T)> = Vec::new();
        let mut keyless = 0usize;
        self.query_rows(
            "query",
            &record_filter(partition, query),
            |row: RecordRow| match row.0 {
                Some((order, record)) => {
                    if query.matches(&record) {
                        let micros = order.map_or(i64::MIN, |t| t.timestamp_micros());
                        rows.push((micros, make(record)));
                    }
                }
                None => keyless += 1,
            },
        )
        .await?;
        if keyless > 0 {
            tracing::warn!(store = %self.describe(), keyless, "skipping entities without keys");
        }
        rows.sort_unstable_by(|(a, ra), (b, rb)| {
            a.cmp(b)
                .then_with(|| ra.borrow().row_key.cmp(&rb.borrow().row_key))
        });
        // Collected in place: the pairs' buffer becomes the records' buffer.
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// Reads one entity, `None` when it does not exist.
    pub(super) async fn get_entity(&self, partition: &str, row_key: &str) -> Result<Option<Value>> {
        let path = entity_path(&self.table, partition, row_key);
        match self
            .call(Call::new("read", Method::GET, &path).pass(&[404]))
            .await?
        {
            Outcome::Ok(resp) => serde_json::from_slice(&resp.body)
                .map(Some)
                .map_err(|e| self.err("read", format!("malformed response body: {e}"))),
            Outcome::Status(..) => Ok(None),
        }
    }

    /// Writes an entity only if it is absent (`etag` `None`) or still at `etag`; returns its
    /// new ETag, or `None` when another write came first.
    pub(super) async fn write_conditionally(
        &self,
        operation: &str,
        partition: &str,
        row_key: &str,
        entity: &Value,
        etag: Option<&str>,
    ) -> Result<Option<String>> {
        check_entity(entity)?;
        self.ensure_table().await?;
        let table_path = format!("/{}", self.table);
        let row_path = entity_path(&self.table, partition, row_key);
        let insert_headers = [("prefer", "return-no-content")];
        let match_headers;
        let call = match etag {
            None => Call::new(operation, Method::POST, &table_path)
                .body(entity)
                .headers(&insert_headers)
                .pass(&[409]),
            Some(tag) => {
                match_headers = [("if-match", tag)];
                Call::new(operation, Method::PUT, &row_path)
                    .body(entity)
                    .headers(&match_headers)
                    .pass(&[404, 409, 412])
            }
        };
        match self.call(call).await? {
            Outcome::Ok(resp) => match resp.header("etag") {
                Some(etag) => Ok(Some(etag.to_string())),
                None => Err(self.err(operation, "the answer has no ETag")),
            },
            Outcome::Status(404 | 409 | 412, ..) => Ok(None),
            Outcome::Status(s, code, _) => Err(self.err(operation, format!("HTTP {s} {code}"))),
        }
    }
}

fn error_code(resp: &Response) -> String {
    if let Some(code) = resp.header("x-ms-error-code") {
        return code.to_string();
    }
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.pointer("/odata.error/code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// The cause of a failed token fetch, without the provider prefix the store's error adds.
fn token_failure(e: Error) -> String {
    match e {
        Error::Provider {
            provider, message, ..
        } => format!("{provider}: {message}"),
        other => other.to_string(),
    }
}

fn detail(resp: &Response) -> String {
    let msg = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.pointer("/odata.error/message/value")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    match msg {
        Some(m) => format!(": {}", m.lines().next().unwrap_or_default()),
        None => String::new(),
    }
}

fn conflict(record: &Record) -> Error {
    Error::Conflict {
        partition: record.partition_key.clone(),
        row_key: record.row_key.clone(),
    }
}

#[async_trait]
impl RecordStore for AzureTableStore {
    fn describe(&self) -> String {
        format!("azure-table:{}/{}", self.account.endpoint(), self.table)
    }

    /// The service stamps `Timestamp` when a write commits; a write may take up to the
    /// request timeout, so a "changed since" read reaches that far back.
    fn change_overlap(&self) -> std::time::Duration {
        self.http.policy().timeout
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        self.read_records(partition, query, |r| r).await
    }

    /// Each record is built once, from its row as the page is parsed, and shared where it
    /// was built: a large read holds each record once, and one page of the service's JSON.
    async fn query_shared(
        &self,
        partition: &str,
        query: &RecordQuery,
    ) -> Result<Vec<std::sync::Arc<Record>>> {
        self.read_records(partition, query, std::sync::Arc::new)
            .await
    }

    /// Each row's `RowKey` alone is kept as the pages stream by, when the service alone
    /// decides which rows pass; a query on values reads its records.
    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        /// A row as far as its key.
        #[derive(serde::Deserialize)]
        struct KeyRow {
            #[serde(rename = "RowKey", default)]
            row_key: Option<String>,
        }
        if !filters_keys_and_times_only(query) {
            let records = self.query(partition, query).await?;
            return Ok(records.into_iter().map(|r| r.row_key).collect());
        }
        check_partition(partition)?;
        let mut keys = Vec::new();
        self.query_rows("query", &record_filter(partition, query), |row: KeyRow| {
            keys.extend(row.row_key);
        })
        .await?;
        Ok(keys)
    }

    async fn insert(&self, record: &Record) -> Result<Record> {
        check_partition(&record.partition_key)?;
        check_key("row key", "RowKey", &record.row_key)?;
        check_values(record)?;
        let entity = record_entity(record);
        check_entity(&entity)?;
        self.ensure_table().await?;
        let path = format!("/{}", self.table);
        match self
            .call(
                Call::new("insert", Method::POST, &path)
                    .body(&entity)
                    .headers(&[("prefer", "return-content")])
                    .pass(&[409]),
            )
            .await?
        {
            Outcome::Ok(resp) => {
                let stored: Value = serde_json::from_slice(&resp.body)
                    .map_err(|e| self.err("insert", format!("malformed response body: {e}")))?;
                let mut out = entity_record(&stored)
                    .ok_or_else(|| self.err("insert", "the stored entity has no keys"))?;
                if out.etag.is_none() {
                    out.etag = resp.header("etag").map(str::to_string);
                }
                Ok(out)
            }
            Outcome::Status(409, _, attempts) if attempts > 1 => {
                // A retried insert whose first attempt landed finds its own row: that is success.
                match self
                    .get_entity(&record.partition_key, &record.row_key)
                    .await?
                {
                    Some(existing) => match entity_record(&existing) {
                        Some(found) if found.columns() == record.columns() => Ok(found),
                        _ => Err(conflict(record)),
                    },
                    None => Err(conflict(record)),
                }
            }
            Outcome::Status(409, ..) => Err(conflict(record)),
            Outcome::Status(s, code, _) => Err(self.err("insert", format!("HTTP {s} {code}"))),
        }
    }

    async fn replace(&self, record: &Record) -> Result<Record> {
        check_partition(&record.partition_key)?;
        check_key("row key", "RowKey", &record.row_key)?;
        check_values(record)?;
        let missing = || Error::NotFound {
            what: format!(
                "record {} in partition {}",
                record.row_key, record.partition_key
            ),
        };
        // Read the row first: columns other tools wrote, and its insertion time, survive
        // the replace. The write itself is conditional on the ETag the caller read.
        let current = self
            .get_entity(&record.partition_key, &record.row_key)
            .await?
            .ok_or_else(missing)?;
        let current_etag = current
            .get("odata.etag")
            .and_then(Value::as_str)
            .map(str::to_string);
        let if_match = record
            .etag
            .clone()
            .or(current_etag)
            .unwrap_or_else(|| "*".to_string());
        let entity = replacement_entity(&current, record);
        check_entity(&entity)?;
        let path = entity_path(&self.table, &record.partition_key, &record.row_key);
        let headers = [("if-match", if_match.as_str())];
        match self
            .call(
                Call::new("replace", Method::PUT, &path)
                    .body(&entity)
                    .headers(&headers)
                    .pass(&[404, 409, 412]),
            )
            .await?
        {
            Outcome::Ok(resp) => {
                let mut out = record.clone();
                out.etag = resp.header("etag").map(str::to_string);
                out.timestamp = out
                    .etag
                    .as_deref()
                    .and_then(etag_time)
                    .or_else(|| Some(Utc::now()));
                Ok(out)
            }
            Outcome::Status(412 | 409, ..) => Err(conflict(record)),
            Outcome::Status(404, ..) => Err(missing()),
            Outcome::Status(s, code, _) => Err(self.err("replace", format!("HTTP {s} {code}"))),
        }
    }

    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        // A record's partition only: the run reports, cluster histories, answers and claims
        // kept beside it are not records.
        check_partition(partition)?;
        check_key("row key", "RowKey", row_key)?;
        let path = entity_path(&self.table, partition, row_key);
        let if_match = etag.unwrap_or("*");
        match self
            .call(
                Call::new("delete", Method::DELETE, &path)
                    .headers(&[("if-match", if_match)])
                    .pass(&[404, 412]),
            )
            .await?
        {
            Outcome::Ok(_) | Outcome::Status(404, ..) => Ok(()),
            Outcome::Status(412, ..) => Err(Error::Conflict {
                partition: partition.into(),
                row_key: row_key.into(),
            }),
            Outcome::Status(s, code, _) => Err(self.err("delete", format!("HTTP {s} {code}"))),
        }
    }

    /// One entity group transaction: the conditional replace, then the conditional delete
    /// (with a table SAS, two writes).
    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        const OPERATION: &str = "replace and delete";
        spektate_core::store::check_merge(record, gone)?;
        // A table SAS names one table and `/$batch` none: Azurite refuses it there, so such a
        // store makes the two writes one after the other, the delete's condition checked
        // first, so only a write between the two can leave the first alone.
        if matches!(self.account.credential(), TableCredential::Sas(sas) if sas.table().is_some()) {
            if let Some(etag) = gone_etag
                && let Some(entity) = self.get_entity(&record.partition_key, gone).await?
                && entity.get("odata.etag").and_then(Value::as_str) != Some(etag)
            {
                return Err(Error::Conflict {
                    partition: record.partition_key.clone(),
                    row_key: gone.to_string(),
                });
            }
            let stored = self.replace(record).await?;
            self.delete(&record.partition_key, gone, gone_etag).await?;
            return Ok(stored);
        }
        let partition = &record.partition_key;
        check_partition(partition)?;
        check_key("row key", "RowKey", &record.row_key)?;
        check_key("row key", "RowKey", gone)?;
        check_values(record)?;
        let missing = || Error::NotFound {
            what: format!("record {} in partition {partition}", record.row_key),
        };
        // As `replace`: columns other tools wrote survive, and the write is conditional.
        let current = self
            .get_entity(partition, &record.row_key)
            .await?
            .ok_or_else(missing)?;
        let if_match = record
            .etag
            .clone()
            .or_else(|| {
                current
                    .get("odata.etag")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "*".to_string());
        let entity = replacement_entity(&current, record);
        check_entity(&entity)?;
        let url = |row_key: &str| {
            format!(
                "{}{}",
                self.account.endpoint(),
                entity_path(&self.table, partition, row_key)
            )
        };
        check_header("if-match", &if_match)?;
        if let Some(etag) = gone_etag {
            check_header("if-match", etag)?;
        }
        let mut b = Batch::new();
        b.replace(
            &url(&record.row_key),
            &batch::entity_json(&entity),
            &if_match,
        );
        b.delete(&url(gone), gone_etag.unwrap_or("*"));
        let content_type = b.content_type();
        let resp = match self
            .call(Call::new(OPERATION, Method::POST, "/$batch").raw_body(&content_type, b.finish()))
            .await?
        {
            Outcome::Ok(resp) => resp,
            Outcome::Status(s, code, _) => {
                return Err(self.err(OPERATION, format!("HTTP {s} {code}")));
            }
        };
        let refusal = match batch::outcome(&resp.body, 2) {
            Ok(()) => {
                let mut out = record.clone();
                out.etag = match batch::etags(&resp.body).into_iter().next().flatten() {
                    Some(etag) => Some(etag),
                    // No ETag in the answer: the stored row's, so the next write stays
                    // conditional.
                    None => self
                        .get_entity(partition, &record.row_key)
                        .await?
                        .and_then(|e| e.get("odata.etag")?.as_str().map(str::to_string)),
                };
                out.timestamp = out
                    .etag
                    .as_deref()
                    .and_then(etag_time)
                    .or_else(|| Some(Utc::now()));
                return Ok(out);
            }
            Err(refusal) => refusal,
        };
        let on = |index: Option<usize>| match index {
            Some(1) => gone.to_string(),
            _ => record.row_key.clone(),
        };
        match refusal.status {
            409 | 412 => Err(Error::Conflict {
                partition: partition.clone(),
                row_key: on(refusal.index),
            }),
            // The record to delete is gone already: the replace alone is what is left to do.
            404 if refusal.index != Some(0)
                && self.get_entity(partition, gone).await?.is_none() =>
            {
                self.replace(record).await
            }
            404 => Err(missing()),
            status => Err(self.err(
                OPERATION,
                format!(
                    "the transaction was refused: HTTP {status} {}: {}",
                    refusal.code, refusal.message
                ),
            )),
        }
    }

    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        check_partition(partition)?;
        if report.id.trim().is_empty() {
            return Err(Error::invalid("run id", "is empty; a value is required"));
        }
        let runs = format!("{partition}{RUNS_SUFFIX}");
        let key = safe_key(&report.id);
        check_key("run id", "RowKey", &key)?;
        let entity = report_entity(&runs, &key, report);
        let etag = self
            .write_conditionally(
                "put run report",
                &runs,
                &key,
                &entity,
                report.etag.as_deref(),
            )
            .await?
            .ok_or_else(|| Error::Conflict {
                partition: partition.to_string(),
                row_key: format!("run report {}", report.id),
            })?;
        let mut stored = report.clone();
        stored.reported_at = etag_time(&etag).or_else(|| Some(Utc::now()));
        stored.etag = Some(etag);
        Ok(stored)
    }

    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        check_partition(partition)?;
        let runs = format!("{partition}{RUNS_SUFFIX}");
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let keep = |row: &Value| entity_report(row).filter(|r| wanted.contains(r.id.as_str()));
        let mut out: Vec<RunReport> = Vec::new();
        if wanted.len() > KEYED_READ_MAX {
            // The whole runs partition, a page at a time: only the reports asked for are kept.
            self.query_rows(
                "read run reports",
                &eq("PartitionKey", &runs),
                |row: Value| {
                    out.extend(keep(&row));
                },
            )
            .await?;
        } else {
            let keys: Vec<String> = wanted.iter().map(|id| safe_key(id)).collect();
            let jobs = keys.chunks(KEYS_PER_FILTER).map(|chunk| {
                let any: Vec<String> = chunk.iter().map(|k| eq("RowKey", k)).collect();
                let filter = format!("{} and ({})", eq("PartitionKey", &runs), any.join(" or "));
                async move { self.query_entities("read run reports", &filter).await }
            });
            let rows = futures::future::try_join_all(jobs).await?;
            out.extend(rows.iter().flatten().filter_map(keep));
        }
        // In the order asked, through an index of the ids: a scan per report would make
        // thousands of reports a quadratic sort.
        let order: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .rev()
            .collect();
        out.sort_by_key(|r| order.get(r.id.as_str()).copied());
        Ok(out)
    }

    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        check_partition(partition)?;
        report.check()?;
        let cluster = &report.sync.cluster;
        let clusters = format!("{partition}{CLUSTERS_SUFFIX}");
        let key = safe_key(cluster);
        check_key("cluster", "RowKey", &key)?;
        // Read, add, and write on the etag read: a writer that lost the race waits a moment
        // and reads again.
        for attempt in 0..spektate_core::store::CONFLICT_ATTEMPTS {
            if attempt > 0 {
                spektate_core::store::back_off(attempt).await;
            }
            let current = self.get_entity(&clusters, &key).await?;
            let etag = current
                .as_ref()
                .and_then(|row| row.get("odata.etag").and_then(Value::as_str));
            let mut history = current
                .as_ref()
                .and_then(entity_history)
                .filter(|h| &h.cluster == cluster)
                .unwrap_or_else(|| ClusterHistory::new(cluster));
            if !history.add(report.clone()) {
                return Ok(());
            }
            // A string column holds at most 64 KiB (32 Ki UTF-16 units).
            history.fit(MAX_HISTORY_UNITS);
            let entity = history_entity(&clusters, &key, &history);
            if self
                .write_conditionally("put cluster report", &clusters, &key, &entity, etag)
                .await?
                .is_some()
            {
                return Ok(());
            }
        }
        Err(Error::Conflict {
            partition: partition.to_string(),
            row_key: format!("cluster {cluster}"),
        })
    }

    /// Kept under `<partition>~claims` ([`CLAIMS_SUFFIX`]; see `table/claims.rs`).
    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        super::claims::claim(self, partition, key, holder).await
    }

    /// Kept under `<partition>~answers` ([`ANSWERS_SUFFIX`]), written in entity group
    /// transactions (see `table/answers.rs`).
    fn keeps_answers(&self) -> bool {
        true
    }

    async fn put_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        self.keep_answers(partition, answers).await
    }

    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        self.read_answers(partition, keys).await
    }

    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        check_partition(partition)?;
        let clusters = format!("{partition}{CLUSTERS_SUFFIX}");
        let rows = self
            .query_entities("read cluster histories", &eq("PartitionKey", &clusters))
            .await?;
        let mut out: Vec<ClusterHistory> = rows.iter().filter_map(entity_history).collect();
        out.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(out)
    }
}

/// Refuses a header value HTTP cannot carry (outside visible ASCII, space and tab), naming
/// the header: an ETag is what the caller or the service said.
fn check_header(name: &str, value: &str) -> Result<()> {
    if value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Ok(());
    }
    let what = if name.eq_ignore_ascii_case("if-match") {
        "etag"
    } else {
        name
    };
    Err(Error::invalid(
        what,
        format!(
            "'{}' cannot be sent in an HTTP header",
            value.escape_default()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate_core::http::Secret;

    #[test]
    fn a_changed_since_read_reaches_back_the_longest_write_the_policy_allows() {
        let account = TableAccount::development(None).unwrap();
        let default = AzureTableStore::new(account.clone(), "deployments").unwrap();
        assert_eq!(default.change_overlap(), std::time::Duration::from_secs(30));
        let policy = Policy {
            timeout: std::time::Duration::from_secs(90),
            ..Policy::default()
        };
        let slow = AzureTableStore::with_policy(account, "deployments", policy).unwrap();
        assert_eq!(slow.change_overlap(), std::time::Duration::from_secs(90));
    }

    #[test]
    fn table_names_and_report_partitions_are_checked() {
        let account = TableAccount::development(None).unwrap();
        let e = AzureTableStore::new(account.clone(), "my-table")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'my-table'"), "{e}");
        assert!(AzureTableStore::new(account, "deployments").is_ok());
        let e = check_partition("demo~runs").unwrap_err().to_string();
        assert!(e.contains("'demo~runs'"), "{e}");
    }

    #[test]
    fn the_key_never_shows() {
        let key = "c3VwZXItc2VjcmV0LWtleQ==";
        let store = AzureTableStore::new(
            TableAccount::new("spektate", Secret::new(key)).unwrap(),
            "deployments",
        )
        .unwrap();
        let shown = format!("{store:?} {}", store.describe());
        assert!(!shown.contains(key), "{shown}");
        assert_eq!(
            store.describe(),
            "azure-table:https://spektate.table.core.windows.net/deployments"
        );
    }
}
