#!/usr/bin/env python3
"""Make the 10x / 100x inputs of the forecast benchmark.

    python3 bench/scale/gen_inputs.py OUT -n 100 [--full F] [--example DIR]

The input is repeated with its timestamps shifted back by whole years, so
the last 28 days (the holdout), and so the metrics, stay the same at every
size. Copies 1..n-1 are the full year of `--full` (the shared
vic_elec_2014.csv), the year changed to 2014-k; the last copy is each side's
own 1x input:

    OUT/gluers/input/<train>          (n-1) shifted years + the example's train file
    OUT/gluers/input/<to_forecast>    the example's file, unchanged
    OUT/gluers/holdout/actuals.csv    the example's file, unchanged
    OUT/gluepy/vic_elec_2014.csv      (n-1) shifted years + the full year
    OUT/gluepy/patch.yaml             a --local-patch pointing the Gluepy twin at it

The file names come from the example's data folder, so a new split of the
example needs no change here. Years are shifted as text (no Feb 29 in 2014).
"""
import argparse
import os
import shutil
import sys


def shifted(lines, years_back):
    """The rows of a 2014 table with the year replaced by 2014 - years_back."""
    year = str(2014 - years_back).encode()
    if len(year) != 4:
        sys.exit(f"gen_inputs: cannot shift 2014 back by {years_back} years")
    return [year + line[4:] for line in lines]


def write_repeated(out_path, prefix_rows, copies, own_header, own_rows):
    with open(out_path, "wb") as out:
        out.write(own_header)
        for k in range(copies, 0, -1):
            out.writelines(shifted(prefix_rows, k))
        out.writelines(own_rows)


def read(path):
    with open(path, "rb") as f:
        lines = f.readlines()
    if not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    return lines[0], lines[1:]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("-n", type=int, required=True, help="size multiple (1, 10, 100)")
    ap.add_argument("--full", default=os.path.join(repo, "..", "shared", "data", "vic_elec_2014.csv"))
    ap.add_argument("--example", default=os.path.join(repo, "examples", "forecast"))
    args = ap.parse_args()

    data = os.path.join(args.example, "data")
    full_header, full_rows = read(args.full)
    if not full_rows[0].startswith(b"2014-"):
        sys.exit(f"gen_inputs: {args.full} does not start in 2014")
    gluers = os.path.join(args.out, "gluers")
    shutil.rmtree(gluers, ignore_errors=True)
    for sub in ("input", "holdout"):
        os.makedirs(os.path.join(gluers, sub))
        for name in sorted(os.listdir(os.path.join(data, sub))):
            src = os.path.join(data, sub, name)
            dst = os.path.join(gluers, sub, name)
            if not name.endswith(".csv"):
                continue
            header, rows = read(src)
            # The table with demand history is the one that grows.
            if sub == "input" and b"demand_gw" in header:
                if header != full_header:
                    sys.exit(f"gen_inputs: {src} and {args.full} have different columns")
                write_repeated(dst, full_rows, args.n - 1, header, rows)
            else:
                shutil.copyfile(src, dst)
    gluepy = os.path.join(args.out, "gluepy")
    os.makedirs(gluepy, exist_ok=True)
    big = os.path.join(gluepy, "vic_elec_2014.csv")
    write_repeated(big, full_rows, args.n - 1, full_header, full_rows)
    with open(os.path.join(gluepy, "patch.yaml"), "w") as f:
        f.write(f"forecast:\n  input_csv: {os.path.abspath(big)}\n")
    rows = (args.n - 1) * len(full_rows) + len(full_rows)
    print(f"gen_inputs: {args.n}x = {rows:,} rows, {os.path.getsize(big) / 1e6:.1f} MB (Gluepy's input)", file=sys.stderr)


if __name__ == "__main__":
    main()
