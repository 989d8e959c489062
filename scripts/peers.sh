# shellcheck shell=bash
#
# Real Kinesis peers for the end-to-end tests, on 127.0.0.1 only.
#
#   source scripts/peers.sh
#   peers_install            # idempotent; quick when already installed
#   trap peers_stop EXIT
#   peers_start              # exports KINESIS_LOCAL_URL, MOTO_URL, MOTO_NO_AUTH_COUNT
#   ...
#   peers_stop
#
# Peers:
#   * kinesis-local: the npm build (Scala.js, runs on Node) of kinesis-mock,
#     the Kinesis engine LocalStack uses. It does not check signatures.
#   * moto_server (moto[server] from PyPI) with INITIAL_NO_AUTH_ACTION_COUNT:
#     after that many unauthenticated calls every request's SigV4 signature
#     (and the caller's IAM policy) is checked. tests/e2e/conftest.py spends
#     those calls on creating an IAM user + access key + policy. Served one
#     request at a time (scripts/moto-serial.py): moto's Kinesis backend
#     loses records under concurrent PutRecords.
#
# Everything is installed under .peers/ (git-ignored) of this checkout:
#   .peers/node   npm install --prefix (kinesis-local)
#   .peers/jco    npm ci of tests/node/package.json + package-lock.json (jco,
#                 preview2-shim: the Node.js host of tests/e2e/test_node_host.py)
#   .peers/venv   python3 -m venv with tests/requirements.txt (moto, boto3, pytest)
#   .peers/logs   peer logs        .peers/run   pid/pgid files
# Network: only the npm registry and PyPI while installing; the peers listen
# on 127.0.0.1 only (peers_start verifies that with `ss`).
#
# Works when sourced into a `set -euo pipefail` shell and into a plain one:
# the functions return non-zero on error instead of exiting.

PEERS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$PEERS_REPO_ROOT/.peers}"

# Exact pins. kinesis-local is the npm name of kinesis-mock's JS build.
PEERS_KINESIS_LOCAL_VERSION="0.6.2"
PEERS_REQUIREMENTS="$PEERS_REPO_ROOT/tests/requirements.txt"
# The Node.js host test's packages: the whole tree is pinned by
# tests/node/package-lock.json; these are its two direct dependencies,
# checked after the install (bump them together with tests/node/package.json).
PEERS_NODE_HOST_DIR="$PEERS_REPO_ROOT/tests/node"
PEERS_JCO_VERSION="1.35.0"
PEERS_PREVIEW2_SHIM_VERSION="0.26.1"

# Unauthenticated calls moto allows before it checks every signature: the
# number of calls the moto_iam fixture in tests/e2e/conftest.py makes before
# it has its own access key (CreateUser, PutUserPolicy, CreateAccessKey = 3).
# The fixture fails if MOTO_NO_AUTH_COUNT is smaller and spends any surplus,
# so no window is left where unsigned or badly signed calls are accepted.
# Any request that reaches a moto service uses one up (an HTTP readiness
# probe would too), so peers_start only polls the TCP port.
PEERS_MOTO_NO_AUTH_COUNT="${PEERS_MOTO_NO_AUTH_COUNT:-3}"

# Seconds to wait for each peer to accept connections.
PEERS_START_TIMEOUT="${PEERS_START_TIMEOUT:-90}"

# PEERS_QUIET=1 silences progress messages (errors are always printed).
_peers_log() { [[ "${PEERS_QUIET:-0}" == "1" ]] || printf '[peers] %s\n' "$*" >&2; }
_peers_err() { printf '[peers] ERROR: %s\n' "$*" >&2; }

