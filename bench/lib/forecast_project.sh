# Shared by bench/experiment_run.sh and bench/experiment_batch.sh: sourced
# with BENCH_DIR and REPO set and NAME naming the temporary folder. Makes a
# standalone copy of examples/forecast in a fresh git repository (depending
# on this checkout's crates/gluers) under $TMP (removed on exit), builds the
# gluers binary ($GLUERS), runs `experiment init forecast` there and leaves
# the shell in the project ($PROJ), with the init's wall time in $INIT_S.
export GIT_AUTHOR_NAME="gluers bench" GIT_AUTHOR_EMAIL="bench@example.invalid"
export GIT_COMMITTER_NAME="gluers bench" GIT_COMMITTER_EMAIL="bench@example.invalid"
unset GLUERS_STORAGE_ROOT
say() { printf '== %s\n' "$*" >&2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gluers-$NAME.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export GLUERS_STATE_DIR="$TMP/state"
PROJ="$TMP/forecast"

say "building the gluers binary"
(cd "$REPO" && cargo build --quiet -p gluers-cli)
GLUERS="${CARGO_TARGET_DIR:-$REPO/target}/debug/gluers"

say "project in $PROJ"
mkdir -p "$PROJ/data"
cp -r "$REPO/examples/forecast/src" "$REPO/examples/forecast/configs" "$REPO/examples/forecast/.cargo" "$PROJ/"
cp -r "$REPO/examples/forecast/data/input" "$REPO/examples/forecast/data/holdout" "$REPO/examples/forecast/data/final" "$PROJ/data/"
{
    cat <<TOML
[package]
name = "forecast-bench"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
anyhow = "1"
clap = { version = "4.5", features = ["derive"] }
gluers = { path = "$REPO/crates/gluers" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

TOML
    awk '/^\[/ { on = ($0 ~ /^\[profile\.dev[].]/) } on' "$REPO/Cargo.toml"
} >"$PROJ/Cargo.toml"
sed -i 's/--package forecast //' "$PROJ/.cargo/config.toml"
cp "$REPO/Cargo.lock" "$PROJ/Cargo.lock"
printf '/target/\n/data/runs/\n' >"$PROJ/.gitignore"
cd "$PROJ"
cargo metadata --format-version 1 >/dev/null   # trims the copied lock file
git init --quiet -b main
git add --all
git commit --quiet -m "forecast example"

say "experiment init (first build of the dependencies into the engine's target folder)"
t0=$(date +%s.%N)
"$GLUERS" experiment init forecast --goal "lower forecast_mape" >"$TMP/init.out"
t1=$(date +%s.%N)
INIT_S=$(echo "$t1 - $t0" | bc -l)
