//! The Rust twin of `bench/gluepy_project`: DAG `bench` writes a note,
//! reads it back, and scores it. `bench/run.sh` times both side by side.

use gluers::{Dag, EvaluationTask, MetricDoc, Project, RunContext, Task, TaskResult};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct BenchConfig {
    message: String,
    repeat: usize,
    /// Values patches override in the benchmarks; no task reads them.
    #[serde(default)]
    #[allow(dead_code)]
    nested: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
struct Summary {
    lines: usize,
    chars: usize,
}

/// Writes a small text file to the run folder.
struct WriteNote;

impl Task for WriteNote {
    fn label(&self) -> &str {
        "write_note"
    }
    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: BenchConfig = ctx.config("bench")?;
        let mut text = String::new();
        for _ in 0..cfg.repeat {
            text.push_str(&cfg.message);
            text.push('\n');
        }
        ctx.storage()
            .write(&ctx.runpath("note.txt"), text.as_bytes())?;
        Ok(())
    }
}

/// Reads the note and writes a summary next to it.
struct ReadNote;

impl Task for ReadNote {
    fn label(&self) -> &str {
        "read_note"
    }
    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let text = ctx.storage().read_to_string(&ctx.runpath("note.txt"))?;
        let summary = Summary {
            lines: text.matches('\n').count(),
            chars: text.chars().count(),
        };
        ctx.storage()
            .write(&ctx.runpath("summary.json"), &serde_json::to_vec(&summary)?)?;
        Ok(())
    }
}

/// Scores the note.
struct ScoreNote;

impl EvaluationTask for ScoreNote {
    fn label(&self) -> &str {
        "score_note"
    }
    fn metrics(&self) -> Vec<MetricDoc> {
        vec![
            MetricDoc::new("note_lines", "Lines in note.txt. Must equal bench.repeat."),
            MetricDoc::new("note_ratio", "Characters per line. Higher is better."),
        ]
    }
    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let summary: Summary =
            serde_json::from_slice(&ctx.storage().read(&ctx.runpath("summary.json"))?)?;
        ctx.log_metric("note_lines", summary.lines as f64)?;
        ctx.log_metric("note_ratio", summary.chars as f64 / summary.lines as f64)?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    Project::new("gluers-bench")
        .dag(
            Dag::new("bench")
                .task(WriteNote)
                .task(ReadNote)
                .eval_task(ScoreNote),
        )
        .main()
}
