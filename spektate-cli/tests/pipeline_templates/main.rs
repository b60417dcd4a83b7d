//! The GitHub Action and the Azure Pipelines template, run offline as their runners run them.
//!
//! The pipeline steps README names are run on this machine: the GitHub Action (`action.yml`, a
//! composite action) and the Azure Pipelines template (`ci/azure-pipelines/spektate-record.yml`).
//!
//! This build is served on 127.0.0.1 as a release (`spektate-X.Y.Z-TARGET.tar.gz` and its
//! `.sha256`, made as `scripts/release-check.sh` makes them, with `install.sh` at its
//! raw.githubusercontent.com path). Each template is evaluated as its runner evaluates it —
//! GitHub's `${{ }}` expressions, `if:`, `GITHUB_OUTPUT` and `GITHUB_PATH`; Azure's template
//! expressions, `$(macros)`, `##vso` logging commands and `condition:` — failing on any
//! expression these runners do not know, and its scripts run with bash. Each run installs the
//! binary, puts it on PATH and records a step whose arguments are split as a shell quotes them
//! and never expanded: the record is read back from the store with its image tag intact. A
//! second run restores the cache, skips the install and downloads nothing; a version that is
//! not X.Y.Z stops at the version step with the template's error line. The templates' xargs
//! options are read as BSD xargs (macOS) reads them, and their usage examples and the docs'
//! give `args` no shell variable, which nothing would expand. `install.sh` is run with a
//! `curl` that records its arguments: downloads are HTTPS only unless the mirror is http://.

#[path = "../common/release.rs"]
mod release;

mod azure_agent;
mod azure_expressions;
mod github_runner;
mod install_script;
mod job;
mod pipeline_cache;
mod release_server;
mod template_values;

use std::path::{Path, PathBuf};

use regex::Regex;
use serde_norway::Value;

use azure_agent::{azure_job, env_parameter};
use github_runner::github_job;
use job::{Run, deployments};
use release::{assert_prints_version, repo};
use release_server::{ServedRelease, Server};

/// The `args` both templates are given: a quoted space, and `$HOME`, which must reach the
/// command as written.
const ARGS: &str = r#"record --p1 4242 --image-tag "frontend 4242 $HOME" --commit-id e3d6504 --service fabrikam/frontend"#;
/// The image tag as the store keeps it (every recorded value is trimmed and lower-cased).
const STORED_TAG: &str = "frontend 4242 $home";
/// Where nothing listens: nothing may be downloaded.
const NOWHERE: &str = "http://127.0.0.1:9";
/// The GitHub Action and the Azure Pipelines template.
const TEMPLATES: [&str; 2] = ["action.yml", "ci/azure-pipelines/spektate-record.yml"];
/// ARG_MAX on macOS: the most bytes, so the most arguments, one command line holds there
/// (GNU xargs uses 128 KiB at most).
const ARG_MAX: u64 = 1 << 20;

/// What both templates' runs are checked against: their five steps, named alike but for the
/// cache step, which install `version` into `bin_dir`.
struct Expected {
    version: String,
    bin_dir: PathBuf,
    cache: String,
    install: String,
    record: String,
}

impl Expected {
    fn new(version: &str, bin_dir: PathBuf, cache: &str) -> Expected {
        Expected {
            version: version.to_string(),
            bin_dir,
            cache: cache.to_string(),
            install: format!("Install spektate {version}"),
            record: format!("spektate {ARGS}"),
        }
    }

    /// A first run: every step ran, the folder went on PATH, `spektate --version` ran from it,
    /// and the record step printed its row key, which is returned.
    fn first_run(&self, run: &Run) -> String {
        assert_eq!(run.failed, None, "{}", run.log());
        assert_eq!(
            run.names(),
            [
                "Spektate version",
                self.cache.as_str(),
                self.install.as_str(),
                "spektate on PATH",
                self.record.as_str()
            ],
            "{}",
            run.log()
        );
        assert_eq!(run.path, [self.bin_dir.display().to_string()]);
        assert!(
            run.output_of("spektate on PATH")
                .contains(&format!("spektate {}\n", self.version)),
            "{}",
            run.log()
        );
        let key = run.output_of(&self.record).trim().to_string();
        assert_eq!(key.len(), 12, "record prints the row key: {}", run.log());
        key
    }

