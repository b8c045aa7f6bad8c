#!/usr/bin/env bash
# Time from an admin API write (a domain change, an app created) returning to the first successful request
# routed by Berth: p50 and p99 over CHANGES writes of each kind, on the embedded store and, when asked, on
# PostgreSQL. Target: under 50 ms. See apiwrite.py for exactly what is timed.
#
#   bench/apiwrite.sh                                   # embedded store (SQLite in the data directory)
#   DATABASE=jdbc:postgresql://127.0.0.1:5432/berth?user=berth bench/apiwrite.sh   # and on that PostgreSQL
#   PG_LOCAL=1 bench/apiwrite.sh                        # and on a throwaway PostgreSQL this script starts
#
# PG_LOCAL=1 runs Debian's PostgreSQL (/usr/lib/postgresql/*/bin, installed with apt when missing) as user
# postgres in a temporary directory on PG_PORT, trust auth on 127.0.0.1 only, and removes it at the end.
#
# Knobs (env): CHANGES=200 WARMUP=20 DATABASE= PG_LOCAL=0 PG_PORT=19432
#   BERTH_PORT=19290 BERTH_ADMIN_PORT=19291 BERTH_APP_PORTS=19300-19399 BERTH=<repo>/bin/berth BERTH_JAVA_OPTS
#   OUT_DIR (default bench/results/apiwrite-<time>)
# Output: one line per store and kind of write; also in $OUT_DIR/summary.txt (raw numbers: raw-<store>.json).
# Exit 0 ok, 1 failure.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

export CHANGES=${CHANGES:-200}
export WARMUP=${WARMUP:-20}
DATABASE=${DATABASE:-}
PG_LOCAL=${PG_LOCAL:-0}
PG_PORT=${PG_PORT:-19432}
BERTH_PORT=${BERTH_PORT:-19290}
BERTH_ADMIN_PORT=${BERTH_ADMIN_PORT:-19291}
BERTH_APP_PORTS=${BERTH_APP_PORTS:-19300-19399}
BERTH=${BERTH:-$ROOT/bin/berth}
OUT_DIR=${OUT_DIR:-$HERE/results/apiwrite-$(date +%Y%m%d-%H%M%S)}
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || SYSPY=$(command -v python3)

ensure_pkgs curl:curl ss:iproute2 python3:python3 || die "base packages missing"
[ -x "$BERTH" ] || die "$BERTH not found or not executable"
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
RUN=$(mktemp -d /tmp/berth-apiwrite.XXXXXX) || die "mktemp failed"
chmod 755 "$RUN"
PG_BIN=""
cleanup() {
    stop_all_bg
    if [ -n "$PG_BIN" ] && [ -f "$RUN/pg/data/postmaster.pid" ]; then
        cp -f "$RUN/pg/server.log" "$OUT_DIR/pg-server.log" 2>/dev/null
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null 2>&1 || log "WARN: could not stop the temporary PostgreSQL"
    fi
    if [ -d "$RUN" ]; then
        for f in "$RUN"/*.log; do [ -f "$f" ] && cp -f "$f" "$OUT_DIR/"; done
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
for p in "$BERTH_PORT" "$BERTH_ADMIN_PORT"; do
    port_in_use "$p" && die "port $p already in use on this machine (leftover run?)"
done

if [ "$PG_LOCAL" = 1 ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$PG_BIN" ]; then
        apt_install postgresql || die "cannot install PostgreSQL"
        PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    port_in_use "$PG_PORT" && die "port $PG_PORT (PG_PORT) already in use"
    # its own directory, owned by postgres: data, log and socket
    mkdir -p "$RUN/pg" && chown postgres: "$RUN/pg" && chmod 700 "$RUN/pg"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$RUN/pg/data" -A trust -U postgres >"$RUN/pg-initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$RUN/pg-initdb.log")"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/server.log" -w \
        -o "-p $PG_PORT -k $RUN/pg -c listen_addresses=127.0.0.1" start >/dev/null || die "PostgreSQL did not start: $(tail -3 "$RUN/pg/server.log")"
    DATABASE="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres?user=postgres"
    log "temporary PostgreSQL $("$PG_BIN/postgres" --version | grep -o '[0-9][0-9.]*' | head -1) on 127.0.0.1:$PG_PORT"
fi

log "building (if needed) Berth: $BERTH --version"
(cd "$ROOT" && timeout -k 5 300 "$BERTH" --version) >"$RUN/berth-build.log" 2>&1 || { cat "$RUN/berth-build.log" >&2; die "building Berth failed"; }
mkdir -p "$RUN/app"
# the app: "ok" over HTTP/1.1 keep-alive, so a routed request costs Berth's work, not a new connection per request
cat >"$RUN/app/app.py" <<'EOT'
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        # one write: headers and body apart would meet Nagle and delayed ACKs (40 ms per request)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Ok).serve_forever()
EOT
: >"$RUN/apps.toml"

# measure STORE [serve flags...]
measure() {
    local store=$1; shift
    local data="$RUN/data-$store"
    start_bg "berth-$store" "" "$RUN/berth-$store.log" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" "$BERTH" serve \
        --apps "$RUN/apps.toml" --listen "127.0.0.1:$BERTH_PORT" --tls-listen off --admin "127.0.0.1:$BERTH_ADMIN_PORT" \
        --data "$data" --ports "$BERTH_APP_PORTS" "$@"
    local pid=$LAST_PID
    wait_http "http://127.0.0.1:$BERTH_ADMIN_PORT/health" "" 600 "$pid" || { tail -n 20 "$RUN/berth-$store.log" >&2; die "Berth ($store) did not start"; }
    log "Berth ($store) up: $(grep -m1 -o 'store [^,]*' "$RUN/berth-$store.log" || true)"
    ADMIN_URL=$(cat "$data/admin.url") TOKEN=$(cat "$data/admin.token") BERTH_PORT=$BERTH_PORT APP_DIR="$RUN/app" SYSPY=$SYSPY \
        STORE=$store RAW="$OUT_DIR/raw-$store.json" "$SYSPY" "$HERE/apiwrite.py"
    local rc=$?
    stop_all_bg
    return $rc
}

# everything runs in this shell (so the EXIT trap stops what was started); output is also kept in OUT_DIR
exec > >(tee "$OUT_DIR/summary.txt") 2> >(tee "$OUT_DIR/progress.log" >&2)
echo "# bench/apiwrite.sh  $(date -Is)  $(uname -srm), $(nproc) cpus  CHANGES=$CHANGES WARMUP=$WARMUP"
measure sqlite || exit 1
if [ -n "$DATABASE" ]; then measure postgresql --database "$DATABASE" || exit 1; fi
exit 0
