//! Records in `spektate_records`: the statements and the mapping between rows and
//! [`Record`]s. A record's etag is its `version`; its sequence is `change_seq`, taken by
//! `spektate_next_change` under the partition's lock (see [`crate::schema`]).

use spektate_core::Error;
use spektate_core::model::record::{COLUMNS, MAX_VALUE_LEN, Record};
use spektate_core::store::RecordQuery;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::read::{Time, column, truncated};

/// The table's column for each of [`COLUMNS`], in the same order.
pub const SQL_COLUMNS: [&str; 13] = [
    "service",
    "commit_id",
    "image_tag",
    "p1",
    "p2",
    "p3",
    "env",
    "hld_commit_id",
    "manifest_commit_id",
    "pr",
    "source_repo",
    "hld_repo",
    "manifest_repo",
];

/// The table's column for a stored column name ([`COLUMNS`] or `RowKey`).
fn sql_column(name: &str) -> Option<&'static str> {
    if name == "RowKey" {
        return Some("row_key");
    }
    COLUMNS
        .iter()
        .position(|c| *c == name)
        .map(|i| SQL_COLUMNS[i])
}

/// The most bytes of a row key or data column read: [`MAX_VALUE_LEN`] characters of up to
/// four bytes, the most a store writes ([`check_values`]; the Azure table store and the
/// recorder refuse longer values too). A longer value is not read: the server sends null and
/// its length instead, and the record is an error naming the column.
pub const MAX_COLUMN_BYTES: usize = 4 * MAX_VALUE_LEN;

/// The characters of an oversized row key sent to name the record.
const ROW_KEY_SHOWN: usize = 80;

/// What every read of records selects, in the order [`from_row`] reads: the row key and the
/// data columns only when within [`MAX_COLUMN_BYTES`] (else the start of the row key, and a
/// null), then `oversized`, which says which were not and how long they are (null when none).
fn select_list() -> String {
    let limit = MAX_COLUMN_BYTES;
    let guarded: Vec<String> = SQL_COLUMNS
        .iter()
        .map(|c| format!("CASE WHEN octet_length({c}) <= {limit} THEN {c} END AS {c}"))
        .collect();
    let oversized: Vec<String> = std::iter::once("row_key")
        .chain(SQL_COLUMNS)
        .map(|c| {
            format!(
                "CASE WHEN octet_length({c}) > {limit} \
                 THEN '{c} is ' || octet_length({c}) || ' bytes' END"
            )
        })
        .collect();
    format!(
        "partition_key, \
         CASE WHEN octet_length(row_key) <= {limit} THEN row_key \
         ELSE left(row_key, {ROW_KEY_SHOWN}) END AS row_key, \
         {}, written_at, version, change_seq, \
         NULLIF(concat_ws(', ', {}), '') AS oversized",
        guarded.join(", "),
        oversized.join(", ")
    )
}

/// Refuses a record with a row key or data column longer than [`MAX_VALUE_LEN`] characters,
/// naming it: a longer value would not be read back ([`MAX_COLUMN_BYTES`]).
pub fn check_values(record: &Record) -> spektate_core::Result<()> {
    let partition = ("PartitionKey", Some(record.partition_key.as_str()));
    let row_key = ("RowKey", Some(record.row_key.as_str()));
    for (column, value) in [partition, row_key].into_iter().chain(record.columns()) {
        let chars = value.map_or(0, |v| v.chars().count());
        if chars > MAX_VALUE_LEN {
            return Err(Error::invalid(
                column,
                format!("is {chars} characters long; the limit is {MAX_VALUE_LEN}"),
            ));
        }
        // PostgreSQL text cannot hold NUL: said here, naming the column, not as SQLSTATE 22021.
        if value.is_some_and(|v| v.contains('\0')) {
            return Err(Error::invalid(
                column,
                format!(
                    "'{}' holds a NUL character, which PostgreSQL text cannot hold",
                    truncated(&value.unwrap_or_default().escape_default().to_string())
                ),
            ));
        }
    }
    Ok(())
}

/// A record from a row selected with [`select_list`] (or returned by a write), or why it
/// cannot be read, naming the record, its partition and the column.
pub fn from_row(row: &Row) -> Result<Record, String> {
    let partition_key: String =
        column(row, 0).map_err(|problem| format!("a record cannot be read: {problem}"))?;
    let row_key: String = column(row, 1).map_err(|problem| {
        format!(
            "a record in partition {} cannot be read: {problem}",
            truncated(&partition_key)
        )
    })?;
    let unreadable = |problem: String| {
        format!(
            "record {} in partition {} cannot be read: {problem}",
            truncated(&row_key),
            truncated(&partition_key)
        )
    };
    if let Some(oversized) = column::<Option<&str>>(row, 18).map_err(unreadable)? {
        return Err(unreadable(format!(
            "{oversized}; a column is read up to {MAX_COLUMN_BYTES} bytes"
        )));
    }
    let mut r = Record::default();
    for (i, col) in COLUMNS.iter().enumerate() {
        let value: Option<&str> = column(row, 2 + i).map_err(unreadable)?;
        r.set_column_text(col, value);
    }
    r.timestamp = Some(column::<Time>(row, 15).map_err(unreadable)?.0);
    r.etag = Some(column::<i64>(row, 16).map_err(unreadable)?.to_string());
    r.sequence = Some(column(row, 17).map_err(unreadable)?);
    r.partition_key = partition_key;
    r.row_key = row_key;
    Ok(r)
}

/// A record's version tag as the number stored; a tag that is no number matches no row.
pub fn version_of(etag: &str) -> i64 {
    etag.trim().parse().unwrap_or(-1)
}

