#!/usr/bin/env bash
# Three Berth nodes sharing one PostgreSQL, on loopback: how fast a change made through one node routes through
# the others (p50, p99), and what the forwarding hop costs (requests/s and p99 through a node that does not own
# the app, against the node that does). One command, ~2-3 min:
#
#   bench/cluster.sh
#
# It starts a throwaway PostgreSQL (Debian's, installed with apt when missing; user postgres, a temporary
# directory, 127.0.0.1:PG_PORT, removed at the end) and three nodes with `bin/berth serve --cluster` from this
# checkout, on 127.0.0.1 only; tracks every process by PID and stops it, and its descendants, on exit.
#
# Knobs (env): CHANGES=200 WARMUP=20 (propagation) ROUNDS=3 DURATION=8 CONNS=64 BERTH_WARMUP=10 (the hop, wrk -t1)
#   PG_PORT=18632 BASE_PORT=18600 (routers BASE+1..3, admin BASE+11..13, apps BASE+100.. in 3 ranges of 30)
#   BERTH=<repo>/bin/berth BERTH_JAVA_OPTS OUT_DIR (default bench/results/cluster-<time>)
# Output: summary.txt in OUT_DIR (raw: propagation.json, wrk-*.txt, every log). Exit 0 ok, 1 failure.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

export CHANGES=${CHANGES:-200}
export WARMUP=${WARMUP:-20}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
BERTH_WARMUP=${BERTH_WARMUP:-10}
PG_PORT=${PG_PORT:-18632}
BASE_PORT=${BASE_PORT:-18600}
BERTH=${BERTH:-$ROOT/bin/berth}
OUT_DIR=${OUT_DIR:-$HERE/results/cluster-$(date +%Y%m%d-%H%M%S)}
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || SYSPY=$(command -v python3)

ensure_pkgs curl:curl ss:iproute2 python3:python3 wrk:wrk || die "base packages missing"
[ -x "$BERTH" ] || die "$BERTH not found or not executable"
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
RUN=$(mktemp -d /tmp/berth-cluster.XXXXXX) || die "mktemp failed"
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
for p in "$PG_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3)) $((BASE_PORT + 11)) $((BASE_PORT + 12)) $((BASE_PORT + 13)); do
    port_in_use "$p" && die "port $p already in use on this machine (leftover run?)"
done

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ]; then
    apt_install postgresql || die "cannot install PostgreSQL"
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
mkdir -p "$RUN/pg" && chown postgres: "$RUN/pg" && chmod 700 "$RUN/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$RUN/pg/data" -A trust -U postgres >"$RUN/pg-initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$RUN/pg-initdb.log")"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/server.log" -w \
    -o "-p $PG_PORT -k $RUN/pg -c listen_addresses=127.0.0.1" start >/dev/null || die "PostgreSQL did not start: $(tail -3 "$RUN/pg/server.log")"
DATABASE="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres?user=postgres"
log "temporary PostgreSQL $("$PG_BIN/postgres" --version | grep -o '[0-9][0-9.]*' | head -1) on 127.0.0.1:$PG_PORT"

log "building (if needed) Berth: $BERTH --version"
(cd "$ROOT" && timeout -k 5 300 "$BERTH" --version) >"$RUN/berth-build.log" 2>&1 || { cat "$RUN/berth-build.log" >&2; die "building Berth failed"; }
mkdir -p "$RUN/app"
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

exec > >(tee "$OUT_DIR/summary.txt") 2> >(tee "$OUT_DIR/progress.log" >&2)
echo "# bench/cluster.sh  $(date -Is)  $(uname -srm), $(nproc) cpus  CHANGES=$CHANGES WARMUP=$WARMUP ROUNDS=$ROUNDS DURATION=${DURATION}s CONNS=$CONNS"

# three nodes, each its own ports, app ports, data and cgroup
declare -A PID ROUTER ADMIN
NODES=""
for i in 1 2 3; do
    n=n$i
    ROUTER[$n]=$((BASE_PORT + i)); ADMIN[$n]=$((BASE_PORT + 10 + i))
    apps_from=$((BASE_PORT + 100 + (i - 1) * 30))
    start_bg "berth-$n" "" "$RUN/berth-$n.log" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" "$BERTH" serve \
        --apps "$RUN/apps.toml" --listen "127.0.0.1:${ROUTER[$n]}" --tls-listen off --admin "127.0.0.1:${ADMIN[$n]}" \
        --data "$RUN/data-$n" --ports "$apps_from-$((apps_from + 29))" --cgroup "berth-bench-$n" \
        --database "$DATABASE" --cluster --node-name "$n"
    PID[$n]=$LAST_PID
done
for n in n1 n2 n3; do
    wait_http "http://127.0.0.1:${ADMIN[$n]}/health" "" 600 "${PID[$n]}" || { tail -n 20 "$RUN/berth-$n.log" >&2; die "node $n did not start"; }
    NODES+="${NODES:+;}$n,${ROUTER[$n]},$(cat "$RUN/data-$n/admin.url"),$(cat "$RUN/data-$n/admin.token")"
