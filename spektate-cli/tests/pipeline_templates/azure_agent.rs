//! The Azure Pipelines agent running the steps template `ci/azure-pipelines/spektate-record.yml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_norway::{Mapping, Value};

use crate::azure_expressions::{az_eval, compile};
use crate::job::{Run, agent_env, run_script, store_env, with_path};
use crate::pipeline_cache::Caches;
use crate::release::yaml;
use crate::template_values::{only_keys, str_at, text, truthy};

/// Pipeline variables, named without regard to case as Azure names them.
#[derive(Default)]
struct Variables(BTreeMap<String, (String, String)>);

impl Variables {
    fn set(&mut self, name: &str, value: &str) {
        self.0
            .insert(name.to_lowercase(), (name.to_string(), value.to_string()));
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_lowercase()).map(|(_, v)| v.as_str())
    }

    /// Each variable as the agent puts it in a step's environment: `Agent.OS` as `AGENT_OS`.
    fn env(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.0
            .values()
            .map(|(k, v)| (k.to_uppercase().replace(['.', ' '], "_"), v.clone()))
    }

    /// Replaces each `$(name)` macro by its variable. A name with no variable is left as it
    /// is, as Azure leaves it, unless `strict`: in a script that is more likely a mistake.
    fn expand(&self, text: &str, strict: bool) -> String {
        static MACRO: OnceLock<Regex> = OnceLock::new();
        let re = MACRO.get_or_init(|| Regex::new(r"\$\(([A-Za-z0-9_][A-Za-z0-9_.\-]*)\)").unwrap());
        re.replace_all(text, |c: &Captures| match self.get(&c[1]) {
            Some(v) => v.to_string(),
            None if !strict => c[0].to_string(),
            None => panic!("$({}) is no variable here: {text}", &c[1]),
        })
        .into_owned()
    }
}

/// A job on a Microsoft-hosted Linux x64 agent, as far as a steps template sees it.
pub struct AzureJob {
    root: PathBuf,
    env: BTreeMap<String, String>,
    variables: Vec<(String, String)>,
    caches: Caches,
    /// A URL prefix in scripts, and the one it is fetched from here.
    rewrite: Option<(String, String)>,
}

impl AzureJob {
    pub fn workspace(&self) -> PathBuf {
        self.root.join("pipeline")
    }

    fn temp(&self) -> PathBuf {
        self.root.join("agent-temp")
    }

    /// The agent's predefined variables the template uses, and the job's own.
    fn variables(&self) -> Variables {
        let mut vars = Variables::default();
        let workspace = self.workspace().display().to_string();
        vars.set("Pipeline.Workspace", &workspace);
        vars.set("System.DefaultWorkingDirectory", &format!("{workspace}/s"));
        vars.set("Agent.TempDirectory", &self.temp().display().to_string());
        vars.set("Agent.OS", "Linux");
        vars.set("Agent.OSArchitecture", "X64");
        for (k, v) in &self.variables {
            vars.set(k, v);
        }
        vars
    }

    /// Runs the template's steps with these parameters.
    pub fn run_template(&mut self, given: &[(&str, Value)]) -> Run {
        let steps = compile(&yaml("ci/azure-pipelines/spektate-record.yml"), given);
        let mut vars = self.variables();
        let mut run = Run::default();
        for (n, step) in steps.iter().enumerate() {
            only_keys(
                step,
                &["bash", "task", "displayName", "env", "condition", "inputs"],
            );
            let shown = str_at(step, "displayName")
                .or(str_at(step, "task"))
                .unwrap_or("bash");
            let name = vars.expand(shown, false);
            let condition = str_at(step, "condition").unwrap_or("succeeded()");
            let variable = |n: &str| match n.strip_prefix("variables.") {
                Some(v) => vars.get(v).map_or(Value::Null, Value::from),
                None => panic!("{n} in condition {condition} is not evaluated by this test"),
            };
            if !truthy(&az_eval(condition, &variable, Some(run.failed.is_none()))) {
                run.skipped.push(name);
            } else if let Some(task) = str_at(step, "task") {
                self.cache_task(task, step, &mut vars, name, &mut run);
            } else {
                self.bash_step(n, step, &mut vars, name, &mut run);
            }
        }
        self.caches.job_ended(run.failed.is_none());
        run
    }

