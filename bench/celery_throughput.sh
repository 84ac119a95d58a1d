#!/usr/bin/env bash
# Throughput of `worker`: DAG runs per minute, sent by the real celery
# client over a real Redis, with 1 worker and with 2 workers.
#
#   bench/celery_throughput.sh                 # 100 `demo` runs per setting
#   RUNS=200 CONCURRENCY=1 bench/celery_throughput.sh
#
# Needs `bash tests/servers/setup.sh` (redis-server and celery-python in
# $GLUERS_SERVERS/bin). Builds the fixture project binary (package
# gluers-fixture, dev profile: dependencies at opt-level 2) first; honours
# CARGO_TARGET_DIR. For each setting, in a fresh temporary copy of the
# fixture project with a fresh redis-server on 127.0.0.1: start the
# workers (each --concurrency $CONCURRENCY), send RUNS `gluepy.run_dag`
# tasks (label `demo`) at once, and time from the first send to the last
# `AsyncResult.get()`. Results also go to bench/results/celery_throughput.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-100}"
CONCURRENCY="${CONCURRENCY:-1}"
BIN_DIR="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin"
for tool in redis-server celery-python; do
    [ -x "$BIN_DIR/$tool" ] || { echo "celery_throughput: $BIN_DIR/$tool is missing: run bash tests/servers/setup.sh" >&2; exit 1; }
done
cargo build --quiet -p gluers-fixture --manifest-path "$ROOT/Cargo.toml"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FIXTURE="$TARGET/debug/gluers-fixture"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cat > "$TMP/client.py" <<'PY'
import sys, time
from celery import Celery
url, runs = sys.argv[1], int(sys.argv[2])
app = Celery("gluepy", broker=url, backend=url)
start = time.monotonic()
sent = [app.send_task("gluepy.run_dag", kwargs={"label": "demo"}) for _ in range(runs)]
failed = 0
for r in sent:
    try:
        r.get(timeout=600)
    except Exception:
        failed += 1
elapsed = time.monotonic() - start
print(f"{elapsed:.2f} {runs / elapsed * 60:.0f} {failed}")
PY

mkdir -p "$HERE/results"
OUT="$HERE/results/celery_throughput.txt"
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $RUNS demo runs, --concurrency $CONCURRENCY per worker" | tee "$OUT"
for workers in 1 2; do
    run="$TMP/w$workers"
    mkdir -p "$run/configs"
    cp "$ROOT/tests/fixture/project/configs/context.yaml" "$run/configs/"
    port="$(free_port)"
    "$BIN_DIR/redis-server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$run/redis.log" 2>&1 &
    PIDS+=($!)
    url="redis://127.0.0.1:$port/0"
    for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    for w in $(seq "$workers"); do
        (cd "$run" && CELERY_BROKER_URL="$url" CELERY_RESULT_BACKEND="$url" \
            exec "$FIXTURE" -q worker --concurrency "$CONCURRENCY") >"$run/worker$w.log" 2>&1 &
        PIDS+=($!)
    done
    sleep 1
    # The client must end before its Redis does (its results unsubscribe on exit).
    result="$("$BIN_DIR/celery-python" "$TMP/client.py" "$url" "$RUNS")"
    read -r secs per_minute failed <<<"$result"
    echo "$workers worker(s): $RUNS runs in $secs s = $per_minute runs/minute ($failed failed)" | tee -a "$OUT"
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
done
