//! The repository and this build as a release: version, host target, stripped binary, archive.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A YAML file of the repository, by its path from the root.
pub fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The workspace version, as `spektate --version` prints it.
pub fn version() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .strip_prefix("spektate ")
        .expect("spektate X.Y.Z")
        .to_string()
}

/// The target triple this machine builds for.
pub fn host_target() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// The name `install.sh` and `cargo binstall` give this machine's archive of `version`,
/// without `.tar.gz`: `spektate-X.Y.Z-TARGET`, also the folder inside it.
pub fn archive_name(version: &str) -> String {
    format!("spektate-{version}-{}", host_target())
}

/// Writes the test build to `to` without its debug info, so an archive of it is made in a
/// moment.
pub fn strip_build(to: &Path) {
    let mut strip = Command::new("strip");
    strip.arg("-o").arg(to).arg(env!("CARGO_BIN_EXE_spektate"));
    assert!(strip.status().unwrap().success(), "{strip:?}");
}

/// `binary --version` prints `spektate {version}`.
pub fn assert_prints_version(binary: &Path, version: &str) {
    let out = Command::new(binary).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("spektate {version}")
    );
}
