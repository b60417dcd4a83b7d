//! The GitHub Actions runner running `action.yml`, a composite action.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::job::{Run, agent_env, run_script, store_env, with_path};
use crate::pipeline_cache::Caches;
use crate::release::{repo, yaml};
use crate::template_values::{interpolate, only_keys, str_at, text, truthy};

/// A job on a GitHub-hosted Linux x64 runner, as far as an action sees it.
pub struct GitHubJob {
    root: PathBuf,
    env: BTreeMap<String, String>,
    caches: Caches,
}

/// The expressions action.yml may use, and their values in one run.
struct GitHubContext<'a> {
    inputs: &'a BTreeMap<String, String>,
    action_ref: &'a str,
    /// The outputs of the steps before, by id.
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl GitHubContext<'_> {
    fn lookup(&self, path: &str) -> String {
        match path.split('.').collect::<Vec<_>>().as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("action.yml declares no input {name}"))
                .clone(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .unwrap_or_else(|| panic!("{path}: no step {id} before"))
                .get(*name)
                .cloned()
                .unwrap_or_default(),
            ["github", "action_ref"] => self.action_ref.to_string(),
            ["runner", "os"] => "Linux".into(),
            ["runner", "arch"] => "X64".into(),
            _ => panic!("action.yml uses ${{{{ {path} }}}}, which this test does not evaluate"),
        }
    }

    /// A literal `'...'` or a context path.
    fn operand(&self, s: &str) -> String {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            assert!(!inner.replace("''", "").contains('\''), "expression {s}");
            return inner.replace("''", "'");
        }
        let is_path = s.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        });
        assert!(
            is_path,
            "action.yml uses the expression `{s}`, which this test does not evaluate"
        );
        self.lookup(s)
    }

    /// An expression: one operand, or two compared with `==` or `!=` (ignoring case, as
    /// GitHub compares strings).
    fn eval(&self, expr: &str) -> Value {
        let mut quoted = false;
        let bytes = expr.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'\'' => quoted = !quoted,
                b'=' | b'!' if !quoted && bytes.get(i + 1) == Some(&b'=') => {
                    let (a, b) = (self.operand(&expr[..i]), self.operand(&expr[i + 2..]));
                    let equal = a.to_lowercase() == b.to_lowercase();
                    return Value::Bool(if bytes[i] == b'=' { equal } else { !equal });
                }
                _ => {}
            }
        }
        Value::String(self.operand(expr))
    }

    fn interpolate(&self, s: &str) -> String {
        interpolate(s, |e| text(&self.eval(e)))
    }

    /// An `if:`, with or without `${{ }}` around it.
    fn condition(&self, cond: &str) -> bool {
        let c = cond.trim();
        let expr = match c.strip_prefix("${{").and_then(|c| c.strip_suffix("}}")) {
            Some(inner) => inner,
            None => {
                assert!(!c.contains("${{"), "`if: {c}` is a string, always true");
                c
            }
        };
        truthy(&self.eval(expr))
    }
}

impl GitHubJob {
    fn new(root: &Path, env: BTreeMap<String, String>) -> GitHubJob {
        GitHubJob {
            root: root.to_path_buf(),
            env,
            caches: Caches::new(root.join("actions-cache")),
        }
    }

    pub fn tool_cache(&self) -> PathBuf {
        self.root.join("toolcache")
    }

    /// Runs action.yml as `uses: spektate/spektate-rs@<action_ref>` with these inputs.
    pub fn run_action(&mut self, given: &[(&str, &str)], action_ref: &str) -> Run {
        let action = yaml("action.yml");
        assert_eq!(str_at(&action["runs"], "using"), Some("composite"));
        let declared = action["inputs"].as_mapping().expect("inputs");
        let mut inputs: BTreeMap<String, String> = declared
            .iter()
            .map(|(k, v)| (text(k), text(&v["default"])))
            .collect();
        for (k, v) in given {
            assert!(inputs.contains_key(*k), "action.yml has no input {k}");
            inputs.insert(k.to_string(), v.to_string());
        }
        let mut ctx = GitHubContext {
            inputs: &inputs,
            action_ref,
            steps: BTreeMap::new(),
        };
        let mut run = Run::default();
        let steps = action["runs"]["steps"].as_sequence().expect("steps");
        for (n, step) in steps.iter().enumerate() {
            only_keys(
                step,
                &["id", "name", "if", "shell", "env", "run", "uses", "with"],
            );
            let id = str_at(step, "id").map_or(format!("__{n}"), str::to_string);
            let name =
                ctx.interpolate(str_at(step, "name").or(str_at(step, "uses")).unwrap_or(&id));
            // Without a status function in `if:`, a step after a failure is skipped.
            let wanted = str_at(step, "if").is_none_or(|c| ctx.condition(c));
            let outputs = if run.failed.is_some() || !wanted {
                run.skipped.push(name);
                BTreeMap::new()
            } else if let Some(uses) = str_at(step, "uses") {
                self.cache_step(uses, step, &ctx, name, &mut run)
            } else {
                self.bash_step(n, step, &ctx, name, &mut run)
            };
            ctx.steps.insert(id, outputs);
        }
        self.caches.job_ended(run.failed.is_none());
        for (k, v) in action["outputs"].as_mapping().expect("outputs") {
            run.values
                .insert(text(k), ctx.interpolate(str_at(v, "value").unwrap()));
        }
        run
    }

