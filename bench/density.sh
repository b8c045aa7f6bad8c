#!/usr/bin/env bash
# Density: Berth with APPS apps configured (none running): its RSS, and the first request to a cold app against
# the same app's own exec -> first response (p50, p99); then ALIVE apps running at once: Berth's own memory and
# threads per running instance. The app is bench/tinyapp.py (python3 -I -S, a thread per connection).
#
#   bench/density.sh                    # 10,000 apps, 40 cold starts, 200 alive
#   APPS=1000 ALIVE=50 bench/density.sh
#
# Knobs (env): APPS=10000 ALIVE=200 COLD_RUNS=40 BERTH_PORT=19290 BERTH_ADMIN_PORT=19291
#   BERTH_APP_PORTS=19300-19999 PROBE_PORT=19501 BERTH=<repo>/bin/berth BERTH_JAVA_OPTS BERTH_ARGS OUT_DIR
# Output: the summary lines, also in $OUT_DIR/summary.txt. Exit 0 ok, 1 failure.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

export APPS=${APPS:-10000}
export ALIVE=${ALIVE:-200}
export COLD_RUNS=${COLD_RUNS:-40}
BERTH_PORT=${BERTH_PORT:-19290}
BERTH_ADMIN_PORT=${BERTH_ADMIN_PORT:-19291}
BERTH_APP_PORTS=${BERTH_APP_PORTS:-19300-19999}
export PROBE_PORT=${PROBE_PORT:-19501}
BERTH=${BERTH:-$ROOT/bin/berth}
OUT_DIR=${OUT_DIR:-$HERE/results/density-$(date +%Y%m%d-%H%M%S)}
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || SYSPY=$(command -v python3)
[ "$ALIVE" -le "$APPS" ] || die "ALIVE ($ALIVE) must be at most APPS ($APPS)"

ensure_pkgs curl:curl ss:iproute2 python3:python3 || die "base packages missing"
[ -x "$BERTH" ] || die "$BERTH not found or not executable"
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
RUN=$(mktemp -d /tmp/berth-density.XXXXXX) || die "mktemp failed"
chmod 755 "$RUN"
cleanup() {
    stop_all_bg
    if [ -n "${RUN:-}" ] && [ -d "$RUN" ]; then
        cp -f "$RUN"/*.log "$OUT_DIR/" 2>/dev/null
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
for p in "$BERTH_PORT" "$BERTH_ADMIN_PORT" "$PROBE_PORT"; do
    port_in_use "$p" && die "port $p already in use on this machine (leftover run?)"
done

cp "$HERE/tinyapp.py" "$RUN/tinyapp.py"
export APP_CMD="exec $SYSPY -I -S $RUN/tinyapp.py"
"$SYSPY" - "$RUN/apps.toml" "$APPS" "$APP_CMD" "$RUN" <<'PY'
import sys
path, n, cmd, run = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, "w") as f:
    for i in range(n):
        f.write(f'[apps.app{i}]\ndomains = ["app{i}.test"]\ncommand = "{cmd}"\ndirectory = "{run}"\n\n')
PY

log "building (if needed) and starting Berth with $APPS apps"
(cd "$ROOT" && timeout -k 5 300 "$BERTH" check "$RUN/apps.toml") >"$RUN/berth-check.log" 2>&1 \
    || { tail -n 20 "$RUN/berth-check.log" >&2; die "bin/berth check failed"; }
start_bg berth "" "$RUN/berth.log" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" "$BERTH" serve \
    --apps "$RUN/apps.toml" --listen "127.0.0.1:$BERTH_PORT" --tls-listen off --admin "127.0.0.1:$BERTH_ADMIN_PORT" \
    --data "$RUN/berth-data" --ports "$BERTH_APP_PORTS" ${BERTH_ARGS:-}
BERTH_PID=$LAST_PID
wait_http "http://127.0.0.1:$BERTH_ADMIN_PORT/health" "" 2400 "$BERTH_PID" \
    || { tail -n 20 "$RUN/berth.log" >&2; die "Berth admin did not answer within 120 s"; }
JDK_BIN=$(dirname "$(readlink -f "/proc/$BERTH_PID/exe")")
log "results -> $OUT_DIR"
{
    echo "# bench/density.sh  $(date -Is)  $(uname -srm), $(nproc) cpus, $(free -m | awk '/^Mem:/ {print $2 " MB"}')"
    echo "# Berth: bin/berth serve (BERTH_JAVA_OPTS=${BERTH_JAVA_OPTS:-}); app: $APP_CMD"
    BERTH_PORT=$BERTH_PORT BERTH_PID=$BERTH_PID JCMD="$JDK_BIN/jcmd" "$SYSPY" "$HERE/density.py"
} 2> >(tee "$OUT_DIR/progress.log" >&2) | tee "$OUT_DIR/summary.txt"
rc=${PIPESTATUS[0]}
stop_all_bg
exit "$rc"
