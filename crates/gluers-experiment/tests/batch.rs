//! Batches of candidates end to end on the fake project (real git, real
//! sandbox): `queue`, `run --queued --jobs N`, `keep ID` / `discard ID`.
//! The acceptance test of parallel candidates: a queue of 8 evaluated 2 at
//! a time logs the same rows, commits and metrics as the same queue
//! evaluated one at a time.
//!
//! The fake project stands in for `examples/forecast`: its candidates take
//! the same path through the engine (export, frozen check, sandboxed work
//! tasks, sealed evaluation), but a cargo build of the example per
//! candidate and slot costs minutes on CI's 2 cores.

mod common;

use std::time::Instant;

use common::{prerequisites, task_code, Fixture};

/// The candidates: offsets (mae = |offset|) and one that crashes.
const CANDIDATES: [(f64, bool); 8] = [
    (4.0, false),
    (3.0, false),
    (6.0, false),
    (2.0, true),
    (7.0, false),
    (1.0, false),
    (5.5, false),
    (0.5, false),
];

/// A fixture after init with the 8 candidates queued.
fn queued_fixture() -> Fixture {
    let fx = Fixture::new();
    fx.init();
    for (offset, crash) in CANDIDATES {
        let extra = if crash {
            task_code("raise SystemExit('candidate gave up')")
        } else {
            String::new()
        };
        fx.set_tasks(offset, &extra);
        let out = fx
            .engine(&["queue", "-m", &format!("offset {offset}")])
            .expect(0);
        assert!(out.stdout.contains("queued"), "{}", out.stdout);
        // The work tree is back at the last kept commit for the next idea.
        assert_eq!(fx.git(&["status", "--porcelain"]), "");
        assert!(fx.read("tasks.py").contains("OFFSET = 5.0"));
    }
    fx
}

/// The rows without what differs between runs of the same commit (run id,
/// timestamp, duration), the commit replaced by its tree.
fn comparable(fx: &Fixture) -> Vec<Vec<String>> {
    fx.rows()
        .into_iter()
        .map(|r| {
            let tree = fx.git(&["rev-parse", &format!("{}^{{tree}}", r[6])]);
            vec![r[0].clone(), r[3].clone(), r[4].clone(), r[5].clone(), tree]
        })
        .collect()
}

