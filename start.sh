#!/usr/bin/env bash
# VOLT launcher.
#   ./start.sh                 set up what is missing, run the engine and the dashboard
#   ./start.sh --detach        the same in the background, immune to a closed terminal
#   ./start.sh status          running or not, pids, uptime, mode, age of the last tick
#   ./start.sh stop            stop in order (no new orders, then exit); force after a timeout
#   ./start.sh test [ARGS]     set up the same way, run lint and the whole test suite
# Environment: VOLT_HOME (runtime dir, default ./var), VOLT_CONFIG (config file),
#              VOLT_DB_URL (any SQLAlchemy URL), VOLT_PORT (dashboard port, default 8501),
#              VOLT_STOP_TIMEOUT (seconds before stop forces, default 60).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf 'volt: %s\n' "$*"; }
die() { printf 'volt: %s\n' "$*" >&2; exit 1; }

setup() {
    local python=${VOLT_PYTHON:-python3}
    command -v "$python" >/dev/null || die "python3 not found; install Python 3.11 or newer"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is needed; $("$python" --version 2>&1) found"
    # Rebuild the environment whenever requirements.txt changes.
    if [ -x "$PY" ] && cmp -s requirements.txt "$VENV/.installed-requirements"; then
        return
    fi
    say "setting up $VENV from requirements.txt (first run only)"
    [ -x "$PY" ] || "$python" -m venv "$VENV"
    "$PY" -m pip install --disable-pip-version-check --quiet --upgrade pip 2>/dev/null || true
    "$PY" -m pip install --disable-pip-version-check --quiet -r requirements.txt \
        || die "installing requirements.txt failed (see pip's message above)"
    cp requirements.txt "$VENV/.installed-requirements"
}

run_tests() {
    set +e
    # Two workers, a test file each at a time: most of the suite waits on processes and
    # timeouts, so two files at once halve the wall time on a 2-core machine.
    # The slowest tests are listed at the end: the suite must stay under 10 minutes in CI.
    "$PY" -m pytest -n "${VOLT_TEST_WORKERS:-2}" --dist loadfile --durations=25 "$@"
    local code=$?
    set -e
    if [ "$code" -eq 5 ]; then
        die "pytest collected no tests: that is a failure, not a pass"
    fi
    return "$code"
}

use_home() {
    export VOLT_HOME=${VOLT_HOME:-$ROOT/var}
    mkdir -p "$VOLT_HOME/logs" 2>/dev/null || true
}

need_writable_home() {
    # One line naming the cause, not a shell error per file, when VOLT_HOME cannot be written.
    local probe="$VOLT_HOME/.volt-write-check"
    [ -d "$VOLT_HOME/logs" ] || die "VOLT_HOME=$VOLT_HOME cannot be created (read-only filesystem or no permission); set VOLT_HOME to a writable folder"
    if ! (printf 'volt\n' >"$probe") 2>/dev/null; then
        rm -f "$probe" 2>/dev/null || true
        die "VOLT_HOME=$VOLT_HOME cannot be written (read-only, no permission, or the disk is full); free space or set VOLT_HOME to a writable folder"
    fi
    rm -f "$probe"
}

hold_launcher_lock() {
    # One launcher per VOLT_HOME: only the holder writes and removes the pid files, so a
    # second ./start.sh never touches the running one's. The children do not inherit it.
    exec 9>>"$VOLT_HOME/launcher.lock"
    if ! flock -n 9; then
        "$PY" -m engine status >&2 || true
        die "VOLT is already running with VOLT_HOME=$VOLT_HOME (another ./start.sh holds $VOLT_HOME/launcher.lock); stop it first: ./start.sh stop"
    fi
}

refuse_second_start_of_engine() {
    # An engine started another way (python -m engine supervise) runs without a launcher.
    if "$PY" -m engine status >/dev/null 2>&1; then
        "$PY" -m engine status >&2 || true
        die "VOLT is already running with VOLT_HOME=$VOLT_HOME; stop it first: ./start.sh stop"
    fi
}

refuse_second_start() {
    if ! flock -n "$VOLT_HOME/launcher.lock" true 2>/dev/null; then
        "$PY" -m engine status >&2 || true
        die "VOLT is already running with VOLT_HOME=$VOLT_HOME; stop it first: ./start.sh stop"
    fi
    refuse_second_start_of_engine
}

check_config() {
    # A bad config stops us here, before anything starts.
    "$PY" -m engine check "${config_args[@]}" || exit 2
}

dashboard_address() {
    # Loopback unless the config says otherwise (check_config has already validated it).
    local address
    address=$("$PY" -m engine check --dashboard-address "${config_args[@]}" 2>/dev/null) || true
    echo "${address:-127.0.0.1}"
}

