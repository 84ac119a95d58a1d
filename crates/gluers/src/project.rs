//! A user project: its DAGs and commands, and the `main` that runs them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gluers_formats::exit::ExitStatus;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{self, BuiltinCommand, ProjectCli};
use crate::dag::Dag;
use crate::error::{GluersError, Result};
use crate::ops::OpsBackend;
use crate::registry::Registry;
use crate::runner::open_storage;
use crate::settings::Settings;
use crate::storage::Storage;

/// A project's own subcommand, shown in `--help` beside the built-in ones.
///
/// ```no_run
/// use gluers::{Command, CommandContext};
///
/// /// Copies a run's model to production/.
/// #[derive(clap::Args)]
/// struct Deploy {
///     /// The run folder whose model to deploy.
///     run_folder: String,
/// }
///
/// impl Command for Deploy {
///     const NAME: &'static str = "deploy";
///     fn run(self, ctx: &CommandContext) -> anyhow::Result<()> {
///         let from = format!("{}/model.json", self.run_folder);
///         ctx.storage().cp(&from, "production/model.json")?;
///         Ok(())
///     }
/// }
/// ```
pub trait Command: clap::Args + 'static {
    /// The subcommand's name on the command line.
    const NAME: &'static str;
    /// Runs the command.
    fn run(self, ctx: &CommandContext) -> anyhow::Result<()>;
}

/// What a project command gets: settings and the storage root.
pub struct CommandContext {
    settings: Settings,
    storage: Storage,
    project_dir: PathBuf,
}

impl CommandContext {
    /// The project's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The storage, rooted at the storage root.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The project folder.
    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }
}

type Handler = Box<dyn Fn(&clap::ArgMatches, &CommandContext) -> anyhow::Result<()>>;

struct CustomCommand {
    name: &'static str,
    augment: fn(clap::Command) -> clap::Command,
    handler: Handler,
}

/// A project: what its `main` hands to gluers.
///
/// ```no_run
/// # fn forecast_dag() -> gluers::Dag { gluers::Dag::new("forecast") }
/// fn main() -> std::process::ExitCode {
///     gluers::Project::new(env!("CARGO_PKG_NAME"))
///         .dag(forecast_dag())
///         .main()
/// }
/// ```
pub struct Project {
    name: String,
    dags: Vec<Dag>,
    commands: Vec<CustomCommand>,
    storage: Option<std::sync::Arc<dyn crate::storage::StorageBackend>>,
    ops: Option<Box<dyn OpsBackend>>,
}

impl Project {
    /// A project called `name` (usually `env!("CARGO_PKG_NAME")`).
    pub fn new(name: impl Into<String>) -> Self {
        Project {
            name: name.into(),
            dags: Vec::new(),
            commands: Vec::new(),
            storage: None,
            ops: None,
        }
    }

    /// Stores runs on `backend` instead of the one `configs/settings.toml`
    /// names (`[storage] url` or `backend`): a store of the project's own,
    /// or an object store built in code.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// gluers::Project::new("demo").storage(Arc::new(gluers::MemoryStorage::new()));
    /// ```
    pub fn storage(mut self, backend: std::sync::Arc<dyn crate::storage::StorageBackend>) -> Self {
        self.storage = Some(backend);
        self
    }

    /// Reports runs to `backend` (your own [`OpsBackend`]) instead of the
    /// one `[ops] backend` names in the settings.
    ///
    /// With the `mlflow` feature, `gluers::ops::mlflow::MlflowOps` is one
    /// (configured in code rather than in settings); [`LogOps`](crate::ops::LogOps)
    /// is the default.
    ///
    /// ```no_run
    /// # fn forecast_dag() -> gluers::Dag { gluers::Dag::new("forecast") }
    /// gluers::Project::new("forecast")
    ///     .dag(forecast_dag())
    ///     .ops(gluers::ops::LogOps)
    ///     .main();
    /// ```
    pub fn ops(mut self, backend: impl OpsBackend + 'static) -> Self {
        self.ops = Some(Box::new(backend));
        self
    }

    /// Registers a DAG.
    pub fn dag(mut self, dag: Dag) -> Self {
        self.dags.push(dag);
        self
    }

    /// Registers several DAGs.
    pub fn dags(mut self, dags: impl IntoIterator<Item = Dag>) -> Self {
        self.dags.extend(dags);
        self
    }

    /// Registers a project command.
    pub fn command<C: Command>(mut self) -> Self {
        self.commands.push(CustomCommand {
            name: C::NAME,
            augment: |cmd| C::augment_args(cmd),
            handler: Box::new(|matches, ctx| {
                let args =
                    C::from_arg_matches(matches).map_err(|e| anyhow::anyhow!(e.to_string()))?;
                args.run(ctx)
            }),
        });
        self
    }

    /// Parses the process arguments, runs the command, and returns the exit
    /// code: 0, 1 for a failed run, 2 for a usage error (see [`ExitStatus`]).
    /// An error is printed on stderr as one line first.
    pub fn main(self) -> ExitCode {
        self.main_from(std::env::args_os()).into()
    }

