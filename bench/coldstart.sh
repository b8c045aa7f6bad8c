#!/usr/bin/env bash
# Cold-start overhead of Berth, per app: (a) the app alone, exec -> first HTTP 200 (polled every ~1 ms),
# against (b) the first response through Berth to a request that arrives while the app is stopped.
# overhead = median(b) - median(a); target < 5 ms.
#
#   bench/coldstart.sh              # python3 -m http.server, gunicorn + Flask (Debian packages), pysocket
#   APPS=httpserver RUNS=11 bench/coldstart.sh
#
# pysocket is a 17-line Python socket server run with python3 -I -S: it boots in 10-20 ms with little
# variance, so its b - a shows Berth's own share most precisely.
#
# Berth (bin/berth serve from this checkout) is started once with all the apps (idle_timeout = "1s"), warmed
# up (one discarded cold start per app, then WARM_REQS requests), and between runs every app is left to
# stop: the script polls the admin /health until each app's state is "stopped". (a) runs the same
# command string as the apps file, with /bin/sh -c, the same clean environment (PORT, HOST=127.0.0.1,
# PATH, HOME...) and working directory. Runs of (a) and (b) are interleaved. See coldstart.py.
#
# Knobs (env): RUNS=21 APPS="httpserver gunicorn pysocket" (gunicorn is skipped if it cannot be installed)
#   WARM_REQS=1000 TIMEOUT=60 (s per run) QUIET_PCT=10 QUIET_MAX=5 (s, bounded wait for a quiet box per run)
#   BERTH_PORT=19190 BERTH_ADMIN_PORT=19191 BERTH_APP_PORTS=19200-19299 PROBE_PORT=19500
#   BERTH=<repo>/bin/berth BERTH_JAVA_OPTS BERTH_ARGS (extra serve flags)  OUT_DIR (default bench/results/coldstart-<time>)
# Output: tables, medians and p90s; the last line is "coldstart overhead, median(b) - median(a): ...".
# The printed output is also in $OUT_DIR/summary.txt. Exit 0 ok, 1 failure.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

export RUNS=${RUNS:-21}
export WARM_REQS=${WARM_REQS:-1000}
export TIMEOUT=${TIMEOUT:-60}
export QUIET_PCT=${QUIET_PCT:-10}
export QUIET_MAX=${QUIET_MAX:-5}
APPS=${APPS:-"httpserver gunicorn pysocket"}
BERTH_PORT=${BERTH_PORT:-19190}
BERTH_ADMIN_PORT=${BERTH_ADMIN_PORT:-19191}
BERTH_APP_PORTS=${BERTH_APP_PORTS:-19200-19299}
PROBE_PORT=${PROBE_PORT:-19500}
BERTH=${BERTH:-$ROOT/bin/berth}
OUT_DIR=${OUT_DIR:-$HERE/results/coldstart-$(date +%Y%m%d-%H%M%S)}
SYSPY=/usr/bin/python3          # Debian's python: the one python3-flask / gunicorn are installed for
[ -x "$SYSPY" ] || SYSPY=$(command -v python3)

ensure_pkgs curl:curl ss:iproute2 python3:python3 || die "base packages missing"
[ -x "$BERTH" ] || die "$BERTH not found or not executable"
if [[ " $APPS " == *" gunicorn "* ]]; then
    ensure_pkgs gunicorn:gunicorn || log "WARN: could not install gunicorn"
    "$SYSPY" -c 'import flask' 2>/dev/null || apt_install python3-flask || log "WARN: could not install python3-flask"
    if ! [ -x /usr/bin/gunicorn ] || ! "$SYSPY" -c 'import flask' 2>/dev/null; then
        log "WARN: gunicorn/Flask not available from Debian: measuring without it"
        APPS=${APPS//gunicorn/}
    fi
fi
[ -n "${APPS// /}" ] || die "no app to measure"

mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
RUN=$(mktemp -d /tmp/berth-coldstart.XXXXXX) || die "mktemp failed"
chmod 755 "$RUN"
cleanup() {
    stop_all_bg
    if [ -n "${RUN:-}" ] && [ -d "$RUN" ]; then
        cp -f "$RUN"/*.log "$RUN"/*.toml "$RUN"/*.json "$OUT_DIR/" 2>/dev/null
        for f in "$RUN"/berth-data/logs/*; do [ -f "$f" ] && cp -f "$f" "$OUT_DIR/berth-app-${f##*/}"; done
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
for p in "$BERTH_PORT" "$BERTH_ADMIN_PORT" "$PROBE_PORT"; do
    port_in_use "$p" && die "port $p already in use on this machine (leftover run?)"
done

# ---------------------------------------------------------------- the apps
: >"$RUN/apps.toml"
entries=()
for a in $APPS; do
    d="$RUN/app-$a"; mkdir -p "$d"
    case $a in
    httpserver)
        echo "hello world" >"$d/index.html"
        cmd="exec $SYSPY -m http.server \$PORT --bind \$HOST"
        desc="python3 -m http.server, $("$SYSPY" -V 2>&1)"
        ;;
    gunicorn)
        printf 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route("/")\ndef hello():\n    return "hello world\\n"\n' >"$d/app.py"
        cmd="exec /usr/bin/gunicorn --bind \$HOST:\$PORT --workers 1 --worker-class sync --graceful-timeout 2 --log-level warning app:app"
        desc="gunicorn $(/usr/bin/gunicorn --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1) + Flask $("$SYSPY" -c 'import flask; print(flask.__version__)' 2>/dev/null), 1 sync worker, $("$SYSPY" -V 2>&1)"
        ;;
    pysocket)
        # the lowest-variance app we could make in Python: no site, no imports beyond _socket and os, one
        # accept loop; it boots in ~10-20 ms, so more of what is left of b - a is Berth's own
        cat >"$d/server.py" <<'PY'
