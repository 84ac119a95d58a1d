#!/usr/bin/env bash
# Installs every tool and server the tests run, outside the clone and cached,
# so a second run is quick: Gluepy 1.6.0 (bench/setup-gluepy.sh), then each
# tests/servers/install-*.sh, which puts its programs in
# $GLUERS_SERVERS/bin (default ~/.cache/gluers-servers/bin). The tests start
# those servers themselves on 127.0.0.1 and stop them. Idempotent; a failed
# install fails the script.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GLUERS_SERVERS="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}"
mkdir -p "$GLUERS_SERVERS/bin"

bash "$HERE/../../bench/setup-gluepy.sh"
for script in "$HERE"/install-*.sh; do
    [ -e "$script" ] || continue
    start=$(date +%s)
    bash "$script"
    echo "setup: $(basename "$script") took $(( $(date +%s) - start )) s" >&2
done
