#!/usr/bin/env bash
# Installs Apache Airflow (pinned) and its Kubernetes provider into a cached
# venv outside the clone, for tests/fixture/tests/airflow.rs, and puts the
# venv's python and airflow as `airflow-python` and `airflow` into $GLUERS_SERVERS/bin.
#
# Every package is pinned by tests/servers/airflow-constraints.txt (a freeze
# of a working install of the versions below for Python 3.11), the same role
# Airflow's official constraints file plays, kept in the repository so the
# install does not depend on raw.githubusercontent.com being reachable.
# Idempotent: quick when the pinned versions are already installed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIRFLOW_VERSION="2.10.5"
K8S_PROVIDER_VERSION="10.1.0"
VENV="${GLUERS_AIRFLOW_VENV:-$HOME/.cache/gluers-airflow-venv}"
BIN="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin"
# The pins are for Python 3.11: python3.11, or python3 when it is 3.11.
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3.11
    if ! command -v python3.11 >/dev/null && command -v python3 >/dev/null \
        && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        PYTHON=python3
    fi
fi
CONSTRAINTS="$HERE/airflow-constraints.txt"
mkdir -p "$BIN"

installed() {
    "$VENV/bin/python" - "$AIRFLOW_VERSION" "$K8S_PROVIDER_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = (m.version("apache-airflow") == sys.argv[1]
      and m.version("apache-airflow-providers-cncf-kubernetes") == sys.argv[2])
sys.exit(0 if ok else 1)
PY
}

if [ -x "$VENV/bin/python" ] && installed; then
    echo "install-airflow: apache-airflow $AIRFLOW_VERSION already installed in $VENV" >&2
else
    if ! command -v "$PYTHON" >/dev/null; then
        echo "install-airflow: $PYTHON not found; Airflow $AIRFLOW_VERSION needs Python 3.11 (set PYTHON=...)" >&2
        exit 1
    fi
    rm -rf "$VENV"
    echo "install-airflow: creating $VENV (apache-airflow $AIRFLOW_VERSION)" >&2
    "$PYTHON" -m venv "$VENV"
    constraint_args=()
    [ -f "$CONSTRAINTS" ] && constraint_args=(--constraint "$CONSTRAINTS")
    "$VENV/bin/python" -m pip install --quiet \
        "apache-airflow==$AIRFLOW_VERSION" \
        "apache-airflow-providers-cncf-kubernetes==$K8S_PROVIDER_VERSION" \
        "${constraint_args[@]}"
    installed || { echo "install-airflow: the install in $VENV does not report the pinned versions" >&2; exit 1; }
fi
# Wrappers, not symlinks: a venv's python finds its packages only when run
# by its own path.
for name in airflow-python airflow; do
    target="$VENV/bin/python"
    [ "$name" = airflow ] && target="$VENV/bin/airflow"
    rm -f "$BIN/$name"
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$target" > "$BIN/$name"
    chmod +x "$BIN/$name"
done
"$VENV/bin/python" -c 'import importlib.metadata as m; print("airflow", m.version("apache-airflow"), "cncf-kubernetes", m.version("apache-airflow-providers-cncf-kubernetes"))'