import _socket, os
s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
s.bind((os.environ["HOST"], int(os.environ["PORT"])))
s.listen(128)
R = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello world\n"
while True:
    c = _socket.socket(fileno=s._accept()[0])
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            break
        buf += d
    c.sendall(R)
    c.close()
PY
        cmd="exec $SYSPY -I -S server.py"
        desc="a 17-line Python socket server (python3 -I -S: no site, only _socket and os), $("$SYSPY" -V 2>&1)"
        ;;
    *) die "unknown app '$a' (known: httpserver gunicorn pysocket)" ;;
    esac
    cat >>"$RUN/apps.toml" <<EOT
[apps.$a]
domains = ["$a.test"]
command = "$cmd"
directory = "$d"
idle_timeout = "1s"
start_timeout = "60s"

EOT
    entries+=("$("$SYSPY" -c 'import json,sys; print(json.dumps(dict(zip(["name","domain","command","directory","desc"], sys.argv[1:]))))' \
        "$a" "$a.test" "$cmd" "$d" "$desc")")
done
(IFS=,; echo "[${entries[*]}]") >"$RUN/apps.json"

# ---------------------------------------------------------------- Berth
log "building (if needed) and checking Berth: $BERTH check $RUN/apps.toml"
(cd "$ROOT" && timeout -k 5 300 "$BERTH" check "$RUN/apps.toml") >"$RUN/berth-check.log" 2>&1 \
    || { cat "$RUN/berth-check.log" >&2; die "bin/berth check failed"; }
# started from the repo root; bin/berth execs java, so $! is Berth's JVM
start_bg berth "" "$RUN/berth.log" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" "$BERTH" serve \
    --apps "$RUN/apps.toml" --listen "127.0.0.1:$BERTH_PORT" --tls-listen off --admin "127.0.0.1:$BERTH_ADMIN_PORT" \
    --data "$RUN/berth-data" --ports "$BERTH_APP_PORTS" ${BERTH_ARGS:-}
BERTH_PID=$LAST_PID
wait_http "http://127.0.0.1:$BERTH_ADMIN_PORT/health" "" 600 "$BERTH_PID" \
    || { tail -n 20 "$RUN/berth.log" >&2; die "Berth admin did not answer within 30 s"; }

{
    echo "date: $(date -Is)"
    echo "host: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "berth: $BERTH (jar $ROOT/target/berth.jar) BERTH_JAVA_OPTS=${BERTH_JAVA_OPTS:-}"
    echo "RUNS=$RUNS APPS=\"$APPS\" WARM_REQS=$WARM_REQS QUIET_PCT=$QUIET_PCT QUIET_MAX=$QUIET_MAX idle_timeout=1s"
} >"$OUT_DIR/meta.txt"
log "results -> $OUT_DIR"

{
    echo "# bench/coldstart.sh  $(date -Is)  $(sed -n 2p "$OUT_DIR/meta.txt")"
    APPS_JSON="$RUN/apps.json" BERTH_PORT=$BERTH_PORT ADMIN_PORT=$BERTH_ADMIN_PORT PROBE_PORT=$PROBE_PORT \
        BERTH_DATA="$RUN/berth-data" BERTH_PID=$BERTH_PID BERTH_LOG="$RUN/berth.log" LOG_DIR="$RUN" \
        "$SYSPY" "$HERE/coldstart.py"
} 2> >(tee "$OUT_DIR/progress.log" >&2) | tee "$OUT_DIR/summary.txt"
rc=${PIPESTATUS[0]}
stop_all_bg
exit "$rc"
