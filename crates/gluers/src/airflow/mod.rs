//! Airflow DAG files from gluers DAGs (`airflow generate`).
//!
//! One Python file per DAG: one Airflow task per gluers task, work tasks in
//! the DAG's order and evaluation tasks last, chained one after the other.
//! Each runs `dag LABEL --task T --retry RUN_FOLDER`, where the run folder
//! is an Airflow template derived from the Airflow run (see
//! [`DEFAULT_RUN_FOLDER`](crate::settings::DEFAULT_RUN_FOLDER)): the first
//! task creates it, the others reuse its context, and evaluation tasks add
//! their metrics to its `metrics.json`.
//!
//! The built-in templates (`kubernetes_pod.py.j2`, `bash.py.j2`) are
//! embedded in the binary; `[airflow] template` names a project's own,
//! rendered with the same variables (documented on [`render`]).

mod python;

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::dag::Dag;
use crate::error::{GluersError, Result};
use crate::settings::{one_line, AirflowOperator, AirflowSettings, PodResources};

const POD_TEMPLATE: &str = include_str!("kubernetes_pod.py.j2");
const BASH_TEMPLATE: &str = include_str!("bash.py.j2");

/// Where the generated files run the project: what the defaults of
/// `[airflow] command` and `working_dir` come from.
#[derive(Clone, Debug)]
pub struct ProjectInfo {
    /// The project's name (its binary on a pod image's PATH).
    pub name: String,
    /// The project folder (where bash tasks run by default).
    pub dir: PathBuf,
    /// This binary's absolute path (what bash tasks run by default).
    pub exe: PathBuf,
    /// The settings file, named in error messages.
    pub settings_file: PathBuf,
}

/// One generated Airflow DAG file.
#[derive(Clone, Debug, PartialEq)]
pub struct AirflowDag {
    /// The Airflow DAG id (`<prefix>_<label>` or the label).
    pub dag_id: String,
    /// The file name to write it under, `<dag_id>.py`.
    pub file_name: String,
    /// The Python source.
    pub source: String,
}

#[derive(Serialize)]
struct TaskView<'a> {
    task_id: &'a str,
    kind: &'static str,
    /// The arguments after the program, up to the run folder.
    args: Vec<String>,
    /// The whole shell command for bash, the run folder read from
    /// `$GLUERS_RUN_FOLDER` (which Airflow renders into the task's
    /// environment, so no quoting of the rendered text is needed).
    bash_command: String,
}

#[derive(Debug, Serialize)]
struct StartDate {
    year: i16,
    month: i8,
    day: i8,
    text: String,
}

/// Renders the Airflow DAG file of `dag`.
///
/// A template (built-in or `[airflow] template`) sees: `dag_id`, `label`,
/// `description` (or none), `operator` (`kubernetes_pod` or `bash`),
/// `schedule` (or none), `start_date` (`.year`, `.month`, `.day`, `.text`),
/// `run_folder` (an Airflow template string), `program` (a list: the command
/// that runs the project binary), `working_dir`, `tasks` (each with
/// `task_id`, `kind` = `work` or `eval`, `args`: the arguments after the
/// program without the run folder, and `bash_command`), `image`,
/// `namespace`, `image_pull_policy`, `config_maps`, `resources`
/// (`.requests`, `.limits`), `kube_config` (or none), `in_cluster`,
/// `gluers_version`; and the filter `py`, which writes any value as a
/// Python literal.
pub fn render(dag: &Dag, settings: &AirflowSettings, project: &ProjectInfo) -> Result<AirflowDag> {
    let bad = |message: String| GluersError::Settings {
        path: project.settings_file.clone(),
        message,
    };
    let label = dag.label();
    let dag_id = if settings.dag_prefix.is_empty() {
        label.to_string()
    } else {
        format!("{}_{label}", settings.dag_prefix)
    };
    if !is_airflow_key(&dag_id) {
        return Err(bad(format!(
            "[airflow] DAG id '{dag_id}' (DAG '{label}') is not a valid Airflow id: use letters, digits, '_', '.' and '-' in dag_prefix and the DAG label, at most 250 characters"
        )));
    }
    let overrides = settings.dags.get(label);
    let schedule = overrides
        .and_then(|o| o.schedule.clone())
        .or_else(|| settings.schedule.clone());
    let template_path = overrides
        .and_then(|o| o.template.clone())
        .or_else(|| settings.template.clone());
    let start_date = parse_start_date(&settings.start_date).map_err(bad)?;
    if settings.run_folder.trim().is_empty() {
        return Err(bad(
            "[airflow] run_folder is empty: remove it to use the default, or give an Airflow template such as \"runs/{{ ds }}/{{ run_id }}\"".into(),
        ));
    }
    let program: Vec<String> = if settings.command.is_empty() {
        match settings.operator {
            AirflowOperator::KubernetesPod => vec![project.name.clone()],
            AirflowOperator::Bash => vec![project.exe.to_string_lossy().into_owned()],
        }
    } else {
        settings.command.clone()
    };
    if settings.operator == AirflowOperator::KubernetesPod {
        check_pod_settings(settings).map_err(bad)?;
    }
    let working_dir = match &settings.working_dir {
        Some(dir) => project.dir.join(dir),
        None => project.dir.clone(),
    };

    let labels: Vec<(&str, &'static str)> = dag
        .task_labels()
        .map(|l| (l, "work"))
        .chain(dag.eval_task_labels().map(|l| (l, "eval")))
        .collect();
    if labels.is_empty() {
        return Err(GluersError::Usage(format!(
            "DAG '{label}' has no tasks: there is nothing for Airflow to run"
        )));
    }
    let mut tasks = Vec::with_capacity(labels.len());
    for (task, kind) in labels {
        if !is_airflow_key(task) {
            return Err(GluersError::Usage(format!(
                "task '{task}' of DAG '{label}' cannot be an Airflow task id: use letters, digits, '_', '.' and '-' in task labels"
            )));
        }
        let args: Vec<String> = ["dag", label, "--task", task, "--retry"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut words: Vec<String> = program.iter().map(|w| python::shell_quote(w)).collect();
        words.extend(args.iter().map(|w| python::shell_quote(w)));
        words.push("\"$GLUERS_RUN_FOLDER\"".into());
        tasks.push(TaskView {
            task_id: task,
            kind,
            args,
            bash_command: words.join(" "),
        });
    }

    let context = minijinja::context! {
        dag_id => &dag_id,
        label => label,
        description => dag.description(),
        operator => settings.operator.name(),
        schedule => schedule,
        start_date => Value::from(Serde(&start_date)),
        run_folder => &settings.run_folder,
        program => program,
        working_dir => working_dir.to_string_lossy(),
        tasks => Value::from(Serde(&tasks)),
        image => &settings.image,
        namespace => &settings.namespace,
        image_pull_policy => &settings.image_pull_policy,
        config_maps => &settings.config_maps,
        resources => Value::from(Serde(&settings.resources)),
        kube_config => &settings.kube_config,
        in_cluster => settings.in_cluster,
        gluers_version => env!("CARGO_PKG_VERSION"),
    };

    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Block tags on their own lines leave no blank lines behind.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.add_filter("py", python::py_filter);
    let (name, text) = match &template_path {
        Some(path) => {
            let full = project.dir.join(path);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                bad(format!(
                    "[airflow] template {}: {e}; give a minijinja template relative to the project folder, or remove the setting to use the built-in one",
                    full.display()
                ))
            })?;
            (path.display().to_string(), text)
        }
        None => match settings.operator {
            AirflowOperator::KubernetesPod => ("kubernetes_pod.py.j2".into(), POD_TEMPLATE.into()),
            AirflowOperator::Bash => ("bash.py.j2".into(), BASH_TEMPLATE.into()),
        },
    };
    let source = env
        .render_named_str(&name, &text, context)
        .map_err(|e| template_error(&name, &e))?;
    Ok(AirflowDag {
        file_name: format!("{dag_id}.py"),
        dag_id,
        source,
    })
}

