#!/usr/bin/env bash
# Installs what tests/fixture/tests/celery_worker.rs runs: Redis from
# Debian's packages (the system service is never started: the tests start
# their own redis-server on 127.0.0.1) and the real `celery` client with its
# Redis transport, pinned, in a cached venv outside the clone. Links
# `redis-server` and `celery-python` (the venv's python) into
# $GLUERS_SERVERS/bin. Idempotent: quick when already installed.
set -euo pipefail
CELERY_VERSION="5.5.3"
REDIS_PY_VERSION="5.2.1"
VENV="${GLUERS_CELERY_VENV:-$HOME/.cache/gluers-celery-venv}"
BIN="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin"
PYTHON="${PYTHON:-python3}"
mkdir -p "$BIN"

if ! command -v redis-server >/dev/null 2>&1; then
    echo "install-celery: installing redis-server from Debian's packages" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # policy-rc.d-free: the package's service is not started in containers
    # without an init; where there is one, it is stopped below.
    $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null \
        || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null; }
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
        $SUDO systemctl stop redis-server || true
        $SUDO systemctl disable redis-server || true
    fi
fi
command -v redis-server >/dev/null 2>&1 || { echo "install-celery: redis-server did not install" >&2; exit 1; }

installed() {
    "$VENV/bin/python" - "$CELERY_VERSION" "$REDIS_PY_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("celery") == sys.argv[1] and m.version("redis") == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}

if [ -x "$VENV/bin/python" ] && installed; then
    echo "install-celery: celery $CELERY_VERSION already installed in $VENV" >&2
else
    if [ ! -x "$VENV/bin/python" ]; then
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "celery[redis]==$CELERY_VERSION" "redis==$REDIS_PY_VERSION"
    installed || { echo "install-celery: celery $CELERY_VERSION did not install into $VENV" >&2; exit 1; }
fi
ln -sfn "$(command -v redis-server)" "$BIN/redis-server"
# A wrapper, not a link: a linked venv python does not find its venv.
rm -f "$BIN/celery-python"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$VENV/bin/python" > "$BIN/celery-python"
chmod +x "$BIN/celery-python"
"$BIN/redis-server" --version >&2
"$BIN/celery-python" -c 'import celery, kombu; print("celery", celery.__version__, "kombu", kombu.__version__)' >&2
