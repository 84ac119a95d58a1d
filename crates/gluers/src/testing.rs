//! Unit tests of tasks: a [`RunContext`] whose storage is in memory, so a
//! test can run one task on a context it writes inline and read back what
//! the task wrote.
//!
//! ```
//! use gluers::{RunContext, Task, TaskResult};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Row { n: u32 }
//!
//! struct Double;
//! impl Task for Double {
//!     fn label(&self) -> &str { "double" }
//!     fn run(&self, ctx: &mut RunContext) -> TaskResult {
//!         let n: u32 = ctx.config("n")?;
//!         ctx.data().write_csv("out.csv", &[Row { n: n * 2 }])?;
//!         Ok(())
//!     }
//! }
//!
//! let mut ctx = gluers::testing::run_context("n: 21").unwrap();
//! Double.run(&mut ctx).unwrap();
//! let rows: Vec<Row> = ctx.data().read_csv("out.csv").unwrap();
//! assert_eq!(rows, vec![Row { n: 42 }]);
//! ```

use std::sync::Arc;

use crate::context::{Context, RunMeta};
use crate::error::{GluersError, Result};
use crate::ops::{LogOps, OpsBackend, RunStart};
use crate::run_context::RunContext;
use crate::storage::{MemoryStorage, Storage};

/// The run folder of a test context.
pub const TEST_RUN_FOLDER: &str = "runs/test";

/// A run context for a unit test: `context_yaml` is the resolved context
/// (the sections your tasks read, as in `configs/context.yaml`), storage is
/// an empty [`MemoryStorage`] with the run folder [`TEST_RUN_FOLDER`], and
/// metrics and params go to the log only.
pub fn run_context(context_yaml: &str) -> Result<RunContext> {
    let values: serde_norway::Mapping = if context_yaml.trim().is_empty() {
        serde_norway::Mapping::new()
    } else {
        serde_norway::from_str(context_yaml).map_err(|e| {
            GluersError::Config(format!("the test context is not a YAML mapping: {e}"))
        })?
    };
    let meta = RunMeta {
        run_id: "test".into(),
        run_folder: TEST_RUN_FOLDER.into(),
        created_at: "1970-01-01T00:00:00Z".into(),
    };
    let storage = Storage::new(Arc::new(MemoryStorage::new()), TEST_RUN_FOLDER);
    let ops = LogOps.create_run(&RunStart {
        dag: "test",
        run_id: &meta.run_id,
        run_folder: TEST_RUN_FOLDER,
        resume: false,
        username: None,
    })?;
    Ok(RunContext::new(Context::new(values, meta), storage, ops))
}
