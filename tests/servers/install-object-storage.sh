#!/usr/bin/env bash
# Object-storage servers for tests/fixture/tests/object_storage*.rs, on
# loopback only: moto (S3, server mode) and gcp-storage-emulator (GCS) in a
# cached venv, Azurite (Azure Blob) from npm under a cached prefix. Versions
# are pinned; a second run only checks the stamps and is quick.
set -euo pipefail
SERVERS="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}"
VENV="$HOME/.cache/gluers-storage-venv"
NPM_PREFIX="$HOME/.cache/gluers-azurite"
MOTO_VERSION=5.2.5
GCS_EMULATOR_VERSION=2024.8.3
AZURITE_VERSION=3.37.0
mkdir -p "$SERVERS/bin"

stamp="moto[server]==$MOTO_VERSION gcp-storage-emulator==$GCS_EMULATOR_VERSION"
if [ "$(cat "$VENV/.gluers-stamp" 2>/dev/null)" != "$stamp" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "gcp-storage-emulator==$GCS_EMULATOR_VERSION"
    echo "$stamp" > "$VENV/.gluers-stamp"
fi
if [ "$(cat "$NPM_PREFIX/.gluers-stamp" 2>/dev/null)" != "azurite@$AZURITE_VERSION" ]; then
    command -v npm >/dev/null || { echo "install-object-storage: npm is needed for Azurite; install Node.js 18+" >&2; exit 1; }
    npm install --silent --no-audit --no-fund --prefix "$NPM_PREFIX" "azurite@$AZURITE_VERSION"
    echo "azurite@$AZURITE_VERSION" > "$NPM_PREFIX/.gluers-stamp"
fi
ln -sf "$VENV/bin/moto_server" "$SERVERS/bin/moto_server"
ln -sf "$VENV/bin/gcp-storage-emulator" "$SERVERS/bin/gcp-storage-emulator"
ln -sf "$NPM_PREFIX/node_modules/.bin/azurite-blob" "$SERVERS/bin/azurite-blob"
for tool in moto_server gcp-storage-emulator azurite-blob; do
    [ -x "$SERVERS/bin/$tool" ] || { echo "install-object-storage: $tool missing after install" >&2; exit 1; }
done