dashboard_host() {
    # Where to reach the dashboard from this machine: its configured address, or loopback
    # when it listens on every interface.
    case "$1" in
        "" | 0.0.0.0 | :: | localhost) echo 127.0.0.1 ;;
        *:*) echo "[$1]" ;;
        *) echo "$1" ;;
    esac
}

dashboard_up() {
    "$PY" -c 'import sys, urllib.request as u
sys.exit(u.urlopen(sys.argv[1], timeout=2).read() != b"ok")' \
        "http://$DASHBOARD_HOST:${VOLT_PORT:-8501}/_stcore/health" 2>/dev/null
}

detach() {
    use_home
    need_writable_home
    check_config  # first: a store that swallows packets is given up on once, in seconds
    refuse_second_start
    DASHBOARD_HOST=$(dashboard_host "$(dashboard_address)")
    # Own session and no terminal: closing the terminal cannot send it SIGHUP.
    VOLT_DETACHED=1 setsid nohup "$ROOT/start.sh" run </dev/null >>"$VOLT_HOME/logs/volt.log" 2>&1 &
    local launcher=$!
    for _ in $(seq 1 120); do
        if ! kill -0 "$launcher" 2>/dev/null; then
            tail -n 20 "$VOLT_HOME/logs/volt.log" >&2
            die "VOLT did not start (see $VOLT_HOME/logs/volt.log)"
        fi
        if "$PY" -m engine status >/dev/null 2>&1 && dashboard_up; then
            "$PY" -m engine status
            say "dashboard: http://$DASHBOARD_HOST:${VOLT_PORT:-8501}"
            say "running in the background; logs in $VOLT_HOME/logs; stop with ./start.sh stop"
            exit 0
        fi
        sleep 1
    done
    die "VOLT did not come up within 120 s (see $VOLT_HOME/logs/volt.log)"
}

run_volt() {
    use_home
    need_writable_home
    hold_launcher_lock
    local port=${VOLT_PORT:-8501}
    check_config  # first: a store that swallows packets is given up on once, in seconds
    refuse_second_start_of_engine
    local address host
    address=$(dashboard_address)
    host=$(dashboard_host "$address")

    local supervisor="" dashboard=""
    stop_all() {
        trap - INT TERM HUP
        say "stopping: no new orders, then exit"
        [ -n "$supervisor" ] && kill -TERM "$supervisor" 2>/dev/null || true
        [ -n "$dashboard" ] && kill -TERM "$dashboard" 2>/dev/null || true
        wait 2>/dev/null || true
        rm -f "$VOLT_HOME/launcher.pid" "$VOLT_HOME/dashboard.pid"
        say "stopped"
        exit 0
    }
    # Set before any child starts; a closed terminal (HUP) stops in order too.
    trap stop_all INT TERM HUP

    # Own sessions: a Ctrl-C in this terminal reaches only this script, which then stops the
    # supervisor (no new orders, then exit) and the dashboard in order.
    setsid "$PY" -m engine supervise "${config_args[@]}" 9>&- &
    supervisor=$!
    setsid "$PY" -m streamlit run app.py \
        --server.address "$address" --server.port "$port" --server.headless true \
        --browser.gatherUsageStats false >>"$VOLT_HOME/logs/dashboard.log" 2>&1 9>&- &
    dashboard=$!
    echo $$ >"$VOLT_HOME/launcher.pid"
    echo "$dashboard" >"$VOLT_HOME/dashboard.pid"

    say "dashboard: http://$host:$port  (logs in $VOLT_HOME/logs; Ctrl-C stops VOLT)"
    while kill -0 "$supervisor" 2>/dev/null && kill -0 "$dashboard" 2>/dev/null; do
        sleep 1
    done
    if ! kill -0 "$supervisor" 2>/dev/null; then
        wait "$supervisor" && code=0 || code=$?
        say "the supervisor exited (code $code); stopping the dashboard"
    else
        say "the dashboard exited (is port $port in use? see $VOLT_HOME/logs/dashboard.log)"
        code=1
    fi
    trap - INT TERM HUP
    kill -TERM "$supervisor" "$dashboard" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -f "$VOLT_HOME/launcher.pid" "$VOLT_HOME/dashboard.pid"
    exit "$code"
}

config_args=()
[ -n "${VOLT_CONFIG:-}" ] && config_args=(--config "$VOLT_CONFIG")

case "${1:-run}" in
    test) shift; setup; run_tests "$@" ;;
    run) setup; run_volt ;;
    --detach|-d|detach) setup; detach ;;
    status) setup; use_home; exec "$PY" -m engine status ;;
    stop) setup; use_home; exec "$PY" -m engine stop --timeout "${VOLT_STOP_TIMEOUT:-60}" ;;
    -h|--help|help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1'; see ./start.sh --help" ;;
esac