    /// A run from the cache: the install is skipped, the folder is on PATH again, the record
    /// step updated the row `key`, and nothing was downloaded.
    fn cached_run(&self, run: &Run, key: &str, server: &Server) {
        assert_eq!(run.failed, None, "{}", run.log());
        assert_eq!(run.skipped, [self.install.as_str()], "{}", run.log());
        assert_eq!(run.path, [self.bin_dir.display().to_string()]);
        assert_eq!(run.output_of(&self.record).trim(), key, "{}", run.log());
        assert_eq!(server.asked(), Vec::<String>::new());
    }

    /// After the last run, which downloaded nothing: the folder holds this build, and the job's
    /// store the one record.
    fn finished(&self, server: &Server, root: &Path) {
        assert_eq!(server.asked(), Vec::<String>::new());
        assert_prints_version(&self.bin_dir.join("spektate"), &self.version);
        assert_recorded(root);
    }
}

/// The one recorded deployment has the arguments as given, `$HOME` not expanded.
fn assert_recorded(root: &Path) {
    let ds = deployments(root);
    assert_eq!(ds.len(), 1, "one record, updated by each run: {ds:#?}");
    let d = &ds[0];
    assert_eq!(d["imageTag"], STORED_TAG, "{d:#}");
    assert_eq!(d["image"]["id"], "4242");
    assert_eq!(d["commitId"], "e3d6504");
    assert_eq!(d["record"]["service"], "fabrikam/frontend");
}

/// A run given version 1.2 failed at the version step, which printed `error_command` with the
/// error, and nothing after it ran.
fn assert_stopped_at_version(run: &Run, error_command: &str) {
    let error = "spektate version '1.2' is not X.Y.Z";
    let line = format!("{error_command}{error}");
    assert_eq!(run.failed.as_deref(), Some("Spektate version"));
    assert_eq!(run.names(), ["Spektate version"]);
    assert_eq!(run.skipped.len(), 4, "{:?}", run.skipped);
    assert!(
        run.output_of("Spektate version").lines().any(|l| l == line),
        "{}",
        run.log()
    );
    assert_eq!(run.errors, [error]);
}

#[test]
fn the_github_action_installs_spektate_cached_and_records_a_step() {
    let release = ServedRelease::start();
    let (version, server, root) = (&release.version, &release.server, &release.job_root);
    let mut job = github_job(root, &server.url());
    let bin_dir = job.tool_cache().join(format!("spektate/{version}/X64"));
    let expected = Expected::new(version, bin_dir, "actions/cache@v5");
    let given = [("version", version.as_str()), ("args", ARGS)];
    let action_ref = format!("v{version}");

    let first = job.run_action(&given, &action_ref);
    let key = expected.first_run(&first);
    assert_eq!(first.values["version"], *version);
    assert_eq!(server.asked(), release.archive_paths());

    // The same job again: the cache restores the folder, nothing is downloaded.
    let second = job.run_action(&given, &action_ref);
    expected.cached_run(&second, &key, server);
    assert!(second.output_of("actions/cache@v5").contains("hit true"));
    assert_eq!(second.values["version"], *version);

    // No inputs at spektate/spektate-rs@vX.Y.Z: that version, from the cache, and no command.
    let third = job.run_action(&[], &action_ref);
    assert_eq!(third.failed, None, "{}", third.log());
    assert_eq!(third.values["version"], *version);
    assert_eq!(third.skipped, [expected.install.as_str(), "spektate "]);
    expected.finished(server, root);
}

#[test]
fn the_github_action_stops_at_a_version_that_is_not_x_y_z() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = github_job(dir.path(), NOWHERE);
    let run = job.run_action(&[("version", "1.2"), ("args", ARGS)], "v1.2");
    assert_stopped_at_version(&run, "::error::");
    assert!(!job.tool_cache().exists());
}

