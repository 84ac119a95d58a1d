#!/usr/bin/env bash
# `dag demo --compare` over COMPARE_N runs on S3 (moto on 127.0.0.1): every
# run of the DAG (one listing of runs/, then the run records, metrics and
# params read COMPARE_N at a time in parallel) and the folders listed.
#
#   bench/compare_object_storage.sh        # COMPARE_N=1000, RUNS=10
#
# Needs tests/servers/install-object-storage.sh (moto, boto3 in its venv)
# and hyperfine. The fixture binary is the dev build (dependencies built
# with opt-level 2, see Cargo.toml), as `cargo test` uses it. Results in
# bench/results/compare_object_storage/.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET_DIR/debug/gluers-fixture"
COMPARE_N="${COMPARE_N:-1000}"
RUNS="${RUNS:-10}"
RES="$BENCH_DIR/results/compare_object_storage"
SERVERS="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}"
VENV_PY="$HOME/.cache/gluers-storage-venv/bin/python"

bash "$REPO/tests/servers/install-object-storage.sh"
command -v hyperfine >/dev/null || { echo "compare_object_storage: install hyperfine" >&2; exit 1; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$REPO" && cargo build --quiet -p gluers-fixture)
fi
mkdir -p "$RES"
WORK="$(mktemp -d)"
PORT="$("$VENV_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$SERVERS/bin/moto_server" -H 127.0.0.1 -p "$PORT" > "$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done

python3 "$BENCH_DIR/gen_runs.py" "$WORK/store" -n "$COMPARE_N" --list "$WORK/folders.txt"
# Upload the runs as the fixture's `demo` DAG, 32 requests at a time.
"$VENV_PY" - "$PORT" "$WORK/store" <<'PY'
import concurrent.futures, os, sys, boto3
port, root = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
s3.create_bucket(Bucket="bench")
files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "runs")) for f in fs]
def put(path):
    body = open(path, "rb").read().replace(b'"dag": "bench"', b'"dag": "demo"')
    s3.put_object(Bucket="bench", Key="team/" + os.path.relpath(path, root), Body=body)
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    list(pool.map(put, files))
print(f"uploaded {len(files)} objects", file=sys.stderr)
PY

mkdir -p "$WORK/project/configs"
cp "$REPO/tests/fixture/project/configs/context.yaml" "$WORK/project/configs/"
export GLUERS_STORAGE_URL=s3://bench/team AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ALLOW_HTTP=true \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
args=(); while IFS= read -r f; do args+=(--compare "$f"); done < "$WORK/folders.txt"
printf '%q ' "$BIN" dag demo "${args[@]}" > "$WORK/listed.sh"
cd "$WORK/project"
rows=$("$BIN" dag demo --compare | wc -l)
[ "$rows" = $((COMPARE_N + 1)) ] || { echo "compare_object_storage: $rows rows, expected $((COMPARE_N + 1))" >&2; exit 1; }
hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$RES/results.md" --export-json "$RES/results.json" \
    -n "every run ($COMPARE_N)" "$BIN dag demo --compare" \
    -n "$COMPARE_N folders listed" "bash $WORK/listed.sh"
{ uname -srm; nproc; uptime; } > "$RES/env.txt"