_peers_requirements_hash() {
    {
        cat "$PEERS_REQUIREMENTS"
        python3 -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

peers_install() {
    local node_dir="$PEERS_DIR/node" venv="$PEERS_DIR/venv"
    mkdir -p "$PEERS_DIR" "$PEERS_DIR/logs" "$PEERS_DIR/run" || return 1

    # --- kinesis-local (npm) ---
    local node_stamp="$PEERS_DIR/node.stamp" want_node="kinesis-local@$PEERS_KINESIS_LOCAL_VERSION"
    if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$want_node" &&
          -f "$node_dir/node_modules/kinesis-local/main.js" &&
          -f "$node_dir/node_modules/kinesis-local/server.json" ]]; then
        _peers_log "$want_node already installed"
    else
        if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
            _peers_err "node and npm are needed for kinesis-local"; return 1
        fi
        _peers_log "installing $want_node into $node_dir"
        rm -rf "$node_dir" "$node_stamp"
        mkdir -p "$node_dir" || return 1
        npm install --prefix "$node_dir" --save-exact --no-audit --no-fund \
            --loglevel=error "$want_node" >&2 || { _peers_err "npm install $want_node failed"; return 1; }
        local got
        got="$(node -p "require('$node_dir/node_modules/kinesis-local/package.json').version")" || return 1
        [[ "$got" == "$PEERS_KINESIS_LOCAL_VERSION" ]] || {
            _peers_err "installed kinesis-local $got, wanted $PEERS_KINESIS_LOCAL_VERSION"; return 1; }
        printf '%s\n' "$want_node" >"$node_stamp"
    fi

    # --- jco + preview2-shim (npm ci from tests/node): the Node.js host test ---
    local jco_dir="$PEERS_DIR/jco" jco_stamp="$PEERS_DIR/jco.stamp" want_jco
    want_jco="$(cat "$PEERS_NODE_HOST_DIR/package.json" "$PEERS_NODE_HOST_DIR/package-lock.json" |
                sha256sum | cut -d' ' -f1)" || return 1
    local jco_pkg="$jco_dir/node_modules/@bytecodealliance/jco/package.json"
    local shim_pkg="$jco_dir/node_modules/@bytecodealliance/preview2-shim/package.json"
    if [[ -f "$jco_stamp" && "$(cat "$jco_stamp")" == "$want_jco" && -f "$jco_pkg" && -f "$shim_pkg" &&
          -f "$jco_dir/node_modules/.bin/jco" ]]; then
        _peers_log "jco@$PEERS_JCO_VERSION and preview2-shim@$PEERS_PREVIEW2_SHIM_VERSION already installed"
    else
        if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
            _peers_err "node and npm are needed for jco"; return 1
        fi
        _peers_log "installing jco@$PEERS_JCO_VERSION and preview2-shim@$PEERS_PREVIEW2_SHIM_VERSION into $jco_dir (npm ci, tests/node/package-lock.json)"
        rm -rf "$jco_dir" "$jco_stamp"
        mkdir -p "$jco_dir" || return 1
        cp "$PEERS_NODE_HOST_DIR/package.json" "$PEERS_NODE_HOST_DIR/package-lock.json" "$jco_dir/" || return 1
        npm ci --prefix "$jco_dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2 || {
            _peers_err "npm ci of tests/node/package-lock.json failed"; return 1; }
        local got_jco got_shim
        got_jco="$(node -p "require('$jco_pkg').version")" || return 1
        got_shim="$(node -p "require('$shim_pkg').version")" || return 1
        [[ "$got_jco" == "$PEERS_JCO_VERSION" && "$got_shim" == "$PEERS_PREVIEW2_SHIM_VERSION" ]] || {
            _peers_err "installed jco $got_jco and preview2-shim $got_shim, wanted $PEERS_JCO_VERSION and $PEERS_PREVIEW2_SHIM_VERSION"
            return 1; }
        printf '%s\n' "$want_jco" >"$jco_stamp"
    fi

    # --- Python venv: moto[server], boto3, pytest (tests/requirements.txt) ---
    local venv_stamp="$PEERS_DIR/venv.stamp" want_venv
    want_venv="$(_peers_requirements_hash)" || return 1
    if [[ -f "$venv_stamp" && "$(cat "$venv_stamp")" == "$want_venv" &&
          -x "$venv/bin/moto_server" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
        _peers_log "python venv up to date ($venv)"
    else
        _peers_log "creating python venv $venv from tests/requirements.txt"
        rm -rf "$venv" "$venv_stamp"
        python3 -m venv "$venv" || { _peers_err "python3 -m venv failed"; return 1; }
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$PEERS_REQUIREMENTS" >&2 || { _peers_err "pip install -r tests/requirements.txt failed"; return 1; }
        printf '%s\n' "$want_venv" >"$venv_stamp"
    fi
}

# Prints N distinct free TCP ports on 127.0.0.1 (all held open until all are
# chosen, so they differ from each other).
_peers_free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# _peers_spawn NAME LOGFILE CMD... : runs CMD in a new session (so it is the
# leader of its own process group) with stdin from /dev/null, output to
# LOGFILE; records the group id in .peers/run/NAME.pgid.
_peers_spawn() {
    local name="$1" log="$2"; shift 2
    local pidfile="$PEERS_DIR/run/$name.pgid"
    rm -f "$pidfile"
    # The inner shell writes its own pid (== the new session and group id,
    # whether or not setsid had to fork) and then execs the peer, which keeps
    # that pid. PEERS_TAG marks the process as ours for peers_stop.
    # shellcheck disable=SC2016 # $$ and $@ expand in the inner shell
    PEERS_TAG="$PEERS_DIR" setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
        "$pidfile" "$@" </dev/null >"$log" 2>&1 &
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.05
    done
    _peers_err "$name did not start (no pid file)"
    return 1
}

# True while the group (== session, see _peers_spawn) has a live member.
# Zombies do not count: the peers are orphans reaped by PID 1, which may be
# slow to do it, and `kill -0` succeeds on a zombie.
_peers_group_alive() {
    # shellcheck disable=SC2009 # pgrep cannot filter out zombies
    ps -o stat= -s "$1" 2>/dev/null | grep -qv '^Z'
}

_peers_tail() {
    local log="$1"
    printf '[peers] ---- last lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2 2>/dev/null || true
    printf '[peers] ----\n' >&2
}

# _peers_wait_port NAME PORT LOG : waits until 127.0.0.1:PORT accepts TCP
# connections (no HTTP request: for moto that would use up an unauthenticated
# call) while the peer's process group is still alive.
_peers_wait_port() {
    local name="$1" port="$2" log="$3" pgid deadline
    pgid="$(cat "$PEERS_DIR/run/$name.pgid")" || return 1
    deadline=$((SECONDS + PEERS_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! _peers_group_alive "$pgid"; then
            _peers_err "$name exited before listening on 127.0.0.1:$port"
            _peers_tail "$log"
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    _peers_err "$name not listening on 127.0.0.1:$port after ${PEERS_START_TIMEOUT}s"
    _peers_tail "$log"
    return 1
}

# _peers_check_loopback NAME PORT... : every listener of the peer's process
# group must be on 127.0.0.1, and each given port must be among them.
_peers_check_loopback() {
    local name="$1"; shift
    command -v ss >/dev/null || { _peers_log "ss not found; skipping the loopback-only check"; return 0; }
    local pgid pids line addr pid port ok=0
    pgid="$(cat "$PEERS_DIR/run/$name.pgid")" || return 1
    pids=" $(ps -o pid= -s "$pgid" | tr -s ' \n' '  ') "
    while read -r line; do
        addr="$(awk '{print $4}' <<<"$line")"
        pid="$(grep -o 'pid=[0-9]*' <<<"$line" | head -n1 | cut -d= -f2)"
        [[ -n "$pid" && "$pids" == *" $pid "* ]] || continue
        if [[ "$addr" != 127.0.0.1:* ]]; then
            _peers_err "$name listens on $addr (not 127.0.0.1 only)"
            ss -Hltnp | grep -F "pid=$pid," >&2
            return 1
        fi
        ok=$((ok + 1))
    done < <(ss -Hltnp)
    for port in "$@"; do
        ss -Hltn "sport = :$port" | awk '{print $4}' | grep -qx "127.0.0.1:$port" || {
            _peers_err "$name: nothing on 127.0.0.1:$port"; return 1; }
    done
    ((ok > 0)) || { _peers_err "$name: no listening socket found"; return 1; }
}

peers_start() {
    local node_pkg="$PEERS_DIR/node/node_modules/kinesis-local" venv="$PEERS_DIR/venv"
    [[ -f "$node_pkg/main.js" && -x "$venv/bin/moto_server" ]] || {
        _peers_err "peers are not installed: run peers_install first"; return 1; }
    peers_stop # stale peers of an earlier run that was killed
    mkdir -p "$PEERS_DIR/logs" "$PEERS_DIR/run" "$PEERS_DIR/kinesis-data" || return 1

    local ports kl_plain kl_tls moto_port
    ports="$(_peers_free_ports 3)" || return 1
    read -r kl_plain kl_tls moto_port <<<"$ports"

    # kinesis-local settings (env names read from its README and main.js):
    #   KINESIS_MOCK_PLAIN_PORT (default 4568, http), KINESIS_MOCK_TLS_PORT
    #   (default 4567, https), KINESIS_MOCK_CERT_PATH (default "server.json"
    #   relative to the cwd: the self-signed cert bundled in the package),
    #   SHARD_LIMIT (default 50, counts every shard created in the process),
    #   ON_DEMAND_STREAM_COUNT_LIMIT (default 10), *_DURATION (default 500ms:
    #   how long a stream stays CREATING/DELETING/UPDATING ...).
    # It binds 0.0.0.0 (dual-stack ::) itself; scripts/loopback-only.js moves
    # every listen to 127.0.0.1.
    local kl_log="$PEERS_DIR/logs/kinesis-local.log"
    _peers_log "starting kinesis-local on 127.0.0.1:$kl_plain (http) / :$kl_tls (https); log $kl_log"
    (
        cd "$PEERS_DIR/kinesis-data" || exit 1
        export KINESIS_MOCK_PLAIN_PORT="$kl_plain"
        export KINESIS_MOCK_TLS_PORT="$kl_tls"
        export KINESIS_MOCK_CERT_PATH="$node_pkg/server.json"
        export AWS_REGION=us-east-1
        export SHARD_LIMIT=100000
        export ON_DEMAND_STREAM_COUNT_LIMIT=1000
        local d
        for d in CREATE_STREAM DELETE_STREAM REGISTER_STREAM_CONSUMER DEREGISTER_STREAM_CONSUMER \
                 START_STREAM_ENCRYPTION STOP_STREAM_ENCRYPTION MERGE_SHARDS SPLIT_SHARD \
                 UPDATE_SHARD_COUNT UPDATE_STREAM_MODE; do
            export "${d}_DURATION=10ms"
        done
        export SHOULD_PERSIST_DATA=false LOAD_DATA_IF_EXISTS=false
        export LOG_LEVEL="${KINESIS_LOCAL_LOG_LEVEL:-WARN}"
        export LOOPBACK_ONLY_HOST=127.0.0.1
        _peers_spawn kinesis-local "$kl_log" \
            node -r "$PEERS_REPO_ROOT/scripts/loopback-only.js" "$node_pkg/main.js"
    ) || return 1

    local moto_log="$PEERS_DIR/logs/moto.log"
    _peers_log "starting moto_server on 127.0.0.1:$moto_port (INITIAL_NO_AUTH_ACTION_COUNT=$PEERS_MOTO_NO_AUTH_COUNT); log $moto_log"
    (
        cd "$PEERS_DIR" || exit 1
        export INITIAL_NO_AUTH_ACTION_COUNT="$PEERS_MOTO_NO_AUTH_COUNT"
        # One request at a time: moto's Kinesis loses records under
        # concurrent PutRecords (see scripts/moto-serial.py).
        export MOTO_PORT="$moto_port"
        _peers_spawn moto "$moto_log" "$venv/bin/python" "$PEERS_REPO_ROOT/scripts/moto-serial.py" 127.0.0.1 "$moto_port"
    ) || return 1

    _peers_wait_port kinesis-local "$kl_plain" "$kl_log" || return 1
    _peers_wait_port kinesis-local "$kl_tls" "$kl_log" || return 1
    _peers_wait_port moto "$moto_port" "$moto_log" || return 1
    _peers_check_loopback kinesis-local "$kl_plain" "$kl_tls" || return 1
    _peers_check_loopback moto "$moto_port" || return 1

    export KINESIS_LOCAL_URL="http://127.0.0.1:$kl_plain"
    export KINESIS_LOCAL_TLS_URL="https://127.0.0.1:$kl_tls"
    export MOTO_URL="http://127.0.0.1:$moto_port"
    export MOTO_NO_AUTH_COUNT="$PEERS_MOTO_NO_AUTH_COUNT"
    _peers_log "ready: KINESIS_LOCAL_URL=$KINESIS_LOCAL_URL MOTO_URL=$MOTO_URL MOTO_NO_AUTH_COUNT=$MOTO_NO_AUTH_COUNT"
}

# True when the process group still has a member started by peers_spawn
# from this checkout (guards against a recycled pgid after a reboot).
_peers_group_is_ours() {
    local pgid="$1" pid
    for pid in $(ps -o pid= -s "$pgid" 2>/dev/null); do
        tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "PEERS_TAG=$PEERS_DIR" && return 0
    done
    return 1
}

peers_stop() {
    local f name pgid i
    for f in "$PEERS_DIR"/run/*.pgid; do
        [[ -f "$f" ]] || continue
        name="$(basename "$f" .pgid)"
        pgid="$(cat "$f" 2>/dev/null)"
        if [[ "$pgid" =~ ^[0-9]+$ ]] && _peers_group_is_ours "$pgid"; then
            _peers_log "stopping $name (process group $pgid)"
            kill -TERM -- "-$pgid" 2>/dev/null || true
            # moto exits at once; kinesis-local (a cats-effect app on Node)
            # does not exit on SIGTERM or SIGINT at all, so after a short
            # grace period the group gets SIGKILL (its state is in memory).
            for ((i = 0; i < 30; i++)); do
                _peers_group_alive "$pgid" || break
                sleep 0.1
            done
            if _peers_group_alive "$pgid"; then
                _peers_log "$name still running 3s after SIGTERM; sending SIGKILL"
                kill -KILL -- "-$pgid" 2>/dev/null || true
                for ((i = 0; i < 50; i++)); do
                    _peers_group_alive "$pgid" || break
                    sleep 0.1
                done
            fi
        fi
        rm -f "$f"
    done
    unset KINESIS_LOCAL_URL KINESIS_LOCAL_TLS_URL MOTO_URL MOTO_NO_AUTH_COUNT
    return 0
}
