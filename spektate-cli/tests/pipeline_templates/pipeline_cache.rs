//! The pipeline cache between runs: a folder saved under a key, restored on a hit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pipeline cache between runs: a folder saved under a key after a job whose cache step
/// missed, restored on a later hit.
pub struct Caches {
    store: PathBuf,
    saved: BTreeMap<String, PathBuf>,
    /// What this job's cache steps missed, saved when the job succeeds.
    missed: Vec<(String, PathBuf)>,
}

impl Caches {
    pub fn new(store: PathBuf) -> Caches {
        Caches {
            store,
            saved: BTreeMap::new(),
            missed: Vec::new(),
        }
    }

    /// Puts the folder saved under `key` at `path`, replacing what is there (a fresh agent
    /// would have nothing); false on a miss.
    pub fn restore(&mut self, key: &str, path: &Path) -> bool {
        let Some(saved) = self.saved.get(key) else {
            self.missed.push((key.to_string(), path.to_path_buf()));
            return false;
        };
        if path.exists() {
            std::fs::remove_dir_all(path).unwrap();
        }
        copy_dir(saved, path);
        true
    }

    /// The cache steps' post-job part: a job that succeeded saves what they missed.
    pub fn job_ended(&mut self, succeeded: bool) {
        for (key, path) in std::mem::take(&mut self.missed) {
            if !succeeded {
                continue;
            }
            assert!(
                path.is_dir(),
                "the cached path {} is not there",
                path.display()
            );
            let to = self.store.join(self.saved.len().to_string());
            copy_dir(&path, &to);
            self.saved.insert(key, to);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success(), "cp -a {} {}", from.display(), to.display());
}
