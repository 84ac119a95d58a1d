#!/usr/bin/env bash
# Idempotent: create bench/.venv with Gluepy 1.6.0 (the reference implementation),
# pandas and pyarrow. Safe to run repeatedly; does nothing if already installed.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The venv is kept outside the clone (CI starts from a fresh clone each
# time); bench/.venv links to it.
VENV="${GLUERS_GLUEPY_VENV:-$HOME/.cache/gluers-gluepy-venv}"
if [ ! -e "$BENCH_DIR/.venv" ] || [ -L "$BENCH_DIR/.venv" ]; then
    mkdir -p "$VENV"
    ln -sfn "$VENV" "$BENCH_DIR/.venv"
fi
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    rm -rf "$VENV"
    echo "setup-gluepy: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

want_ok() {
    "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("gluepy") == "1.6.0"
for p in ("pandas", "pyarrow"):
    m.version(p)
sys.exit(0 if ok else 1)
PY
}

if want_ok; then
    echo "setup-gluepy: gluepy 1.6.0, pandas, pyarrow already installed in $VENV" >&2
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "gluepy==1.6.0" pandas pyarrow
fi
"$VENV/bin/python" -c 'import gluepy, pandas, pyarrow; import importlib.metadata as m; print("gluepy", m.version("gluepy"), "pandas", pandas.__version__, "pyarrow", pyarrow.__version__)'
