//! `.github/workflows/release.yml` against what README says a release does and what the
//! installers expect. No runner is here, so the workflow is parsed: its binary targets, the
//! jobs that publish (crates.io and PyPI by trusted publishing, npm with provenance, the
//! image on ghcr.io tagged with the version, the GitHub release after all of them), and the
//! archive step, which is run as the runner runs it (bash, its environment) on this
//! machine's binary: the archive it makes is the one `scripts/install.sh` and
//! `cargo binstall` download, holding `spektate` where they look for it, and its sha256 file
//! checks.

#[path = "common/release.rs"]
mod release;

use std::process::Command;

use serde_norway::Value;

use release::{archive_name, assert_prints_version, host_target, repo, strip_build, version, yaml};

fn workflow() -> Value {
    yaml(".github/workflows/release.yml")
}

fn job<'a>(w: &'a Value, name: &str) -> &'a Value {
    w["jobs"]
        .get(name)
        .unwrap_or_else(|| panic!("release.yml has no job {name}"))
}

/// The `run` scripts and `uses` actions of a job's steps, one text.
fn steps_text(job: &Value) -> String {
    job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .map(|s| {
            format!(
                "{} {}\n",
                s["uses"].as_str().unwrap_or_default(),
                s["run"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn needs(job: &Value) -> Vec<&str> {
    job["needs"]
        .as_sequence()
        .map(|n| n.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn id_token(job: &Value) -> bool {
    job["permissions"]["id-token"].as_str() == Some("write")
}

#[test]
fn the_binaries_cover_linux_gnu_and_musl_macos_and_windows() {
    let w = workflow();
    let targets: Vec<&str> = job(&w, "binaries")["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a matrix of targets")
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    for wanted in [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(
            targets.contains(&wanted),
            "{wanted} is not built: {targets:?}"
        );
    }
}

#[test]
fn every_registry_is_published_to_as_readme_says_and_the_release_comes_last() {
    let w = workflow();
    let built = ["binaries", "wheels", "sdist", "node"];
    let crates = job(&w, "crates");
    assert!(id_token(crates), "crates.io by trusted publishing");
    let text = steps_text(crates);
    assert!(text.contains("rust-lang/crates-io-auth-action@"), "{text}");
    assert!(
        text.contains("cargo publish --workspace --locked"),
        "{text}"
    );

    let pypi = job(&w, "pypi");
    assert!(id_token(pypi), "PyPI by trusted publishing");
    assert!(steps_text(pypi).contains("pypa/gh-action-pypi-publish@"));

    let npm = job(&w, "npm");
    assert!(id_token(npm), "npm provenance needs the OIDC token");
    assert!(steps_text(npm).contains("npm publish --provenance"));

    let image = job(&w, "image");
    let push = image["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action@"))
        })
        .expect("the image is built and pushed");
    assert_eq!(push["with"]["push"].as_bool(), Some(true));
    let tags = push["with"]["tags"].as_str().unwrap_or_default();
    assert!(
        tags.lines().any(|t| t.trim()
            == "ghcr.io/${{ github.repository_owner }}/spektate:${{ needs.check.outputs.version }}"),
        "tagged with the version on ghcr.io: {tags}"
    );

    for name in ["crates", "pypi", "npm", "image"] {
        let n = needs(job(&w, name));
        assert!(
            built.iter().all(|b| n.contains(b)),
            "{name} waits for every build: {n:?}"
        );
    }
    let release = job(&w, "github-release");
    let n = needs(release);
    for published in ["crates", "pypi", "npm", "image"] {
        assert!(
            n.contains(&published),
            "the release waits for {published}: {n:?}"
        );
    }
    assert!(steps_text(release).contains("gh release create \"v${VERSION}\""));
}

#[test]
fn the_archive_step_makes_the_archive_install_sh_and_binstall_fetch() {
    let w = workflow();
    let step = job(&w, "binaries")["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("Archive and sha256"))
        .expect("the archive step");
    assert_eq!(step["shell"].as_str(), Some("bash"));
    let script = step["run"].as_str().unwrap();

    // The checkout as the step finds it: the docs at the root, the build under target/.
    let (version, target) = (version(), host_target());
    let dir = tempfile::tempdir().unwrap();
    for doc in ["README.md", "CHANGELOG.md", "LICENSE"] {
        std::fs::copy(repo().join(doc), dir.path().join(doc)).unwrap();
    }
    let built = dir.path().join(format!("target/{target}/release"));
    std::fs::create_dir_all(&built).unwrap();
    strip_build(&built.join("spektate"));
    let ran = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("VERSION", &version)
        .env("TARGET", &target)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "the step failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );

    // install.sh's name for this machine's archive, and binstall's bin-dir inside it.
    let name = archive_name(&version);
    let dist = dir.path().join("dist");
    let checked = Command::new("sha256sum")
        .args(["-c", &format!("{name}.tar.gz.sha256")])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(dist.join(format!("{name}.tar.gz")))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(tar.success());
    assert_prints_version(&unpacked.join(&name).join("spektate"), &version);
    for doc in ["README.md", "CHANGELOG.md", "LICENSE"] {
        assert!(
            unpacked.join(&name).join(doc).is_file(),
            "{doc} is in the archive"
        );
    }
    let install = std::fs::read_to_string(repo().join("scripts/install.sh")).unwrap();
    assert!(
        install.contains(r#"url="$releases/download/v$version/$name.tar.gz""#),
        "install.sh downloads another name"
    );
    // install.sh's releases are those of the repository binstall's `{ repo }` stands for.
    let workspace = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let repository = workspace
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the workspace names its repository");
    assert!(
        install.contains(&format!(
            "releases=${{SPEKTATE_RELEASES_URL:-{repository}/releases}}"
        )),
        "install.sh downloads from another repository than {repository}"
    );
    let cargo = std::fs::read_to_string(repo().join("spektate-cli/Cargo.toml")).unwrap();
    assert!(cargo.contains(
        r#"pkg-url = "{ repo }/releases/download/v{ version }/spektate-{ version }-{ target }.tar.gz""#
    ));
    assert!(cargo.contains(r#"bin-dir = "spektate-{ version }-{ target }/{ bin }{ binary-ext }""#));
}
