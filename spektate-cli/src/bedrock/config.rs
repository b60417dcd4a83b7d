//! bedrock-cli's settings file, `~/.bedrock/config.yaml`: the storage account of
//! `introspection.azure` and the Azure DevOps organisation, project, repositories and token
//! of `azure_devops`, with bedrock's `${env:NAME}` substitution. Read when flags are absent.

use std::fmt;
use std::path::{Path, PathBuf};

use spektate::{Error, Result};

/// The settings of `~/.bedrock/config.yaml` that Spektate reads, `${env:NAME}` replaced.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BedrockConfig {
    /// The file they were read from.
    pub path: PathBuf,
    /// `introspection.azure.account_name`: the storage account.
    pub account_name: Option<String>,
    /// `introspection.azure.table_name`.
    pub table_name: Option<String>,
    /// `introspection.azure.partition_key`.
    pub partition_key: Option<String>,
    /// `introspection.azure.key`: the storage account's key.
    pub key: Option<String>,
    /// `introspection.azure.source_repo_access_token`: reads the source and manifest
    /// repositories (authors, pull requests, sync tags).
    pub source_repo_access_token: Option<String>,
    /// `azure_devops.org`.
    pub org: Option<String>,
    /// `azure_devops.project`.
    pub project: Option<String>,
    /// `azure_devops.access_token`: reads Azure DevOps's pipelines (and its repositories,
    /// without a source repository token); never sent to GitHub or GitLab.
    pub access_token: Option<String>,
    /// `azure_devops.hld_repository`.
    pub hld_repository: Option<String>,
    /// `azure_devops.manifest_repository`.
    pub manifest_repository: Option<String>,
}

impl fmt::Debug for BedrockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("BedrockConfig")
            .field("path", &self.path)
            .field("account_name", &self.account_name)
            .field("table_name", &self.table_name)
            .field("partition_key", &self.partition_key)
            .field("key", &hidden(&self.key))
            .field(
                "source_repo_access_token",
                &hidden(&self.source_repo_access_token),
            )
            .field("org", &self.org)
            .field("project", &self.project)
            .field("access_token", &hidden(&self.access_token))
            .field("hld_repository", &self.hld_repository)
            .field("manifest_repository", &self.manifest_repository)
            .finish()
    }
}

/// The largest settings file read (bedrock's are a few hundred bytes).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where bedrock keeps its settings: `$HOME/.bedrock/config.yaml`.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| Path::new(&home).join(".bedrock").join("config.yaml"))
}

impl BedrockConfig {
    /// The settings of `~/.bedrock/config.yaml`, or `None` when there is no such file.
    pub fn load() -> Result<Option<BedrockConfig>> {
        match default_path() {
            Some(path) if path.exists() => Self::load_from(&path, &env_var).map(Some),
            _ => Ok(None),
        }
    }

