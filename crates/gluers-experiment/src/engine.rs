//! The context of an engine command on an existing experiment: the
//! repository, the experiment of the current branch, its state and the lock;
//! and the recovery of a run whose engine was killed.

use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::explog::{self, Key, MirrorSync};
use crate::lock::EngineLock;
use crate::process;
use crate::repo::Repo;
use crate::state::{State, StatePaths};

/// File name of the experiment log in the project folder.
pub(crate) const LOG_FILE: &str = "experiment_log.tsv";
/// File name of the run log in the project folder.
pub(crate) const RUN_LOG_FILE: &str = "experiment_run.log";

/// An open experiment.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The repository.
    pub repo: Repo,
    /// Where the experiment's state lives.
    pub paths: StatePaths,
    /// The project folder (absolute).
    pub project_dir: PathBuf,
    /// The experiment state.
    pub state: State,
    /// The repository lock, when this command holds it.
    pub lock: Option<EngineLock>,
    /// Set in a batch worker: where its progress and run log go instead of
    /// the state and the project's run log (the engine that started it owns
    /// those).
    pub worker: Option<WorkerFiles>,
}

/// The files a batch worker writes in its slot.
#[derive(Debug, Clone)]
pub(crate) struct WorkerFiles {
    /// Its progress record ([`crate::state::InProgress`], or `null`).
    pub progress: PathBuf,
    /// Its run log.
    pub run_log: PathBuf,
}

/// Whether the command needs the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Changes state: takes the lock (fails if busy) and recovers an
    /// interrupted run.
    Write,
    /// Reads only: takes the lock if free (to recover an interrupted run),
    /// otherwise reads as is.
    Read,
    /// Inspects only (`experiment verify`): never takes the lock, never
    /// recovers nor repairs anything, and leaves checking the log to the
    /// caller, so that what is reported is what was found.
    Inspect,
    /// A batch worker, started by the engine that holds the lock: reads
    /// the state, never writes it.
    Worker,
}

impl Ctx {
    /// Opens the experiment of the branch checked out in the repository
    /// containing `dir`.
    pub fn open(dir: &Path, access: Access) -> Result<Self> {
        let (repo, branch) = Repo::discover_on_branch(dir)?;
        let branch = branch.ok_or_else(|| ExperimentError::NoExperiment {
            where_: "a detached HEAD".into(),
        })?;
        let paths = StatePaths::new(&repo.common_dir, &branch)?;
        let lock = match access {
            Access::Write => Some(EngineLock::acquire(&paths.lock())?),
            Access::Read => EngineLock::acquire(&paths.lock()).ok(),
            Access::Inspect | Access::Worker => None,
        };
        let state = State::load(&paths.state())?.ok_or_else(|| ExperimentError::NoExperiment {
            where_: format!("branch `{branch}`"),
        })?;
        // Before anything in it is believed (verify included): the state
        // must carry the engine's keyed hash.
        state.check_mac(&paths.state(), &Key::load(&paths.key())?)?;
        let project_dir = repo.root.join(state.project.rel_dir());
        let mut ctx = Self {
            repo,
            paths,
            project_dir,
            state,
            lock,
            worker: None,
        };
        if matches!(access, Access::Inspect | Access::Worker) {
            return Ok(ctx);
        }
        // Before anything is changed: a broken chain refuses every command,
        // naming the row.
        ctx.verify_log()?;
        if ctx.lock.is_some() {
            if let Some(note) = ctx.recover_interrupted()? {
                eprintln!("{note}");
            }
            if let Some(note) = crate::batch::recover(&mut ctx)? {
                eprintln!("{note}");
            }
            let mirror = ctx.log_mirror();
            if explog::sync_mirror(&ctx.paths.log(), &mirror)? == MirrorSync::Repaired {
                eprintln!(
                    "note: {} was edited outside the engine; rewritten from the engine's log",
                    mirror.display()
                );
            }
        }
        Ok(ctx)
    }

    /// The key of the experiment log's hash chain.
    pub fn log_key(&self) -> Result<Key> {
        Key::load(&self.paths.key())
    }

    /// Checks the experiment log's hash chain ([`explog::verify_chain`]).
    pub fn verify_log(&self) -> Result<explog::VerifyReport> {
        let log = self.paths.log();
        // Until `init` has written the baseline row there is no log to
        // check (a missing log after that is reported).
        if self.state.next_id == 0 && !log.exists() {
            return Ok(explog::VerifyReport {
                rows: 0,
                head: None,
            });
        }
        // The state records no chain head yet, so removing the last rows
        // is seen only once it does (pass it here).
        explog::verify_chain(&log, &self.log_key()?, self.state.log_head.as_deref())
            .map_err(ExperimentError::BrokenLog)
    }

    /// Saves the state.
    pub fn save(&self) -> Result<()> {
        if self.worker.is_some() {
            return Err(ExperimentError::Sealed(
                "a batch worker tried to write the experiment state".into(),
            ));
        }
        self.state.save(&self.paths.state(), &self.log_key()?)
    }

    /// Saves the progress or result of a run (atomic, not synced to disk:
    /// see [`State::save_progress`]); a batch worker records only the run
    /// in progress, in its slot.
    pub fn save_progress(&self) -> Result<()> {
        if let Some(w) = &self.worker {
            let json = serde_json::to_vec(&self.state.in_progress).map_err(|e| {
                ExperimentError::State {
                    path: w.progress.clone(),
                    message: e.to_string(),
                }
            })?;
            return crate::fsutil::atomic_replace(&w.progress, &json);
        }
        self.state
            .save_progress(&self.paths.state(), &self.log_key()?)
    }

    /// The run log in the project folder (a batch worker's own, in its
    /// slot).
    pub fn run_log(&self) -> PathBuf {
        match &self.worker {
            Some(w) => w.run_log.clone(),
            None => self.project_dir.join(RUN_LOG_FILE),
        }
    }

    /// The experiment log copy in the project folder.
    pub fn log_mirror(&self) -> PathBuf {
        self.project_dir.join(LOG_FILE)
    }

    /// Paths `git status` may show without making the tree dirty (the
    /// engine's own untracked files).
    pub fn status_ignore(&self) -> Vec<String> {
        self.state.excluded.clone()
    }

    /// If a run was left in progress by a killed engine: kills what is left
    /// of its process group, clears the marker, and returns a note for the
    /// user.
    pub fn recover_interrupted(&mut self) -> Result<Option<String>> {
        let Some(ip) = self.state.in_progress.take() else {
            return Ok(None);
        };
        let mut killed = String::from("no process of it was left");
        if let Some(pgid) = ip.pgid {
            if process::group_belongs_to_run(pgid, &ip.run_id) {
                process::kill_group(pgid);
                killed = format!("killed its leftover process group {pgid}");
            }
        }
        self.save()?;
        let short = &ip.commit[..ip.commit.len().min(12)];
        Ok(Some(format!(
            "note: the run of experiment {} (run id {}, commit {short}) was interrupted during {} (engine pid {} stopped); {killed}; it has no log row: start it again with `{} run -m \"...\"`",
            ip.experiment_id, ip.run_id, ip.phase, ip.engine_pid, self.state.prog
        )))
    }
}
