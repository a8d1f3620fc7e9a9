#!/usr/bin/env bash
# Installs everything the product and its tests need on a fresh Debian machine.
# Idempotent: each step is skipped when its result is already there.
# Usage: scripts/setup.sh [--no-e2e]   (--no-e2e skips code-server and Chromium)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
want_e2e=1
[ "${1:-}" = "--no-e2e" ] && want_e2e=0
tools="${COLAB_TOOLS_DIR:-$HOME/.cache/colab-vscode-tools}"
log() { printf '[setup] %s\n' "$*" >&2; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------
apt_pkgs=(ca-certificates curl git python3 jupyter-server python3-ipykernel python3-nbformat python3-numpy python3-torch python3-sklearn)
apt_pkgs+=(python3-terminado)  # terminals on a runtime (issue 3)
apt_pkgs+=(zip unzip)  # Drive: datasets to the runtime, and the extraction benchmark's peer (issue 6)
if [ "$want_e2e" = 1 ]; then
  apt_pkgs+=(build-essential pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep chromium)
fi
# The Remote-SSH test (tests/remote): sshd on loopback as "the remote", ssh to drive it, gcc for the fake NVML;
# unzip for bench/package.mjs.
apt_pkgs+=(openssh-server openssh-client gcc unzip)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- .NET SDK ----------------------------------------------------------------
if ! command -v dotnet >/dev/null 2>&1; then
  log "dotnet: not found. Install the .NET 10 SDK (https://dot.net) and re-run."
  exit 1
fi
# --- Node ---------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  log "node: installing Debian's nodejs and npm"
  sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq nodejs npm >&2
fi

# --- npm workspace -----------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm: installing workspace dependencies"
  npm ci --no-audit --no-fund --loglevel=error >&2 || npm install --no-audit --no-fund --loglevel=error >&2
fi

# --- NuGet restore -------------------------------------------------------------
log "dotnet: restoring NuGet packages"
dotnet restore ColabDaemon.sln -v q >&2

# --- code-server for the end-to-end tests (recipe: shared/notes/vscode-e2e.md) -
if [ "$want_e2e" = 1 ]; then
  cs="$tools/code-server"
  if [ ! -f "$cs/.ready" ]; then
    log "code-server: installing into $cs (several minutes on 2 cores)"
    mkdir -p "$cs"
    ( cd "$cs"
      [ -f package.json ] || echo '{"name":"colab-tools","private":true}' > package.json
      npm install --no-audit --no-fund --loglevel=error --ignore-scripts code-server@4.100.3 >&2
      vs=node_modules/code-server/lib/vscode
      ( cd "$vs"
        npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts >&2
        mkdir -p node_modules/@vscode/ripgrep/bin
        ln -sf /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
        ( cd node_modules/node-pty && npx --yes node-gyp rebuild >&2 )
        npm rebuild @parcel/watcher @vscode/spdlog native-watchdog @vscode/deviceid kerberos >&2 || true
        [ -e node_modules.asar ] || ln -s node_modules node_modules.asar
        ( cd extensions && npm install --no-audit --no-fund --loglevel=error --omit=dev >&2 )
      )
      npm rebuild argon2 >&2
      find . -path '*argon2/lib/binding/napi-v3/argon2.node' | grep -q . || { log "code-server: argon2 binding missing"; exit 1; }
    )
    touch "$cs/.ready"
  fi
fi
log "setup complete"