    /// actions/cache, which cannot run here: a hit restores what an earlier run saved.
    fn cache_step(
        &mut self,
        uses: &str,
        step: &Value,
        ctx: &GitHubContext,
        name: String,
        run: &mut Run,
    ) -> BTreeMap<String, String> {
        assert!(uses.starts_with("actions/cache@"), "{uses} cannot run here");
        only_keys(&step["with"], &["path", "key"]);
        let with = |k: &str| ctx.interpolate(str_at(&step["with"], k).unwrap());
        let (path, key) = (PathBuf::from(with("path")), with("key"));
        let hit = self.caches.restore(&key, &path);
        run.ran.push((name, format!("cache {key}: hit {hit}\n")));
        BTreeMap::from([("cache-hit".to_string(), hit.to_string())])
    }

    /// A `run:` step, through `bash --noprofile --norc -eo pipefail` as the runner runs it;
    /// its outputs are read back from GITHUB_OUTPUT, and GITHUB_PATH goes to `run.path`.
    fn bash_step(
        &self,
        n: usize,
        step: &Value,
        ctx: &GitHubContext,
        name: String,
        run: &mut Run,
    ) -> BTreeMap<String, String> {
        assert_eq!(str_at(step, "shell"), Some("bash"), "{name}");
        let (temp, workspace) = (self.root.join("runner-temp"), self.root.join("work"));
        std::fs::create_dir_all(&temp).unwrap();
        let script = temp.join(format!("step-{n}.sh"));
        std::fs::write(&script, ctx.interpolate(str_at(step, "run").unwrap())).unwrap();
        let (output_file, path_file) = (temp.join("output"), temp.join("path"));
        std::fs::write(&output_file, "").unwrap();
        std::fs::write(&path_file, "").unwrap();
        let mut env = self.env.clone();
        with_path(&mut env, &run.path);
        for (k, v) in [
            ("GITHUB_OUTPUT", output_file.display().to_string()),
            ("GITHUB_PATH", path_file.display().to_string()),
            ("GITHUB_ACTION_PATH", repo().display().to_string()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("RUNNER_TEMP", temp.display().to_string()),
            ("RUNNER_TOOL_CACHE", self.tool_cache().display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
        ] {
            env.insert(k.into(), v);
        }
        if let Some(vars) = step["env"].as_mapping() {
            for (k, v) in vars {
                env.insert(text(k), ctx.interpolate(&text(v)));
            }
        }
        let shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"];
        let out = run_script(&shell, &script, &env, &workspace);
        run.errors
            .extend(workflow_errors(&String::from_utf8_lossy(&out.stdout)));
        let added = std::fs::read_to_string(&path_file).unwrap();
        run.path.extend(added.lines().map(str::to_string));
        run.record(&name, &out);
        github_outputs(&output_file)
    }
}

/// The messages of a step's `::error::` lines; no other workflow command is expected.
fn workflow_errors(stdout: &str) -> Vec<String> {
    let commands = stdout.lines().filter_map(|l| l.strip_prefix("::"));
    commands
        .map(|command| match command.split_once("::") {
            Some((head, message)) if head.split(' ').next() == Some("error") => message.to_string(),
            _ => panic!("workflow command ::{command} is not run by this test"),
        })
        .collect()
}

/// The `name=value` lines of a GITHUB_OUTPUT file.
fn github_outputs(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .map(|line| {
            let (k, v) = line
                .split_once('=')
                .filter(|(k, _)| !k.contains("<<"))
                .unwrap_or_else(|| panic!("GITHUB_OUTPUT line {line} is not name=value"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A GitHub job whose store and release server are in `root`.
pub fn github_job(root: &Path, releases: &str) -> GitHubJob {
    let mut env = agent_env(root);
    env.extend(store_env(root));
    env.insert(
        "SPEKTATE_RELEASES_URL".into(),
        format!("{releases}/releases"),
    );
    GitHubJob::new(root, env)
}