    /// The settings of the file at `path`, with `${env:NAME}` replaced by `env(NAME)`; a
    /// variable that is unset or empty is an error naming it and the setting, as bedrock's.
    pub fn load_from(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<BedrockConfig> {
        let shown = path.display().to_string();
        let size = std::fs::metadata(path)
            .map_err(|e| Error::invalid(&shown, format!("cannot be read: {e}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(Error::invalid(
                &shown,
                format!("is {size} bytes; a bedrock settings file is at most {MAX_FILE_BYTES}"),
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(&shown, format!("cannot be read: {e}")))?;
        Self::parse(&text, path, env)
    }

    /// The settings in `text` (the YAML of a bedrock settings file read from `path`).
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BedrockConfig> {
        let shown = path.display().to_string();
        let doc: serde_norway::Value = if text.trim().is_empty() {
            serde_norway::Value::Null
        } else {
            serde_norway::from_str(text)
                .map_err(|e| Error::invalid(&shown, format!("is not YAML: {e}")))?
        };
        let get = |keys: &[&str]| -> Result<Option<String>> {
            let mut node = &doc;
            for k in keys {
                match node.get(*k) {
                    Some(next) => node = next,
                    None => return Ok(None),
                }
            }
            let name = keys.join(".");
            let raw = match node {
                serde_norway::Value::Null => return Ok(None),
                serde_norway::Value::String(s) => s.clone(),
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(Error::invalid(
                        format!("{shown}: {name}"),
                        "is not a single value",
                    ));
                }
            };
            let value = substitute(&raw, env)
                .map_err(|var| {
                    Error::invalid(
                        format!("{shown}: {name}"),
                        format!("names the environment variable {var}, which is not set"),
                    )
                })?
                .trim()
                .to_string();
            Ok(Some(value).filter(|v| !v.is_empty()))
        };
        Ok(BedrockConfig {
            path: path.to_path_buf(),
            account_name: get(&["introspection", "azure", "account_name"])?,
            table_name: get(&["introspection", "azure", "table_name"])?,
            partition_key: get(&["introspection", "azure", "partition_key"])?,
            key: get(&["introspection", "azure", "key"])?,
            source_repo_access_token: get(&["introspection", "azure", "source_repo_access_token"])?,
            org: get(&["azure_devops", "org"])?,
            project: get(&["azure_devops", "project"])?,
            access_token: get(&["azure_devops", "access_token"])?,
            hld_repository: get(&["azure_devops", "hld_repository"])?,
            manifest_repository: get(&["azure_devops", "manifest_repository"])?,
        })
    }

    /// Sets `introspection.azure.account_name` and `table_name` in the file at `path`,
    /// keeping every other setting (as `bedrock deployment onboard` does); creates the file
    /// and its directory when missing. Written to a temporary file and renamed, so a failed
    /// write leaves the old file whole.
    pub fn save_storage(path: &Path, account: &str, table: &str) -> Result<()> {
        use serde_norway::{Mapping, Value};
        let shown = path.display().to_string();
        let mut doc: Value = match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => serde_norway::from_str(&text)
                .map_err(|e| Error::invalid(&shown, format!("is not YAML: {e}")))?,
            Ok(_) => Value::Mapping(Mapping::new()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Mapping(Mapping::new()),
            Err(e) => return Err(Error::invalid(&shown, format!("cannot be read: {e}"))),
        };
        let section = |node: &mut Value, key: &str| -> Result<()> {
            let Value::Mapping(map) = node else {
                return Err(Error::invalid(
                    &shown,
                    format!("holds something other than settings where {key} belongs"),
                ));
            };
            let entry = map
                .entry(Value::String(key.into()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if entry.is_null() {
                *entry = Value::Mapping(Mapping::new());
            }
            Ok(())
        };
        section(&mut doc, "introspection")?;
        let introspection = doc.get_mut("introspection").expect("just made");
        section(introspection, "azure")?;
        let azure = introspection.get_mut("azure").expect("just made");
        let Value::Mapping(azure) = azure else {
            return Err(Error::invalid(
                &shown,
                "introspection.azure is not a set of settings",
            ));
        };
        azure.insert("account_name".into(), Value::String(account.into()));
        azure.insert("table_name".into(), Value::String(table.into()));
        let text = serde_norway::to_string(&doc)
            .map_err(|e| Error::invalid(&shown, format!("cannot be written: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::invalid(&shown, format!("cannot be written: {e}")))?;
        }
        let tmp = path.with_extension("yaml.spektate-tmp");
        write_private(&tmp, path, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::invalid(&shown, format!("cannot be written: {e}"))
            })
    }
}

/// Writes `text` to a new file `tmp` that is to replace `original`, with `original`'s
/// permissions, or owner-only (0600) when there is no original: the file holds secrets
/// (`introspection.azure.key`, `azure_devops.access_token`), and no other user may read it
/// at any moment, before the permissions are set nor after the rename.
fn write_private(tmp: &Path, original: &Path, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    // A temporary file a crash left behind would keep its own permissions.
    match std::fs::remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = match std::fs::metadata(original) {
            Ok(m) => m.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0o600,
            Err(e) => return Err(e),
        };
        // Owner-only until the original's permissions are set, whatever the umask.
        options.mode(0o600);
        mode
    };
    #[cfg(not(unix))]
    let _ = original;
    let mut file = options.open(tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    file.write_all(text)?;
    file.sync_all()
}

/// The process environment, as bedrock reads it.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `value` with every `${env:NAME}` replaced by the variable's value, as bedrock does; the
/// name of the first variable that is unset or empty is the error. A replacement is not
/// read again, so a value holding `${env:...}` stays as it is.
pub fn substitute(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    const OPEN: &str = "${env:";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let name_len = after
            .char_indices()
            .take_while(|(i, c)| {
                c.is_ascii_alphabetic() || *c == '_' || *c == '$' || (*i > 0 && c.is_ascii_digit())
            })
            .count();
        // bedrock's pattern: a name of two or more characters, then `}`.
        if name_len < 2 || !after[name_len..].starts_with('}') {
            out.push_str(&rest[..start + OPEN.len()]);
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        let found = env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| name.to_string())?;
        out.push_str(&rest[..start]);
        out.push_str(&found);
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "AZ_STORAGE_ACCOUNT" => Some("fabrikamintro".into()),
            "sa_access_key" => Some("a2V5LTE=".into()),
            "AZDO_ORG" => Some("fabrikam".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn env_references_are_replaced_and_a_missing_one_is_named() {
        assert_eq!(
            substitute(
                "https://dev.azure.com/${env:AZDO_ORG}/x/_git/${env:AZDO_ORG}-hld",
                &env
            )
            .unwrap(),
            "https://dev.azure.com/fabrikam/x/_git/fabrikam-hld"
        );
        assert_eq!(substitute("plain", &env).unwrap(), "plain");
        assert_eq!(
            substitute("${env:}${env:A", &env).unwrap(),
            "${env:}${env:A"
        );
        assert_eq!(substitute("${env:NOPE}", &env).unwrap_err(), "NOPE");
        assert_eq!(substitute("${env:EMPTY}", &env).unwrap_err(), "EMPTY");
    }

    #[test]
    fn bedrocks_test_settings_file_reads_with_its_variables() {
        let text = include_str!("../../tests/fixtures/bedrock/bedrock-config-test.yaml");
        let e = BedrockConfig::parse(text, Path::new("config.yaml"), &env).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("introspection.azure.table_name") && e.contains("sat_name"),
            "{e}"
        );
        let full = |name: &str| env(name).or_else(|| Some(format!("<{name}>")));
        let c = BedrockConfig::parse(text, Path::new("config.yaml"), &full).unwrap();
        assert_eq!(c.account_name.as_deref(), Some("fabrikamintro"));
        assert_eq!(c.key.as_deref(), Some("a2V5LTE="));
        assert_eq!(c.partition_key.as_deref(), Some("<sa_partition_key>"));
        assert_eq!(
            c.manifest_repository.as_deref(),
            Some("https://dev.azure.com/fabrikam/<AZDO_PROJECT>/_git/<manifests_dir>")
        );
        assert_eq!(c.access_token.as_deref(), Some("<ACCESS_TOKEN_SECRET>"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("a2V5LTE=") && !shown.contains("ACCESS_TOKEN_SECRET"),
            "{shown}"
        );
    }

    #[test]
    fn onboard_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".bedrock").join("config.yaml");
        BedrockConfig::save_storage(&path, "fabrikamintro", "deployments").unwrap();
        std::fs::write(
            &path,
            "azure_devops:\n  org: fabrikam\nintrospection:\n  azure:\n    key: ${env:sa_access_key}\n    table_name: old\n",
        )
        .unwrap();
        BedrockConfig::save_storage(&path, "fabrikamintro", "deployments").unwrap();
        let c = BedrockConfig::load_from(&path, &env).unwrap();
        assert_eq!(
            (
                c.account_name.as_deref(),
                c.table_name.as_deref(),
                c.org.as_deref()
            ),
            (Some("fabrikamintro"), Some("deployments"), Some("fabrikam"))
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("${env:sa_access_key}"),
            "the reference is kept: {text}"
        );
    }
}
