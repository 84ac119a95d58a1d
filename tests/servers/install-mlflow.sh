#!/usr/bin/env bash
# Installs a pinned MLflow tracking server (with its basic-auth app) into a
# cached venv outside the clone, and links `mlflow` into $GLUERS_SERVERS/bin
# for tests/fixture/tests/mlflow.rs. Idempotent: quick when already installed.
# `mlflow-skinny` has no server, so this is the full `mlflow` package.
set -euo pipefail
MLFLOW_VERSION="3.17.2"
VENV="${GLUERS_MLFLOW_VENV:-$HOME/.cache/gluers-mlflow-venv}"
BIN="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin"
PYTHON="${PYTHON:-python3}"
mkdir -p "$BIN"

installed() {
    "$VENV/bin/python" - "$MLFLOW_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("mlflow") == sys.argv[1]
m.version("Flask-WTF")  # the basic-auth app's extra
sys.exit(0 if ok else 1)
PY
}

if [ -x "$VENV/bin/python" ] && installed; then
    echo "install-mlflow: mlflow $MLFLOW_VERSION already installed in $VENV" >&2
else
    if [ ! -x "$VENV/bin/python" ]; then
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow[auth]==$MLFLOW_VERSION"
    installed || { echo "install-mlflow: mlflow $MLFLOW_VERSION did not install into $VENV" >&2; exit 1; }
fi
ln -sfn "$VENV/bin/mlflow" "$BIN/mlflow"
"$BIN/mlflow" --version >&2
