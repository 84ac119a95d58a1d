#!/usr/bin/env bash
# What `airflow generate` and its tests cost: generating every DAG file of
# the fixture project (bash and pod operators), Airflow 2.10.5 loading them
# (DagBag), one `airflow db migrate` and one `airflow dags test` of the
# generated bash DAG (the steps of tests/fixture/tests/airflow.rs), and
# tests/servers/install-airflow.sh when already installed.
#
#   bench/airflow.sh                 # RUNS=10
#
# Needs `bash tests/servers/install-airflow.sh` first (for a cold install,
# time it with an empty GLUERS_AIRFLOW_VENV). Results in
# bench/results/airflow/ (hyperfine JSON and Markdown, env.txt).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET_DIR/release/gluers-fixture"
RUNS="${RUNS:-10}"
RES="$BENCH_DIR/results/airflow"
SERVERS="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin"

command -v hyperfine >/dev/null 2>&1 || {
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y hyperfine >/dev/null
}
[ -x "$SERVERS/airflow" ] || { echo "bench/airflow.sh: run bash tests/servers/install-airflow.sh first" >&2; exit 1; }
(cd "$REPO" && cargo build --release --quiet -p gluers-fixture)

mkdir -p "$RES"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bash/configs" "$WORK/pod/configs"
cp "$REPO/tests/fixture/project/configs/context.yaml" "$WORK/bash/configs/"
cp "$REPO/tests/fixture/project/configs/context.yaml" "$WORK/pod/configs/"
printf '[airflow]\noperator = "bash"\n' > "$WORK/bash/configs/settings.toml"
printf '[airflow]\nimage = "registry.example.com/fixture:1.0"\nconfig_maps = ["env"]\n[airflow.resources.requests]\ncpu = "1"\n' \
    > "$WORK/pod/configs/settings.toml"

export AIRFLOW_HOME="$WORK/home" AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__CORE__DAGS_FOLDER="$WORK/bash/dags"
LOAD='from airflow.models import DagBag; import sys; b = DagBag(sys.argv[1], include_examples=False); assert not b.import_errors and len(b.dags) == 4, b.import_errors'
(cd "$WORK/bash" && "$BIN" airflow generate dags -q)
(cd "$WORK/pod" && "$BIN" airflow generate dags -q)

{ uname -a; nproc; uptime; "$SERVERS/airflow" version; } > "$RES/env.txt" 2>&1
hyperfine --warmup 2 --runs "$RUNS" -N \
    --export-json "$RES/generate.json" --export-markdown "$RES/generate.md" \
    -n "generate (bash, 4 DAGs)" "sh -c 'cd $WORK/bash && $BIN airflow generate dags -q'" \
    -n "generate (pod, 4 DAGs)" "sh -c 'cd $WORK/pod && $BIN airflow generate dags -q'"
hyperfine --warmup 1 --runs "$RUNS" \
    --export-json "$RES/airflow.json" --export-markdown "$RES/airflow.md" \
    -n "DagBag load (bash files)" "$SERVERS/airflow-python -c \"$LOAD\" $WORK/bash/dags" \
    -n "DagBag load (pod files)" "$SERVERS/airflow-python -c \"$LOAD\" $WORK/pod/dags" \
    -n "install-airflow.sh (installed)" "bash $REPO/tests/servers/install-airflow.sh"
hyperfine --runs 3 \
    --export-json "$RES/dags_test.json" --export-markdown "$RES/dags_test.md" \
    --prepare "rm -rf $WORK/home" \
    -n "db migrate + dags test demo" "$SERVERS/airflow db migrate && cd $WORK/bash && $SERVERS/airflow dags test demo"
cat "$RES"/generate.md "$RES"/airflow.md "$RES"/dags_test.md
