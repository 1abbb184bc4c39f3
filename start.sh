#!/usr/bin/env bash
# VOLT launcher.
#   ./start.sh                 set up what is missing, run the engine and the dashboard
#   ./start.sh test [ARGS]     set up the same way, run lint and the whole test suite
# Environment: VOLT_HOME (runtime dir, default ./var), VOLT_CONFIG (config file),
#              VOLT_DB_URL (any SQLAlchemy URL), VOLT_PORT (dashboard port, default 8501).
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
    "$PY" -m pytest "$@"
    local code=$?
    set -e
    if [ "$code" -eq 5 ]; then
        die "pytest collected no tests: that is a failure, not a pass"
    fi
    return "$code"
}

run_volt() {
    export VOLT_HOME=${VOLT_HOME:-$ROOT/var}
    mkdir -p "$VOLT_HOME/logs"
    local port=${VOLT_PORT:-8501}
    local config_args=()
    [ -n "${VOLT_CONFIG:-}" ] && config_args=(--config "$VOLT_CONFIG")
    # A bad config stops us here, before anything starts.
    "$PY" -m engine check "${config_args[@]}" || exit 2

    # Own sessions: a Ctrl-C in this terminal reaches only this script, which then stops the
    # supervisor (no new orders, then exit) and the dashboard in order.
    setsid "$PY" -m engine supervise "${config_args[@]}" &
    local supervisor=$!
    setsid "$PY" -m streamlit run app.py \
        --server.address 127.0.0.1 --server.port "$port" --server.headless true \
        --browser.gatherUsageStats false >>"$VOLT_HOME/logs/dashboard.log" 2>&1 &
    local dashboard=$!

    stop_all() {
        trap - INT TERM
        say "stopping: no new orders, then exit"
        kill -TERM "$supervisor" 2>/dev/null || true
        kill -TERM "$dashboard" 2>/dev/null || true
        wait "$supervisor" 2>/dev/null || true
        wait "$dashboard" 2>/dev/null || true
        say "stopped"
        exit 0
    }
    trap stop_all INT TERM

    say "dashboard: http://127.0.0.1:$port  (logs in $VOLT_HOME/logs; Ctrl-C stops VOLT)"
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
    trap - INT TERM
    kill -TERM "$supervisor" "$dashboard" 2>/dev/null || true
    wait 2>/dev/null || true
    exit "$code"
}

case "${1:-run}" in
    test) shift; setup; run_tests "$@" ;;
    run) setup; run_volt ;;
    -h|--help|help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1'; use ./start.sh, ./start.sh test or ./start.sh --help" ;;
esac