    /// Cache@2, which cannot run here: a hit restores what an earlier run saved.
    fn cache_task(
        &mut self,
        task: &str,
        step: &Value,
        vars: &mut Variables,
        name: String,
        run: &mut Run,
    ) {
        assert_eq!(task, "Cache@2", "{task} cannot run here");
        only_keys(&step["inputs"], &["key", "path", "cacheHitVar"]);
        let input = |k: &str| vars.expand(str_at(&step["inputs"], k).unwrap(), true);
        let key: Vec<String> = input("key")
            .split('|')
            .map(|part| part.trim().trim_matches('"').to_string())
            .collect();
        let (key, path, hit_var) = (
            key.join("|"),
            PathBuf::from(input("path")),
            input("cacheHitVar"),
        );
        let hit = self.caches.restore(&key, &path);
        vars.set(&hit_var, &hit.to_string());
        run.values.insert(hit_var, hit.to_string());
        run.ran.push((name, format!("cache {key}: hit {hit}\n")));
    }

    /// A `bash:` step: the Bash task runs its inline script from a file, without -e, with every
    /// variable in its environment, and acts on the `##vso[...]` lines it prints.
    fn bash_step(&self, n: usize, step: &Value, vars: &mut Variables, name: String, run: &mut Run) {
        let mut script = vars.expand(str_at(step, "bash").expect("a bash step"), true);
        if let Some((from, to)) = &self.rewrite {
            run.rewritten += script.matches(from.as_str()).count();
            script = script.replace(from.as_str(), to);
        }
        std::fs::create_dir_all(self.temp()).unwrap();
        let file = self.temp().join(format!("step-{n}.sh"));
        std::fs::write(&file, script).unwrap();
        let mut env = self.env.clone();
        env.extend(vars.env());
        with_path(&mut env, &run.path);
        if let Some(step_env) = step["env"].as_mapping() {
            for (k, v) in step_env {
                env.insert(text(k), vars.expand(&text(v), true));
            }
        }
        let cwd = PathBuf::from(vars.get("System.DefaultWorkingDirectory").unwrap());
        let out = run_script(&["bash", "--noprofile", "--norc"], &file, &env, &cwd);
        logging_commands(&String::from_utf8_lossy(&out.stdout), vars, run);
        run.record(&name, &out);
    }
}

/// Acts on the `##vso[...]` lines of a step's output: setvariable, prependpath and error
/// issues; no other logging command is expected.
fn logging_commands(stdout: &str, vars: &mut Variables, run: &mut Run) {
    for line in stdout.lines() {
        let Some(command) = line.trim_start().strip_prefix("##vso[") else {
            continue;
        };
        let (head, message) = command.split_once(']').expect("##vso[...]");
        match head.split_once(' ').unwrap_or((head, "")) {
            ("task.setvariable", props) => {
                let var = props.strip_prefix("variable=").expect(line);
                assert!(
                    !var.contains(';'),
                    "{line}: properties not run by this test"
                );
                vars.set(var, message);
                run.values.insert(var.to_string(), message.to_string());
            }
            ("task.prependpath", "") => run.path.push(message.to_string()),
            ("task.logissue", "type=error") => run.errors.push(message.to_string()),
            _ => panic!("logging command {line} is not run by this test"),
        }
    }
}

/// An Azure job whose store and release server are in `root`.
pub fn azure_job(root: &Path, server: &str) -> AzureJob {
    AzureJob {
        root: root.to_path_buf(),
        env: agent_env(root),
        variables: vec![("SPEKTATE_RELEASES_URL".into(), format!("{server}/releases"))],
        caches: Caches::new(root.join("pipeline-caches")),
        rewrite: Some((
            "https://raw.githubusercontent.com/".into(),
            format!("{server}/raw.githubusercontent.com/"),
        )),
    }
}

/// The template's `env` parameter: the job's store settings.
pub fn env_parameter(root: &Path) -> Value {
    let mut env = Mapping::new();
    for (k, v) in store_env(root) {
        env.insert(k.into(), v.into());
    }
    Value::Mapping(env)
}
