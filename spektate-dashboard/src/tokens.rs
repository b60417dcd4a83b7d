//! Pipeline and viewer tokens: a JSON file of hashed tokens, each scoped to partitions and
//! to reading or writing.
//!
//! A token reads `spk_<id>_<secret>`: the id (8 hex digits) names it in lists, logs and
//! revocations; the secret is 256 random bits. The file keeps only the SHA-256 of the whole
//! token, so a copy of the file lets no one write; the server compares hashes in constant
//! time. The file is the store because it works with every record store (SQLite, Azure
//! table, PostgreSQL), can be mounted read-only from a Kubernetes Secret, and is re-read by
//! a running server when it changes, so a revocation takes effect without a restart.
//!
//! ```
//! use spektate_dashboard::tokens::{Scope, TokenFile};
//! let mut file = TokenFile::default();
//! let token = file.create("ci-frontend", &[Scope::Write], &["fabrikam".into()]).unwrap();
//! let entry = file.verify(token.expose()).unwrap();
//! assert_eq!(entry.name, "ci-frontend");
//! assert!(entry.allows(Scope::Write, "fabrikam"));
//! assert!(!entry.allows(Scope::Write, "contoso"));
//! assert!(file.verify("spk_00000000_guess").is_none());
//! ```

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Error;

/// A token just made: shown once, never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken(String);

impl NewToken {
    /// The token itself, to show its holder once. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read deployments (a viewer, with `--auth token`).
    Read,
    /// Write records (a pipeline).
    Write,
}

impl Scope {
    /// Parses `read` or `write`.
    pub fn parse(word: &str) -> Result<Scope, Error> {
        match word.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            other => Err(Error::invalid(
                "scope",
                format!("'{other}' is not one of read, write"),
            )),
        }
    }

    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// One token, as the file keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenEntry {
    /// The public part of the token (`spk_<id>_...`), for lists, logs and revocation.
    pub id: String,
    /// Who or what holds it (`ci-frontend`).
    pub name: String,
    /// The SHA-256 of the whole token, in lower-case hex.
    pub sha256: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The partitions it may read or write.
    pub partitions: Vec<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl TokenEntry {
    /// Whether the token may do `scope` on `partition`.
    pub fn allows(&self, scope: Scope, partition: &str) -> bool {
        self.scopes.contains(&scope) && self.partitions.iter().any(|p| p == partition)
    }
}

/// The token file: `{"tokens": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// The tokens, oldest first.
    pub tokens: Vec<TokenEntry>,
}

/// The SHA-256 of `token`, in lower-case hex.
fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::invalid("token", format!("no randomness to make one: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The id of a presented token (`spk_<id>_<secret>`), if it has that shape.
fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("spk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && !secret.is_empty()).then_some(id)
}

impl TokenFile {
    /// Reads the file at `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<TokenFile, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(e) => {
                return Err(Error::invalid(
                    "tokens file",
                    format!("{} cannot be read: {e}", path.display()),
                ));
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                "tokens file",
                format!("{} is not a Spektate token list: {e}", path.display()),
            )
        })
    }

    /// Writes the file at `path` in one step (a new file renamed over the old one), readable
    /// by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let failed = |e: std::io::Error| {
            Error::invalid(
                "tokens file",
                format!("{} cannot be written: {e}", path.display()),
            )
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map_or("tokens".into(), |n| n.to_string_lossy());
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut text = serde_json::to_string_pretty(self).map_err(|e| failed(e.into()))?;
        text.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
            let _ = std::fs::remove_file(&temp);
            return Err(failed(e));
        }
        Ok(())
    }

    /// Adds a token named `name` with `scopes` on `partitions`; returns the token, which is
    /// kept nowhere else: show it once.
    pub fn create(
        &mut self,
        name: &str,
        scopes: &[Scope],
        partitions: &[String],
    ) -> Result<NewToken, Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) || name.chars().count() > 100 {
            return Err(Error::invalid(
                "name",
                format!("'{name}' is not a name of 1 to 100 printable characters"),
            ));
        }
        if self.tokens.iter().any(|t| t.name == name) {
            return Err(Error::invalid(
                "name",
                format!("a token named '{name}' exists; revoke it first or choose another name"),
            ));
        }
        if scopes.is_empty() {
            return Err(Error::invalid("scope", "give at least one of read, write"));
        }
        let partitions: Vec<String> = partitions.iter().map(|p| p.trim().to_string()).collect();
        if partitions.is_empty() || partitions.iter().any(String::is_empty) {
            return Err(Error::invalid(
                "partition",
                "give at least one partition, none empty",
            ));
        }
        let id = loop {
            let id = random_hex(4)?;
            if !self.tokens.iter().any(|t| t.id == id) {
                break id;
            }
        };
        let token = format!("spk_{id}_{}", random_hex(32)?);
        let mut scopes = scopes.to_vec();
        scopes.sort_by_key(|s| s.as_str());
        scopes.dedup();
        self.tokens.push(TokenEntry {
            id,
            name: name.to_string(),
            sha256: sha256_hex(&token),
            scopes,
            partitions,
            created: Utc::now(),
        });
        Ok(NewToken(token))
    }

    /// Removes the token with this id or name; returns it, or `None` when there is none.
    pub fn revoke(&mut self, id_or_name: &str) -> Option<TokenEntry> {
        let wanted = id_or_name.trim();
        let at = self
            .tokens
            .iter()
            .position(|t| t.id == wanted || t.name == wanted)?;
        Some(self.tokens.remove(at))
    }

    /// The entry of a presented token, if it is one of the file's: its SHA-256 is compared
    /// in constant time.
    pub fn verify(&self, presented: &str) -> Option<&TokenEntry> {
        let id = id_of(presented.trim())?;
        let entry = self.tokens.iter().find(|t| t.id == id)?;
        let hash = sha256_hex(presented.trim());
        bool::from(hash.as_bytes().ct_eq(entry.sha256.as_bytes())).then_some(entry)
    }
}