/// Evaluates the queue with `jobs`, decides it (keep the best, discard
/// the others, out of order), and returns the wall time of the batch.
fn evaluate_and_decide(fx: &Fixture, jobs: &str) -> f64 {
    let started = Instant::now();
    let out = fx.engine(&["run", "--queued", "--jobs", jobs]);
    let secs = started.elapsed().as_secs_f64();
    // One candidate crashed: exit 1, every row still pending.
    let out = out.expect(1);
    for id in 1..=8 {
        assert!(
            out.stdout.contains(&format!("experiment {id} ")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(fx.rows().len(), 1, "no row before a decision");
    // The run log has every candidate's section, in queue order.
    let log = fx.read("experiment_run.log");
    let at: Vec<usize> = (1..=8)
        .map(|id| {
            log.find(&format!("experiment {id}: run "))
                .unwrap_or_else(|| panic!("no section of {id} in\n{log}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{log}");

    // Decide the best first: its row waits for the rows before it.
    let keep = fx.engine(&["keep", "8"]).expect(0);
    assert!(
        keep.stdout.contains("once the experiments before it"),
        "{}",
        keep.stdout
    );
    assert_eq!(fx.rows().len(), 1);
    // A sibling's base is no longer the last kept commit.
    let second = fx.engine(&["keep", "6"]).expect(2);
    assert!(
        second.stderr.contains("older base") && second.stderr.contains("discard 6"),
        "{}",
        second.stderr
    );
    // Several waiting: the id must be named.
    let vague = fx.engine(&["discard"]).expect(2);
    assert!(vague.stderr.contains("name one"), "{}", vague.stderr);
    // Single runs wait for the batch.
    let single = fx.engine(&["run", "-m", "more"]).expect(2);
    assert!(
        single.stderr.contains("waiting for a decision"),
        "{}",
        single.stderr
    );
    let finish = fx.engine(&["finish"]).expect(2);
    assert!(
        finish.stderr.contains("waiting for a decision"),
        "{}",
        finish.stderr
    );
    let queue = fx.engine(&["queue", "HEAD"]).expect(2);
    assert!(
        queue.stderr.contains("waiting for a decision"),
        "{}",
        queue.stderr
    );
    for id in (1..=7).rev() {
        fx.engine(&["discard", &id.to_string()]).expect(0);
    }
    fx.engine(&["verify"]).expect(0);
    secs
}

#[test]
fn a_queue_of_8_evaluated_2_at_a_time_logs_what_a_sequential_run_does() {
    assert!(prerequisites());
    let one = queued_fixture();
    let two = queued_fixture();
    let secs_one = evaluate_and_decide(&one, "1");
    let secs_two = evaluate_and_decide(&two, "2");
    eprintln!("batch of 8: --jobs 1 {secs_one:.2} s, --jobs 2 {secs_two:.2} s");

    let rows = comparable(&two);
    assert_eq!(rows, comparable(&one));
    assert_eq!(rows.len(), 9);
    // Queue order, each with its own metrics and status.
    for (i, (offset, crash)) in CANDIDATES.iter().enumerate() {
        let r = &rows[i + 1];
        assert_eq!(r[0], (i + 1).to_string());
        assert_eq!(r[3], format!("offset {offset}"));
        if *crash {
            assert_eq!((r[1].as_str(), r[2].as_str()), ("", "crash"), "{r:?}");
        } else {
            assert_eq!(r[1], format!("mae={offset:?};n=3"), "{r:?}");
            let status = if i == 7 { "keep" } else { "discard" };
            assert_eq!(r[2], status, "{r:?}");
        }
    }
    // The branch continues from the kept candidate, in both.
    for fx in [&one, &two] {
        assert!(fx.read("tasks.py").contains("OFFSET = 0.5"));
        let status = fx.engine(&["status"]).expect(0);
        assert!(
            status.stdout.contains("best kept     mae=0.5"),
            "{}",
            status.stdout
        );
    }
}

#[test]
fn a_queued_commit_is_checked_and_a_stale_one_refused() {
    assert!(prerequisites());
    let fx = Fixture::new();
    fx.init();
    // An empty queue, an unknown revision, an empty work tree.
    let empty = fx.engine(&["run", "--queued"]).expect(2);
    assert!(empty.stderr.contains("queue is empty"), "{}", empty.stderr);
    let unknown = fx.engine(&["queue", "no-such-rev"]).expect(2);
    assert!(
        unknown.stderr.contains("names no commit"),
        "{}",
        unknown.stderr
    );
    let nothing = fx.engine(&["queue", "-m", "nothing"]).expect(2);
    assert!(
        nothing.stderr.contains("nothing to queue"),
        "{}",
        nothing.stderr
    );
    // A commit of the user's own, by revision, with its subject.
    fx.set_tasks(2.0, "");
    fx.git(&["commit", "--quiet", "-am", "offset two"]);
    fx.engine(&["queue", "HEAD"]).expect(0);
    let out = fx.engine(&["run", "--queued", "--jobs", "4"]).expect(0);
    assert!(out.stdout.contains("1 at a time"), "{}", out.stdout);
    // The only waiting row needs no id.
    fx.engine(&["keep"]).expect(0);
    let rows = fx.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[1][3].as_str(),
            rows[1][4].as_str(),
            rows[1][5].as_str()
        ),
        ("mae=2.0;n=3", "keep", "offset two")
    );
    // The base is no longer the last kept commit: refused.
    let main = fx.engine(&["queue", "main"]).expect(2);
    assert!(main.stderr.contains("does not descend"), "{}", main.stderr);
}
