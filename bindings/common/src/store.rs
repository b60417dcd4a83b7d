//! Store arguments: `Store.open(spec, table, create)` and the spec or path a `Recorder` or
//! `Tracker` takes instead of a `Store`, opened through [`spektate::config`] as the
//! `spektate` command opens its `--store`.

use std::sync::Arc;

use spektate::config::{Access, Names, StoreSettings};
use spektate::{RecordStore, Result};

/// The store `spec` names (`sqlite:PATH` or a plain path, `azure-table:CONNECTION_STRING`
/// with `table`). A missing SQLite file is created only when `create` is true.
pub fn open(
    spec: String,
    table: Option<String>,
    create: bool,
    names: &Names,
) -> Result<Arc<dyn RecordStore>> {
    let access = if create { Access::Write } else { Access::Read };
    StoreSettings {
        table_name: table,
        ..StoreSettings::spec(spec)
    }
    .open(names, access)
}

/// The store a spec or path given in place of a `Store` names: a writer (`Access::Write`)
/// creates a missing SQLite file, a reader wants it to exist.
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