    /// Like [`main`](Self::main) with explicit arguments (the first is the
    /// program name), returning the [`ExitStatus`] so a test can compare it.
    ///
    /// ```
    /// use gluers::{Dag, ExitStatus, Project};
    ///
    /// let status = Project::new("demo")
    ///     .dag(Dag::new("demo"))
    ///     .main_from(["demo", "dag", "no_such_dag"]);
    /// assert_eq!(status, ExitStatus::Usage);
    /// ```
    pub fn main_from<I, T>(self, args: I) -> ExitStatus
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ignore_file_size_signal();
        #[cfg(feature = "worker")]
        crate::worker::die_with_worker();
        match self.dispatch(args) {
            Ok(()) => ExitStatus::Success,
            Err(e) => {
                report_error(&e);
                e.exit_status()
            }
        }
    }

    fn dispatch<I, T>(self, args: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = ProjectCli::command()
            .name(self.name.clone())
            .bin_name("cargo manage");
        for custom in &self.commands {
            if command.find_subcommand(custom.name).is_some() {
                return Err(GluersError::Registry(format!(
                    "the project command '{}' has the name of a built-in command: rename it",
                    custom.name
                )));
            }
            command = command.subcommand((custom.augment)(clap::Command::new(custom.name)));
        }
        let matches = command.try_get_matches_from(args).or_else(|e| {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
                _ => Err(GluersError::Usage(gluers_formats::message::one_line_usage(
                    &e.render().to_string(),
                ))),
            }
        })?;
        let registry = Registry::new(self.dags)?;
        let cwd = std::env::current_dir().map_err(|source| GluersError::Io {
            context: "cannot read the current folder".into(),
            source,
        })?;
        let project_dir = project_root(&cwd);
        let mut settings = Settings::load(&project_dir)?;
        if let Some(backend) = self.storage.clone() {
            settings.storage.custom = Some(crate::settings::CustomStorage(backend));
        }
        let global = cli::GlobalArgs::from_arg_matches(&matches)
            .map_err(|e| GluersError::Usage(e.to_string()))?;
        cli::logging::init(&settings.log_level, global.verbose, global.quiet)?;

        if let Some((name, sub)) = matches.subcommand() {
            if let Some(custom) = self.commands.iter().find(|c| c.name == name) {
                let ctx = CommandContext {
                    storage: Storage::new(open_storage(&settings)?, ""),
                    settings,
                    project_dir,
                };
                return (custom.handler)(sub, &ctx).map_err(|e| GluersError::CommandFailed {
                    command: name.to_string(),
                    source: e,
                });
            }
        }
        let cli = ProjectCli::from_arg_matches(&matches)
            .map_err(|e| GluersError::Usage(e.to_string()))?;
        match cli.command {
            BuiltinCommand::Startmodule { name } => cli::tools::startmodule(&project_dir, &name),
            BuiltinCommand::Experiment { args } => {
                Err(cli::tools::moved_to_gluers("experiment", &args))
            }
            BuiltinCommand::Skill { args } => Err(cli::tools::moved_to_gluers("skill", &args)),
            BuiltinCommand::Dag(args) => {
                let mut args = args;
                if project_dir != cwd {
                    // Local patches are paths as the shell sees them: from the current folder.
                    for patch in &mut args.local_patch {
                        if Path::new(patch.as_str()).is_relative() {
                            *patch = cwd.join(patch.as_str()).to_string_lossy().into_owned();
                        }
                    }
                }
                cli::dag::execute(
                    args,
                    &registry,
                    &settings,
                    &project_dir,
                    global.quiet,
                    self.ops.as_deref(),
                )
            }
            #[cfg(feature = "airflow")]
            BuiltinCommand::Airflow(args) => cli::airflow::execute(
                args,
                &registry,
                &settings,
                &self.name,
                &project_dir,
                &cwd,
                global.quiet,
            ),
            #[cfg(feature = "worker")]
            BuiltinCommand::Worker(args) => cli::worker::execute(args, &settings, &project_dir),
            BuiltinCommand::List => {
                print!("{}", crate::describe::list(&registry));
                Ok(())
            }
        }
    }
}

/// The project folder for a command run in `cwd`, found as cargo finds
/// `Cargo.toml`: `cwd` itself when it is a project (it has `Cargo.toml` or
/// `configs/`, or `GLUERS_SETTINGS` names the settings), else the nearest
/// folder above it with a `Cargo.toml`, else `cwd`. So `cd src && cargo
/// manage dag x` uses the project's configs and storage, not `src/data`.
pub(crate) fn project_root(cwd: &Path) -> PathBuf {
    let is_project = |dir: &Path| dir.join("Cargo.toml").is_file();
    if is_project(cwd)
        || cwd.join("configs").is_dir()
        || std::env::var_os(crate::settings::SETTINGS_ENV).is_some_and(|v| !v.is_empty())
    {
        return cwd.to_path_buf();
    }
    match cwd.ancestors().skip(1).find(|dir| is_project(dir)) {
        Some(dir) => {
            tracing::debug!(
                "project folder {} (above the current folder)",
                dir.display()
            );
            dir.to_path_buf()
        }
        None => cwd.to_path_buf(),
    }
}

/// A file-size limit (`ulimit -f`) must fail a write with an error (EFBIG)
/// that the run records in `run.json`, not kill the process silently with
/// SIGXFSZ. A handler that only sets a flag does that without `unsafe`, and
/// unlike an ignored signal it is reset for programs a task starts.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
}

/// Prints an error and its causes as one line on stderr.
pub(crate) fn report_error(e: &GluersError) {
    // One line, and nothing from an argument or a file drives the terminal.
    let line = gluers_formats::message::chain(e);
    eprintln!("error: {}", crate::error::escape_controls(&line));
}
