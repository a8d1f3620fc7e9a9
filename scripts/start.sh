#!/usr/bin/env bash
# Brings Colab for VS Code up from a fresh clone: installs what is missing
# (scripts/setup.sh), builds the daemon and the extension (scripts/build.mjs), then
# serves VS Code (code-server) on loopback with the extension installed and prints the
# URL to open. Stays in the foreground; Ctrl+C stops code-server and the daemon.
#
# Environment:
#   COLAB_PORT        port to listen on (default 8080)
#   COLAB_HOST        address to bind (default 127.0.0.1)
#   COLAB_WORKSPACE   folder to open (default: the current directory)
#   COLAB_STATE_DIR   persistent VS Code profile and extensions
#                     (default ~/.local/share/colab-vscode-dev)
#   COLAB_TOOLS_DIR   where setup.sh keeps code-server (default ~/.cache/colab-vscode-tools)
#   COLAB_SKIP_SETUP=1  skip scripts/setup.sh (everything already installed)
#   COLAB_SKIP_BUILD=1  skip the build (already built)
set -euo pipefail
workspace="${COLAB_WORKSPACE:-$PWD}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
log() { printf '[start] %s\n' "$*" >&2; }

if [ "${COLAB_SKIP_SETUP:-0}" != 1 ]; then
  log "setup: installing what is missing (scripts/setup.sh)"
  bash scripts/setup.sh >&2
fi
if [ "${COLAB_SKIP_BUILD:-0}" != 1 ]; then
  log "build: daemon and extension (node scripts/build.mjs)"
  node scripts/build.mjs >&2
fi

# exec: node becomes the foreground process, so Ctrl+C reaches it and it stops
# code-server's whole process tree (extension host, daemon) before exiting.
exec node scripts/code-server.mjs \
  --host "${COLAB_HOST:-127.0.0.1}" \
  --port "${COLAB_PORT:-8080}" \
  --state-dir "${COLAB_STATE_DIR:-$HOME/.local/share/colab-vscode-dev}" \
  --workspace "$workspace"