/// A read of one partition: its statement and parameters.
pub struct Select {
    /// The statement.
    pub sql: String,
    /// Its parameters.
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Select {
    /// The records of `partition` passing `query`, in insertion order.
    pub fn new(partition: &str, query: &RecordQuery) -> Select {
        Select::of(&select_list(), partition, query)
    }

    /// Their row keys alone.
    pub fn row_keys(partition: &str, query: &RecordQuery) -> Select {
        // As [`select_list`] reads it: an oversized row key (another tool's row) is its
        // start, so the keys match the records a query reads, and stay bounded.
        let row_key = format!(
            "CASE WHEN octet_length(row_key) <= {MAX_COLUMN_BYTES} THEN row_key \
             ELSE left(row_key, {ROW_KEY_SHOWN}) END"
        );
        Select::of(&row_key, partition, query)
    }

    /// [`Select::new`] selecting `columns`.
    fn of(columns: &str, partition: &str, query: &RecordQuery) -> Select {
        let mut sql = format!("SELECT {columns} FROM spektate_records WHERE partition_key = $1");
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(partition.to_string())];
        for (name, value) in query.equalities() {
            if let Some(col) = sql_column(name) {
                params.push(Box::new(value.to_string()));
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        if let Some(id) = &query.run_id {
            params.push(Box::new(id.clone()));
            let n = params.len();
            sql.push_str(&format!(" AND (p1 = ${n} OR p2 = ${n} OR p3 = ${n})"));
        }
        if let Some(since) = query.changed_since {
            params.push(Box::new(since));
            sql.push_str(&format!(" AND written_at >= ${}", params.len()));
        }
        if let Some(after) = query.after_sequence {
            params.push(Box::new(after));
            sql.push_str(&format!(" AND change_seq > ${}", params.len()));
        }
        sql.push_str(" ORDER BY seq");
        Select { sql, params }
    }

    /// The parameters as the driver takes them.
    pub fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Inserts a record with version 1 and the next change sequence; a row key that exists is
/// a unique violation. Parameters: partition, row key, then [`column_values`].
pub fn insert_sql() -> String {
    let params: Vec<String> = (3..3 + SQL_COLUMNS.len())
        .map(|n| format!("${n}"))
        .collect();
    // A new row's version is its change sequence, larger than any version an earlier row of
    // this key (merged away, then written again) had: an etag read from that one never
    // matches this one.
    format!(
        "INSERT INTO spektate_records (partition_key, row_key, {}, version, change_seq) \
         SELECT $1, $2, {}, seq, seq FROM (SELECT spektate_next_change($1) AS seq) AS next \
         RETURNING {}",
        SQL_COLUMNS.join(", "),
        params.join(", "),
        select_list()
    )
}

/// Replaces the columns of a record and takes a new version and change sequence.
/// Parameters: [`column_values`], then partition, row key and, when `conditional`, the
/// version the write is conditional on.
pub fn replace_sql(conditional: bool) -> String {
    let n = SQL_COLUMNS.len();
    let sets: Vec<String> = SQL_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let mut sql = format!(
        "UPDATE spektate_records SET {}, written_at = now(), version = version + 1, \
         change_seq = spektate_next_change(partition_key) \
         WHERE partition_key = ${} AND row_key = ${}",
        sets.join(", "),
        n + 1,
        n + 2
    );
    if conditional {
        sql.push_str(&format!(" AND version = ${}", n + 3));
    }
    sql.push_str(&format!(" RETURNING {}", select_list()));
    sql
}

/// A record's data columns as statement parameters, in [`SQL_COLUMNS`] order.
pub fn column_values(record: &Record) -> Vec<Option<String>> {
    record
        .columns()
        .iter()
        .map(|(_, v)| v.map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_character_is_refused_naming_the_column() {
        let mut r = Record::new("fabrikam");
        r.image_tag = Some("web\u{0}1".into());
        let e = check_values(&r).unwrap_err().to_string();
        assert!(
            e.contains("imageTag") && e.contains("web\\u{0}1") && e.contains("NUL"),
            "{e}"
        );
        let e = check_values(&Record::new("fab\u{0}rikam"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("PartitionKey"), "{e}");
    }

    #[test]
    fn every_stored_column_has_its_table_column() {
        for (stored, sql) in COLUMNS.iter().zip(SQL_COLUMNS) {
            let snake: String = stored
                .chars()
                .flat_map(|c| {
                    if c.is_ascii_uppercase() {
                        vec!['_', c.to_ascii_lowercase()]
                    } else {
                        vec![c]
                    }
                })
                .collect();
            assert_eq!(snake, sql);
        }
        assert_eq!(sql_column("RowKey"), Some("row_key"));
        assert_eq!(sql_column("imageTag"), Some("image_tag"));
        assert_eq!(sql_column("Timestamp"), None);
    }

    #[test]
    fn filters_are_parameters_never_text_of_the_statement() {
        let q = RecordQuery::all()
            .image_tag("it's' or 'a' = 'a")
            .run_id("42")
            .after_sequence(7);
        let s = Select::new("p", &q);
        assert!(!s.sql.contains("it's"), "{}", s.sql);
        assert!(s.sql.contains("image_tag = $2"), "{}", s.sql);
        assert!(
            s.sql.contains("(p1 = $3 OR p2 = $3 OR p3 = $3)"),
            "{}",
            s.sql
        );
        assert!(
            s.sql.ends_with("AND change_seq > $4 ORDER BY seq"),
            "{}",
            s.sql
        );
        assert_eq!(s.args().len(), 4);
    }

    #[test]
    fn an_etag_that_is_no_number_matches_no_version() {
        assert_eq!(version_of("3"), 3);
        assert_eq!(version_of("W/\"x\""), -1);
    }
}