done
log "three nodes up: $(curl -s -H "Authorization: Bearer $(cat "$RUN/data-n1/admin.token")" "http://127.0.0.1:${ADMIN[n1]}/v1/cluster" | "$SYSPY" -c 'import json,sys; print(", ".join(n["name"] + " " + n["state"] for n in json.load(sys.stdin)["nodes"]))')"

# 1. propagation
echo
echo "## change propagation: PATCH through one node (rotating), then routed through each other node"
echo "(box busy before: $(wait_quiet 25 20)% of all CPUs)"
NODES=$NODES APP_DIR="$RUN/app" SYSPY=$SYSPY RAW="$OUT_DIR/propagation.json" OWNER_FILE="$RUN/owner" "$SYSPY" "$HERE/cluster.py" || die "propagation run failed"

# 2. the forwarding hop: the app "hop" runs on its owner; wrk through the owner, then through a node that forwards
TOKEN=$(cat "$RUN/data-n1/admin.token")
curl -s -o /dev/null -w '' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "http://127.0.0.1:${ADMIN[n1]}/v1/apps" \
    -d "{\"name\": \"hop\", \"domains\": [\"hop.test\"], \"directory\": \"$RUN/app\", \"command\": \"exec $SYSPY app.py\", \"idle_timeout\": \"1h\"}"
for n in n1 n2 n3; do wait_http "http://127.0.0.1:${ROUTER[$n]}/" "hop.test" 200 || die "hop.test not routed through $n"; done
OWNER=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${ADMIN[n1]}/v1/cluster" | "$SYSPY" -c 'import json,sys; print(next(a["owners"][0] for a in json.load(sys.stdin)["apps"] if a["name"] == "hop"))')
for n in n1 n2 n3; do [ "$n" != "$OWNER" ] && { OTHER=$n; break; }; done
echo
echo "## the forwarding hop: app hop (\"ok\", keep-alive) on $OWNER; wrk -t1 -c$CONNS ${DURATION}s through $OWNER (serves it) and through $OTHER (forwards to $OWNER), $ROUNDS rounds"
log "warming up both nodes for ${BERTH_WARMUP}s"
wrk -t1 -c"$CONNS" -d"${BERTH_WARMUP}s" -H "Host: hop.test" "http://127.0.0.1:${ROUTER[$OTHER]}/" >/dev/null 2>&1
run_wrk() {  # run_wrk LABEL NODE ROUND -> one BENCH line, plus the JVMs' CPU per request
    local label=$1 node=$2 round=$3 out="$OUT_DIR/wrk-$1-r$3.txt" c0 c1 reqs
    # each PID is the node's JVM itself (bin/berth execs java); its app is not counted
    c0=0; for n in n1 n2 n3; do c0=$((c0 + $(self_ticks "${PID[$n]}"))); done
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s -H "Host: hop.test" -s "$HERE/wrk_report.lua" "http://127.0.0.1:${ROUTER[$node]}/" >"$out" 2>&1
    c1=0; for n in n1 n2 n3; do c1=$((c1 + $(self_ticks "${PID[$n]}"))); done
    reqs=$(grep -o 'requests=[0-9]*' "$out" | cut -d= -f2)
    echo "$label r$round $(grep '^BENCH' "$out") berth_cpu_us_per_req=$(( reqs > 0 ? (c1 - c0) * 1000000 / $(getconf CLK_TCK) / reqs : 0 ))"
}
for r in $(seq 1 "$ROUNDS"); do
    wait_quiet 25 10 >/dev/null
    if [ $((r % 2)) = 1 ]; then run_wrk owner "$OWNER" "$r"; run_wrk forwarded "$OTHER" "$r"; else run_wrk forwarded "$OTHER" "$r"; run_wrk owner "$OWNER" "$r"; fi
done | tee "$RUN/hop.txt"
"$SYSPY" - "$RUN/hop.txt" <<'EOT'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) r\d+ BENCH (.*)", line)
    if m:
        kv = dict(x.split("=") for x in m.group(2).split())
        rows.setdefault(m.group(1), []).append(kv)
def med(label, key):
    return statistics.median(float(r[key]) for r in rows[label])
print()
print(f"{'through':<10} {'rps':>9} {'p50 us':>8} {'p99 us':>8} {'Berth CPU us/req':>17} {'errors':>7}")
for label in ("owner", "forwarded"):
    errs = sum(int(r[k]) for r in rows[label] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    print(f"{label:<10} {med(label, 'rps'):>9.0f} {med(label, 'p50_us'):>8.0f} {med(label, 'p99_us'):>8.0f} {med(label, 'berth_cpu_us_per_req'):>17.1f} {errs:>7}")
print(f"forwarded / owner: rps {med('forwarded', 'rps') / med('owner', 'rps'):.2f}, p99 {med('forwarded', 'p99_us') / med('owner', 'p99_us'):.2f}, "
      f"Berth CPU per request {med('forwarded', 'berth_cpu_us_per_req') / med('owner', 'berth_cpu_us_per_req'):.2f} (medians of the rounds)")
EOT
exit 0
