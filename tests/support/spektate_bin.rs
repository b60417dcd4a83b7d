//! The workspace's `spektate` binary for the provider crates' CLI tests, which include this
//! file (`#[path]`): a test cannot depend on another package's binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `spektate` binary of this workspace, built once per test binary.
pub fn spektate_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // scripts/build-bins.sh selects what `cargo test --workspace --all-features` selects, so
        // inside that run it compiles nothing.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-bins.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .env("CARGO", env!("CARGO"))
            .status()
            .expect("bash runs");
        assert!(status.success(), "building the spektate binary failed");
        // Tests run from target/<profile>/deps/; the binary is in target/<profile>/.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = dir.join(format!("spektate{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
}