/// Writes `files` into `dest` (created if missing), each atomically, and
/// returns the paths written.
pub fn write_all(dest: &Path, files: &[AirflowDag]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dest).map_err(|source| GluersError::Io {
        context: format!(
            "cannot create the folder {} (choose a DEST you can write to)",
            dest.display()
        ),
        source,
    })?;
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = dest.join(&file.file_name);
        crate::atomic::write_atomic(&path, file.source.as_bytes()).map_err(|source| {
            GluersError::Io {
                context: format!(
                    "cannot write {} (check that DEST is a writable folder)",
                    path.display()
                ),
                source,
            }
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Airflow's rule for DAG and task ids: word characters, '.' and '-'.
fn is_airflow_key(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 250
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse_start_date(text: &str) -> std::result::Result<StartDate, String> {
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!("[airflow] start_date = {text:?} is not a date: write it as YYYY-MM-DD")
    })?;
    Ok(StartDate {
        year: date.year(),
        month: date.month(),
        day: date.day(),
        text: date.to_string(),
    })
}

fn check_pod_settings(settings: &AirflowSettings) -> std::result::Result<(), String> {
    if settings.image.trim().is_empty() {
        return Err("[airflow] image is not set: name the container image that holds the project binary, or set operator = \"bash\" to run tasks on the Airflow worker".into());
    }
    if settings.in_cluster && settings.kube_config.is_some() {
        return Err("[airflow] in_cluster = true and kube_config are both set: keep kube_config to reach the cluster from outside, or in_cluster when Airflow runs in it".into());
    }
    if !matches!(
        settings.image_pull_policy.as_str(),
        "Always" | "IfNotPresent" | "Never"
    ) {
        return Err(format!(
            "[airflow] image_pull_policy = {:?}: use Always, IfNotPresent or Never",
            settings.image_pull_policy
        ));
    }
    check_resources(&settings.resources)
}

fn check_resources(resources: &PodResources) -> std::result::Result<(), String> {
    for (which, map) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        for (key, value) in map {
            if key.trim().is_empty() || value.trim().is_empty() {
                return Err(format!(
                    "[airflow.resources.{which}] {key:?} = {value:?}: give a resource name and a quantity, e.g. cpu = \"500m\", memory = \"1Gi\""
                ));
            }
        }
    }
    Ok(())
}

fn template_error(name: &str, e: &minijinja::Error) -> GluersError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    GluersError::Config(format!(
        "airflow template {name}: {}; fix the template, or remove [airflow] template to use the built-in one",
        one_line(&message)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_keys() {
        assert!(is_airflow_key("gluers_demo-1.2"));
        assert!(!is_airflow_key("a b"));
        assert!(!is_airflow_key(""));
        assert!(!is_airflow_key("a/b"));
    }

    #[test]
    fn start_dates() {
        let d = parse_start_date("2025-03-04").unwrap();
        assert_eq!((d.year, d.month, d.day), (2025, 3, 4));
        assert!(parse_start_date("yesterday")
            .unwrap_err()
            .contains("YYYY-MM-DD"));
    }
}
