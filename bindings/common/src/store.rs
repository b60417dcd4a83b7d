//! Store arguments: `Store.open(spec, table, create)` and the spec or path a `Recorder` or
//! `Tracker` takes instead of a `Store`, opened through [`spektate::config`] as the
//! `spektate` command opens its `--store`.

use std::sync::Arc;

use spektate::config::{Access, Names, StoreSettings};
use spektate::{RecordStore, Result};

/// The store `spec` names (`sqlite:PATH` or a plain path, `azure-table:CONNECTION_STRING`
/// with `table`, `postgres://USER:PASSWORD@HOST/DATABASE`). With `create`, it is opened for
/// writing: a missing SQLite file is created, and a PostgreSQL schema is created (or
/// migrated) at the first write; without, it must exist, and PostgreSQL sessions are
/// read-only.
pub fn open(
    spec: String,
    table: Option<String>,
    create: bool,
    names: &Names,
) -> Result<Arc<dyn RecordStore>> {
    let access = if create { Access::Write } else { Access::Read };
    let azure_table = spec
        .trim_start()
        .get(..12)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("azure-table:"));
    if table.as_deref().is_some_and(|t| !t.trim().is_empty()) && !azure_table {
        // The spec itself is not shown: a PostgreSQL URL may hold a password.
        return Err(spektate::Error::invalid(
            names.table_name,
            "names the table of an Azure table store; this store is not one (give the table \
             only with azure-table:...)",
        ));
    }
    StoreSettings {
        table_name: table,
        ..StoreSettings::spec(spec)
    }
    .open(names, access)
}

/// The store a spec or path given in place of a `Store` names: a writer (`Access::Write`)
/// creates a missing SQLite file (or PostgreSQL schema), a reader wants it to exist.
pub fn from_spec(spec: String, access: Access, names: &Names) -> Result<Arc<dyn RecordStore>> {
    StoreSettings::spec(spec).open(names, access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_created_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spektate.db");
        let spec = format!("sqlite:{}", path.display());
        let e = open(spec.clone(), None, false, &Names::FLAGS)
            .err()
            .unwrap();
        assert_eq!(e.kind(), "StoreError");
        assert!(!path.exists());
        let e = from_spec(spec.clone(), Access::Read, &Names::FLAGS)
            .err()
            .unwrap();
        assert_eq!(e.kind(), "StoreError");
        let store = from_spec(spec.clone(), Access::Write, &Names::FLAGS).unwrap();
        assert!(path.exists());
        assert_eq!(
            store.describe(),
            open(spec, None, false, &Names::FLAGS).unwrap().describe()
        );
    }

    #[test]
    fn a_table_is_refused_by_name_for_a_store_that_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite:{}", dir.path().join("spektate.db").display());
        let postgres = "postgres://ci:pw-7f3a@127.0.0.1:1/spektate?sslmode=disable";
        for spec in [sqlite.as_str(), postgres] {
            let e = open(spec.into(), Some("deployments".into()), true, &Names::FLAGS)
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.contains("--table-name") && e.contains("azure-table:") && !e.contains("pw-7f3a"),
                "{e}"
            );
        }
        assert!(!dir.path().join("spektate.db").exists(), "nothing created");
        // An empty table is no table.
        open(sqlite, Some(String::new()), true, &Names::FLAGS).unwrap();
    }

    #[test]
    fn a_postgres_url_opens_without_connecting_and_never_shows_its_password() {
        let url = "postgres://ci:pw-7f3a@127.0.0.1:1/spektate?sslmode=disable";
        for store in [
            open(url.into(), None, true, &Names::FLAGS).unwrap(),
            open(url.into(), None, false, &Names::FLAGS).unwrap(),
            from_spec(url.into(), Access::Read, &Names::FLAGS).unwrap(),
        ] {
            assert_eq!(
                store.describe(),
                "postgres://ci@127.0.0.1:1/spektate?sslmode=disable"
            );
        }
        let bad = "postgresql://ci:pw-7f3a@db/spektate?sslmode=sometimes";
        let e = open(bad.into(), None, true, &Names::FLAGS).err().unwrap();
        let shown = e.to_string();
        assert!(
            shown.contains("sslmode 'sometimes'") && !shown.contains("pw-7f3a"),
            "{shown}"
        );
    }

    #[test]
    fn messages_name_the_setting_as_the_caller_spells_it() {
        let names = Names {
            store: "spec",
            ..Names::FLAGS
        };
        let e = open("  ".into(), None, true, &names).err().unwrap();
        assert!(e.to_string().starts_with("invalid spec: is empty"), "{e}");
        let e = from_spec(String::new(), Access::Write, &names)
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("invalid spec: is empty"), "{e}");
    }
}