#[test]
fn the_azure_pipelines_template_installs_spektate_cached_and_records_a_step() {
    let release = ServedRelease::start();
    let (version, server, root) = (&release.version, &release.server, &release.job_root);
    // The install step fetches install.sh from raw.githubusercontent.com, out of reach here:
    // only that URL's prefix is rewritten to the local server, which serves the repository's
    // scripts/install.sh at the same path.
    let mut job = azure_job(root, &server.url());
    let bin_dir = job.workspace().join(format!(".spektate/{version}"));
    let expected = Expected::new(version, bin_dir, &format!("Cache spektate {version}"));
    let given = [
        ("version", Value::from(version.as_str())),
        ("args", Value::from(ARGS)),
        ("env", env_parameter(root)),
    ];

    let first = job.run_template(&given);
    let key = expected.first_run(&first);
    assert_eq!(
        first.rewritten, 1,
        "install.sh's URL is in the install step"
    );
    assert_eq!(first.values["SPEKTATE_VERSION_RESOLVED"], *version);
    assert_eq!(first.values["SPEKTATE_CACHE_RESTORED"], "false");
    let script =
        format!("/raw.githubusercontent.com/spektate/spektate-rs/v{version}/scripts/install.sh");
    let [archive, sha256] = release.archive_paths();
    assert_eq!(server.asked(), [script, archive, sha256]);

    // The same job again: the Cache task restores the folder, nothing is downloaded.
    let second = job.run_template(&given);
    expected.cached_run(&second, &key, server);
    assert_eq!(second.values["SPEKTATE_CACHE_RESTORED"], "true");

    // Without args, the command's step is not in the job at all.
    let third = job.run_template(&[("version", Value::from(version.as_str()))]);
    assert_eq!(third.failed, None, "{}", third.log());
    assert_eq!(
        third.names(),
        [
            "Spektate version",
            expected.cache.as_str(),
            "spektate on PATH"
        ]
    );
    assert_eq!(third.skipped, [expected.install.as_str()]);
    expected.finished(server, root);
}

#[test]
fn the_azure_pipelines_template_stops_at_a_version_that_is_not_x_y_z() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = azure_job(dir.path(), NOWHERE);
    let run = job.run_template(&[
        ("version", Value::from("1.2")),
        ("args", Value::from(ARGS)),
        ("env", env_parameter(dir.path())),
    ]);
    assert_stopped_at_version(&run, "##vso[task.logissue type=error]");
    assert!(!job.workspace().join(".spektate").exists());
}

/// The options of each `xargs` command in a template's scripts (comments left out), with
/// their values.
fn xargs_options(text: &str) -> Vec<Vec<(String, Option<String>)>> {
    let with_value = ["-n", "-s", "-L", "-I", "-E", "-P", "-d", "-a"];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("xargs ").map(|(_, rest)| rest))
        .map(|rest| {
            let mut options = Vec::new();
            let mut words = rest.split_whitespace();
            while let Some(w) = words.next().filter(|w| w.starts_with('-')) {
                let value = with_value
                    .contains(&w)
                    .then(|| words.next().unwrap().to_string());
                options.push((w.to_string(), value));
            }
            options
        })
        .collect()
}

#[test]
fn both_templates_give_xargs_options_bsd_xargs_takes_too() {
    for file in TEMPLATES {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let calls = xargs_options(&text);
        assert!(!calls.is_empty(), "{file} runs no xargs");
        for options in calls {
            if !options.iter().any(|(o, _)| o == "-x") {
                continue;
            }
            // BSD xargs refuses -x without -n (usage, exit 1).
            let n = options
                .iter()
                .find(|(o, _)| o == "-n")
                .and_then(|(_, v)| v.as_deref())
                .unwrap_or_else(|| panic!("{file}: xargs -x without -n: {options:?}"));
            let n: u64 = n.parse().unwrap();
            assert!(
                n >= ARG_MAX,
                "{file}: xargs -n {n} would split more arguments over two runs before -x stops it"
            );
        }
    }
}

#[test]
fn the_usage_examples_give_args_no_shell_variable() {
    // `args` reach the command as written: only the runner's own expressions (`${{ }}`,
    // Azure's `$(macro)`) are filled in, before the step runs.
    let shell_variable = Regex::new(r"\$(\{[A-Za-z_]|[A-Za-z_])").unwrap();
    let example = Regex::new(r"(?m)^[#\s]*args: (record .*)$").unwrap();
    let mut found = 0;
    for file in TEMPLATES.into_iter().chain([
        "docs/pipelines/github-actions.md",
        "docs/pipelines/azure-pipelines.md",
    ]) {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        for args in example.captures_iter(&text) {
            found += 1;
            assert!(
                !shell_variable.is_match(&args[1]),
                "{file}: the example's args name a shell variable, passed on as written: {}",
                &args[1]
            );
        }
    }
    assert!(found >= TEMPLATES.len(), "{found} examples");
}
