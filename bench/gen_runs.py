#!/usr/bin/env python3
"""Create N fake run folders for the `--compare` benchmark.

Layout, as Gluepy 1.6.0 writes it:  <root>/runs/YYYY/M/D/<uuid4>/metrics.json
(month and day not zero-padded; metrics.json = json.dumps(metrics, indent=2),
no trailing newline). A context.yaml in Gluepy's shape is written next to it
unless --no-context is given.

Usage:
    python3 bench/gen_runs.py ROOT [-n 10000] [--seed 1] [--list FILE]

--list writes the run folders, relative to ROOT, one per line (the arguments
for `dag LABEL --compare F ...`). Deterministic for a given seed. ROOT/runs is
removed first when --clean is given.
"""
import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import uuid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="storage root (run folders go under ROOT/runs)")
    ap.add_argument("-n", "--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=30, help="spread the runs over this many days")
    ap.add_argument("--list", dest="list_file", help="write the folder list here")
    ap.add_argument("--no-context", action="store_true", help="do not write context.yaml")
    ap.add_argument("--clean", action="store_true", help="remove ROOT/runs first")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    if args.clean:
        shutil.rmtree(os.path.join(args.root, "runs"), ignore_errors=True)
    start = dt.datetime(2025, 1, 1, 8, 0, 0)
    folders = []
    for i in range(args.count):
        created = start + dt.timedelta(seconds=i * (args.days * 86400 // max(args.count, 1)),
                                       microseconds=rng.randrange(1_000_000))
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        folder = f"runs/{created.year}/{created.month}/{created.day}/{run_id}"
        path = os.path.join(args.root, folder)
        os.makedirs(path, exist_ok=True)
        metrics = {
            "forecast_mape": rng.uniform(5.0, 20.0),
            "forecast_bias": rng.uniform(-1.0, 1.0),
        }
        with open(os.path.join(path, "metrics.json"), "w") as f:
            f.write(json.dumps(metrics, indent=2))
        if not args.no_context:
            with open(os.path.join(path, "context.yaml"), "w") as f:
                f.write(
                    "gluepy:\n"
                    f"  created_at: {created.isoformat(' ')}\n"
                    f"  run_folder: {folder}\n"
                    f"  run_id: {run_id}\n"
                )
        # gluers' run record, so `dag bench --compare` (no folders) finds the runs.
        with open(os.path.join(path, "run.json"), "w") as f:
            f.write(json.dumps({
                "dag": "bench", "run_id": run_id, "status": "success",
                "started_at": created.isoformat() + "Z", "finished_at": None, "tasks": [],
            }))
        folders.append(folder)
    if args.list_file:
        with open(args.list_file, "w") as f:
            f.write("\n".join(folders) + "\n")
    print(f"gen_runs: {len(folders)} run folders under {os.path.join(args.root, 'runs')}", file=sys.stderr)


if __name__ == "__main__":
    main()