/// How often a server looks whether its token file changed.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The token file a server checks tokens against, re-read when it changes. While the file
/// cannot be read or parsed, every token is refused (a broken list never lets anyone in).
pub struct Tokens {
    path: Option<PathBuf>,
    state: Mutex<Loaded>,
}

struct Loaded {
    checked: Option<Instant>,
    stamp: Option<(SystemTime, u64)>,
    file: Result<TokenFile, String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("path", &self.path).finish()
    }
}

impl Tokens {
    /// The tokens of the file at `path`, re-read within a second of a change.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Tokens, Error> {
        let path = path.into();
        let file = TokenFile::load(&path)?;
        Ok(Tokens {
            state: Mutex::new(Loaded {
                checked: Some(Instant::now()),
                stamp: stamp(&path),
                file: Ok(file),
            }),
            path: Some(path),
        })
    }

    /// A fixed list (tests, embedding).
    pub fn fixed(file: TokenFile) -> Tokens {
        Tokens {
            path: None,
            state: Mutex::new(Loaded {
                checked: None,
                stamp: None,
                file: Ok(file),
            }),
        }
    }

    /// No tokens: every write is refused.
    pub fn none() -> Tokens {
        Tokens::fixed(TokenFile::default())
    }

    /// The entry of a presented token, or why there is none.
    pub fn verify(&self, presented: &str) -> Result<TokenEntry, String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &self.path {
            let due = state.checked.is_none_or(|t| t.elapsed() >= RELOAD_EVERY);
            if due {
                state.checked = Some(Instant::now());
                let now = stamp(path);
                if now != state.stamp || state.file.is_err() {
                    state.stamp = now;
                    state.file = TokenFile::load(path).map_err(|e| e.to_string());
                    match &state.file {
                        Ok(f) => tracing::info!(tokens = f.tokens.len(), "token file re-read"),
                        Err(e) => tracing::error!("{e}; every token is refused until it is mended"),
                    }
                }
            }
        }
        match &state.file {
            Err(_) => Err("the server's token list cannot be read".to_string()),
            Ok(file) => file
                .verify(presented)
                .cloned()
                .ok_or_else(|| "the token is not one this server knows".to_string()),
        }
    }
}

/// The modification time and length of a file, to tell when it changed.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_keeps_hashes_never_tokens() {
        let dir = tempfile_dir();
        let path = dir.join("tokens.json");
        let mut file = TokenFile::default();
        let token = file
            .create("ci", &[Scope::Write], &["fabrikam".to_string()])
            .unwrap();
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(token.expose()), "{text}");
        let secret = token.expose().rsplit('_').next().unwrap();
        assert!(!text.contains(secret));
        assert!(text.contains(&sha256_hex(token.expose())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(TokenFile::load(&path).unwrap(), file);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_token_is_verified_only_whole() {
        let mut file = TokenFile::default();
        let token = file.create("ci", &[Scope::Write], &["p".into()]).unwrap();
        let t = token.expose();
        assert!(file.verify(t).is_some());
        let mut altered = t.to_string();
        let last = altered.pop().unwrap();
        altered.push(if last == '0' { '1' } else { '0' });
        assert!(file.verify(&altered).is_none());
        assert!(file.verify(&t[..t.len() - 1]).is_none());
        assert!(file.verify("").is_none());
        assert_eq!(format!("{token:?}"), "***");
    }

    #[test]
    fn revoking_by_id_or_name_removes_the_token() {
        let mut file = TokenFile::default();
        let a = file.create("a", &[Scope::Write], &["p".into()]).unwrap();
        let b = file.create("b", &[Scope::Read], &["p".into()]).unwrap();
        let a_id = file.tokens[0].id.clone();
        assert_eq!(file.revoke(&a_id).unwrap().name, "a");
        assert!(file.verify(a.expose()).is_none());
        assert_eq!(file.revoke("b").unwrap().name, "b");
        assert!(file.verify(b.expose()).is_none());
        assert!(file.revoke("b").is_none());
        let e = file.create("", &[Scope::Write], &["p".into()]).unwrap_err();
        assert!(e.to_string().contains("name"), "{e}");
    }

    #[test]
    fn a_running_server_sees_a_revocation_and_refuses_all_while_the_file_is_broken() {
        let dir = tempfile_dir();
        let path = dir.join("tokens.json");
        let mut file = TokenFile::default();
        let token = file.create("ci", &[Scope::Write], &["p".into()]).unwrap();
        file.save(&path).unwrap();
        let tokens = Tokens::from_file(&path).unwrap();
        assert!(tokens.verify(token.expose()).is_ok());
        std::fs::write(&path, "{ not json").unwrap();
        std::thread::sleep(RELOAD_EVERY);
        assert_eq!(
            tokens.verify(token.expose()).unwrap_err(),
            "the server's token list cannot be read"
        );
        file.save(&path).unwrap();
        std::thread::sleep(RELOAD_EVERY);
        assert!(tokens.verify(token.expose()).is_ok());
        file.revoke("ci");
        file.save(&path).unwrap();
        std::thread::sleep(RELOAD_EVERY);
        assert!(tokens.verify(token.expose()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spektate-tokens-{}", random_hex(6).unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
