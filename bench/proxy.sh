#!/usr/bin/env bash
# Proxy throughput: wrk -> {Berth, nginx, HAProxy, direct backend} on loopback, in one run.
#
#   bench/proxy.sh                  # ~8-9 min with the defaults
#   ROUNDS=5 DURATION=10 bench/proxy.sh
#
# The backend is nginx answering `return 200 "hello world\n"` (conf/backend.nginx.conf, 1 worker).
# nginx and HAProxy proxy to one copy of it on 127.0.0.1:$BACKEND_PORT; Berth (bin/berth serve, started
# from this checkout) hosts another copy as its app "bench" (Host: app.test), which Berth itself starts on
# its $PORT. Nothing is pinned: nginx gets WORKERS=2 worker processes and HAProxy WORKERS=2 threads, as
# many cores as Berth may use (its event loops default to one per core), and wrk -t1 shares the same CPUs.
# Each round runs every profile and every target, in an order rotated from round to round.
#
# Knobs (env): ROUNDS=3 DURATION=8 (s per measured wrk run) WARMUP=2 (s per target, not recorded)
#   BERTH_WARMUP=20 (s, Berth's warm-up for its JIT, shared among the profiles) PROFILES="64 256 64:1m 64:close" (wrk -c, then :1m for a 1 MiB
#   response, :close for a new connection per request) THREADS=1 (wrk -t)
#   IDLE_CONNS=9000: after the rounds, that many idle keep-alive connections are held to each proxy
#     (bench/idle.py) and the memory they cost it is reported (0: skip)
#   WORKERS=2 (nginx worker_processes / HAProxy nbthread) BERTH_EVENT_LOOPS= (empty: Berth's default)
#   DIRECT=1 (0: skip the wrk -> backend baseline, saves a quarter of the time)
#   QUIET_PCT=10 QUIET_MAX=10: before each run wait (<= QUIET_MAX s) until the box is < QUIET_PCT % busy
#   RETRY_OTHER_PCT=25 RETRY_STEAL_PCT=10 RETRIES=1: re-run a run during which other processes used more
#     than RETRY_OTHER_PCT % of a core, or hypervisor steal was above RETRY_STEAL_PCT % (kept as *.discarded*)
#   BUDGET=270 (s): quiet-waits and retries are skipped once they would push the measured part past
#     BUDGET s (the remaining runs still all run; so the total stays near max(BUDGET, plain run time))
#   NICE=0  BACKEND_PORT=19001 NGINX_PORT=19080 HAPROXY_PORT=19081 BERTH_PORT=19090 BERTH_ADMIN_PORT=19091
#   BERTH_APP_PORTS=19100-19199  BERTH=<repo>/bin/berth  BERTH_JAVA_OPTS (passed to bin/berth)
#   OUT_DIR (default bench/results/proxy-<time>)
# Exit: 0 ok; 1 setup failure; 3 some target returned errors (non-2xx, timeouts, connect errors) or
# wrk failed. The printed summary is also in $OUT_DIR/summary.txt; raw wrk output in $OUT_DIR/raw/.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
BERTH_WARMUP=${BERTH_WARMUP:-20}
PROFILES=${PROFILES:-"64 256 64:1m 64:close"}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-${PROXY_WORKERS:-2}}
PROXY_WORKERS=$WORKERS          # name used by lib.sh's render()
BERTH_EVENT_LOOPS=${BERTH_EVENT_LOOPS:-}
DIRECT=${DIRECT:-1}
QUIET_PCT=${QUIET_PCT:-10}
QUIET_MAX=${QUIET_MAX:-10}
RETRY_OTHER_PCT=${RETRY_OTHER_PCT:-25}
RETRY_STEAL_PCT=${RETRY_STEAL_PCT:-10}
RETRIES=${RETRIES:-1}
BUDGET=${BUDGET:-270}
NICE=${NICE:-0}
BACKEND_PORT=${BACKEND_PORT:-19001}
NGINX_PORT=${NGINX_PORT:-19080}
HAPROXY_PORT=${HAPROXY_PORT:-19081}
BERTH_PORT=${BERTH_PORT:-19090}
BERTH_ADMIN_PORT=${BERTH_ADMIN_PORT:-19091}
BERTH_APP_PORTS=${BERTH_APP_PORTS:-19100-19199}
BERTH=${BERTH:-$ROOT/bin/berth}
APP_HOST=app.test
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
OUT_DIR=${OUT_DIR:-$HERE/results/proxy-$(date +%Y%m%d-%H%M%S)}

# ---------------------------------------------------------------- install + versions
ensure_pkgs wrk:wrk nginx:nginx haproxy:haproxy curl:curl ss:iproute2 || die "package install failed"
[ -x "$BERTH" ] || die "$BERTH not found or not executable"
WRK_V=$(wrk --version 2>&1 | head -1)       # wrk --version exits 1 by design
NGINX_V=$(nginx -v 2>&1)
HAPROXY_V=$(haproxy -v 2>&1 | head -1)
NGINX_BIN=$(command -v nginx)
[ -n "$WRK_V" ] && [ -n "$NGINX_V" ] && [ -n "$HAPROXY_V" ] || die "version checks failed"
NCPU=$(nproc --all)

mkdir -p "$OUT_DIR/raw" || die "cannot create $OUT_DIR"
exec 2> >(tee -a "$OUT_DIR/progress.log" >&2)   # keep the progress log with the results
RUN=$(mktemp -d /tmp/berth-proxybench.XXXXXX) || die "mktemp failed"
chmod 755 "$RUN"
cleanup() {
    stop_all_bg
    if [ -n "${RUN:-}" ] && [ -d "$RUN" ]; then
        cp -f "$RUN"/*.conf "$RUN"/*.cfg "$RUN"/*.log "$RUN"/*.toml "$OUT_DIR/" 2>/dev/null
        cp -f "$RUN"/berth-data/logs/* "$OUT_DIR/" 2>/dev/null
        for f in "$RUN"/berth-app/*.log "$RUN"/berth-app/*.conf; do [ -f "$f" ] && cp -f "$f" "$OUT_DIR/berth-app-${f##*/}"; done
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

for p in "$BACKEND_PORT" "$NGINX_PORT" "$HAPROXY_PORT" "$BERTH_PORT" "$BERTH_ADMIN_PORT"; do
    port_in_use "$p" && die "port $p already in use on this machine (leftover run?)"
done

# ---------------------------------------------------------------- configs
mkdir -p "$RUN/backend-tmp" "$RUN/nginx-proxy-tmp" "$RUN/berth-app"
render "$HERE/conf/backend.nginx.conf" "$RUN/backend.conf"
head -c 1048576 /dev/zero | tr '\0' 'x' >"$RUN/1m.bin"   # the 1 MiB body of the 1m profile
render "$HERE/conf/proxy.nginx.conf" "$RUN/nginx-proxy.conf"
render "$HERE/conf/haproxy.cfg" "$RUN/haproxy.cfg"
nginx -t -q -p "$RUN/" -e "$RUN/backend.startup.log" -c "$RUN/backend.conf" || die "backend config invalid"
nginx -t -q -p "$RUN/" -e "$RUN/nginx-proxy.startup.log" -c "$RUN/nginx-proxy.conf" || die "nginx proxy config invalid"
haproxy -c -q -f "$RUN/haproxy.cfg" || die "haproxy config invalid"

# Berth's app: the same backend config, rendered at start time with the $PORT Berth gives it.
sed -e "s#@RUN@#$RUN/berth-app#g" "$HERE/conf/backend.nginx.conf" >"$RUN/berth-app/backend.tmpl"
cp "$RUN/1m.bin" "$RUN/berth-app/1m.bin"
cat >"$RUN/berth-app/run-backend.sh" <<EOS
#!/bin/sh
# started by Berth as /bin/sh -c; \$PORT and \$HOST come from Berth
mkdir -p "$RUN/berth-app/backend-tmp"
sed -e "s#@BACKEND_PORT@#\$PORT#g" "$RUN/berth-app/backend.tmpl" >"$RUN/berth-app/backend-\$PORT.conf"
exec "$NGINX_BIN" -p "$RUN/berth-app/" -e "$RUN/berth-app/backend.startup.log" -c "$RUN/berth-app/backend-\$PORT.conf"
EOS
chmod 755 "$RUN/berth-app/run-backend.sh"
cat >"$RUN/apps.toml" <<EOT
[apps.bench]
domains = ["$APP_HOST"]
command = "exec $RUN/berth-app/run-backend.sh"
directory = "$RUN/berth-app"
idle_timeout = "1h"
start_timeout = "60s"
EOT

{
    echo "date: $(date -Is)"
    echo "host: $(uname -srm), $NCPU cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "wrk: $WRK_V"; echo "nginx: $NGINX_V"; echo "haproxy: $HAPROXY_V"
    echo "berth: $BERTH (jar $ROOT/target/berth.jar) BERTH_JAVA_OPTS=${BERTH_JAVA_OPTS:-} event_loops=${BERTH_EVENT_LOOPS:-default (one per core)}"
    echo "ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP BERTH_WARMUP=$BERTH_WARMUP PROFILES=\"$PROFILES\" THREADS=$THREADS WORKERS=$WORKERS DIRECT=$DIRECT NICE=$NICE pinning=none"
    echo "QUIET_PCT=$QUIET_PCT QUIET_MAX=$QUIET_MAX RETRY_OTHER_PCT=$RETRY_OTHER_PCT RETRY_STEAL_PCT=$RETRY_STEAL_PCT RETRIES=$RETRIES BUDGET=$BUDGET"
} >"$OUT_DIR/meta.txt"
log "results -> $OUT_DIR"
sed 's/^/  /' "$OUT_DIR/meta.txt" >&2

# ---------------------------------------------------------------- build + check Berth, start servers
log "building (if needed) and checking Berth: $BERTH check $RUN/apps.toml"
(cd "$ROOT" && timeout -k 5 300 "$BERTH" check "$RUN/apps.toml") >"$RUN/berth-check.log" 2>&1 \
    || { cat "$RUN/berth-check.log" >&2; die "bin/berth check failed"; }

start_bg backend "" "$RUN/backend.stdout.log" nginx -p "$RUN/" -e "$RUN/backend.startup.log" -c "$RUN/backend.conf"
BACKEND_PID=$LAST_PID
wait_http "http://127.0.0.1:$BACKEND_PORT/" "" 100 "$BACKEND_PID" || die "backend did not come up"
start_bg nginx "" "$RUN/nginx-proxy.stdout.log" nginx -p "$RUN/" -e "$RUN/nginx-proxy.startup.log" -c "$RUN/nginx-proxy.conf"
NGINX_PID=$LAST_PID
start_bg haproxy "" "$RUN/haproxy.log" haproxy -db -f "$RUN/haproxy.cfg"
HAPROXY_PID=$LAST_PID
# like the nginx proxy (access_log off): no access log, so both do the same work per request
printf '[router]\naccess_log = "off"\n' >"$RUN/berth-node.toml"
berth_args=(serve --config "$RUN/berth-node.toml" --apps "$RUN/apps.toml" --listen "127.0.0.1:$BERTH_PORT" --tls-listen off --admin "127.0.0.1:$BERTH_ADMIN_PORT"
            --data "$RUN/berth-data" --ports "$BERTH_APP_PORTS")
[ -n "$BERTH_EVENT_LOOPS" ] && berth_args+=(--event-loops "$BERTH_EVENT_LOOPS")
# started from the repo root; bin/berth execs java, so $! is Berth's JVM
start_bg berth "" "$RUN/berth.log" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" "$BERTH" "${berth_args[@]}"
BERTH_PID=$LAST_PID
wait_http "http://127.0.0.1:$NGINX_PORT/" "" 100 "$NGINX_PID" || die "nginx proxy did not come up"
wait_http "http://127.0.0.1:$HAPROXY_PORT/" "" 100 "$HAPROXY_PID" || die "haproxy did not come up"
wait_http "http://127.0.0.1:$BERTH_ADMIN_PORT/health" "" 600 "$BERTH_PID" \
    || { tail -n 20 "$RUN/berth.log" >&2; die "Berth admin did not answer within 30 s"; }
# first request through Berth: Berth starts the app (cold start, not measured)
wait_http "http://127.0.0.1:$BERTH_PORT/" "$APP_HOST" 300 "$BERTH_PID" \
    || { tail -n 20 "$RUN/berth.log" >&2; die "Berth did not serve app.test within 15 s"; }

# app_pid -> pid of Berth's running instance of "bench" (from the admin /health), empty if none
app_pid() {
    curl -s --max-time 2 "http://127.0.0.1:$BERTH_ADMIN_PORT/health" | "$PY" -c '
import json, sys
for a in json.load(sys.stdin).get("apps", []):
    if a.get("name") == "bench" and a.get("state") == "running" and a.get("pid"):
        print(a["pid"])' 2>/dev/null
}
APP_PID=$(app_pid)
[ -n "$APP_PID" ] || die "Berth says app 'bench' is not running after serving it: $(curl -s "http://127.0.0.1:$BERTH_ADMIN_PORT/health")"
APP_PID0=$APP_PID
APP_PORT=$(curl -s --max-time 2 "http://127.0.0.1:$BERTH_ADMIN_PORT/health" | "$PY" -c '
import json, sys
print(*[a.get("port", "") for a in json.load(sys.stdin).get("apps", []) if a.get("name") == "bench"])' 2>/dev/null)
log "Berth pid=$BERTH_PID serves app 'bench' pid=$APP_PID"

TARGETS=()
[ "$DIRECT" = 1 ] && TARGETS+=(direct)
TARGETS+=(nginx haproxy berth)
declare -A URL=([direct]="http://127.0.0.1:$BACKEND_PORT/" [nginx]="http://127.0.0.1:$NGINX_PORT/"
                [haproxy]="http://127.0.0.1:$HAPROXY_PORT/" [berth]="http://127.0.0.1:$BERTH_PORT/")
declare -A HOSTHDR=([direct]="" [nginx]="" [haproxy]="" [berth]="$APP_HOST")

# sanity: every target returns the backend's body; keep the response headers for comparison
: >"$OUT_DIR/headers.txt"
for t in "${TARGETS[@]}"; do
    hdr=(); [ -n "${HOSTHDR[$t]}" ] && hdr=(-H "Host: ${HOSTHDR[$t]}")
    body=$(curl -s --max-time 2 "${hdr[@]}" "${URL[$t]}")
    [ "$body" = "hello world" ] || die "$t answered '${body:0:80}', not 'hello world'"
    { echo "== $t: ${URL[$t]} ${HOSTHDR[$t]:+(Host: ${HOSTHDR[$t]})}"; curl -s -D - -o /dev/null --max-time 2 "${hdr[@]}" "${URL[$t]}" | tr -d '\r'; } >>"$OUT_DIR/headers.txt"
done

CLK_TCK=$(getconf CLK_TCK)
# CPU accounting. proxy = the proxy process and its workers; backend = what answers behind it.
# For Berth: proxy = the JVM alone (all its threads), backend = the app it started (+ its workers),
# so "proxy CPU us/req" compares like for like with nginx/HAProxy.
proxy_ticks() {
    case $1 in
    direct) echo 0 ;;
    nginx) cpu_ticks "$NGINX_PID" ;;
    haproxy) cpu_ticks "$HAPROXY_PID" ;;
    berth) self_ticks "$BERTH_PID" ;;
    esac
}
backend_ticks() { if [ "$1" = berth ]; then cpu_ticks "$APP_PID"; else cpu_ticks "$BACKEND_PID"; fi; }
wrk_cmd() { # TARGET PROFILE DURATION -> fills WRK array; PROFILE: CONNS, CONNS:1m (a 1 MiB body), CONNS:close (a new connection per request)
    local conns=${2%%:*} kind=
    [[ $2 == *:* ]] && kind=${2#*:}
    WRK=()
    [ "$NICE" != 0 ] && WRK+=(nice -n "$NICE")
    WRK+=(wrk -t"$THREADS" -c"$conns" -d"${3}s" --timeout 5s --latency -s "$HERE/wrk_report.lua")
    [ -n "${HOSTHDR[$1]}" ] && WRK+=(-H "Host: ${HOSTHDR[$1]}")
    [ "$kind" = close ] && WRK+=(-H "Connection: close")
    if [ "$kind" = 1m ]; then WRK+=("${URL[$1]}1m"); else WRK+=("${URL[$1]}"); fi
}

# ---------------------------------------------------------------- warm-up (not recorded)
read -r -a PROF_ARR <<<"$PROFILES"
# Berth's JIT compiles what each profile runs (keep-alive, large bodies, a connection per request): its
# BERTH_WARMUP is shared among all the profiles, so no profile is measured while its code is still being compiled
for t in "${TARGETS[@]}"; do
    w=$WARMUP; [ "$t" = berth ] && w=$BERTH_WARMUP
    [ "$w" -gt 0 ] || continue
    warm=("${PROF_ARR[-1]}")
    if [ "$t" = berth ]; then warm=("${PROF_ARR[@]}"); w=$(((w + ${#PROF_ARR[@]} - 1) / ${#PROF_ARR[@]})); [ "$w" -ge 2 ] || w=2; fi
    for c in "${warm[@]}"; do
        wrk_cmd "$t" "$c" "$w"
        timeout -k 5 $((w + 20)) "${WRK[@]}" >"$OUT_DIR/raw/warmup_${t}_c$c.txt" 2>&1
        log "warm-up $t c=$c ${w}s: $(grep -o 'rps=[0-9.]*\|err_[a-z]*=[1-9][0-9]*' "$OUT_DIR/raw/warmup_${t}_c$c.txt" | tr '\n' ' ')"
    done
done

# ---------------------------------------------------------------- measured rounds (interleaved, rotated)
T0=$SECONDS
n=${#TARGETS[@]}
left=$((ROUNDS * ${#PROF_ARR[@]} * n))   # measured runs still to do
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${PROF_ARR[@]}"; do
        for ((i = 0; i < n; i++)); do
            t=${TARGETS[$(((i + r - 1) % n))]}   # rotate the start target each round: no position bias
            f="$OUT_DIR/raw/r${r}_c${c}_${t}.txt"
            wrk_cmd "$t" "$c" "$DURATION"
            qmax=$QUIET_MAX; retries=$RETRIES
            # no waiting / retrying once the remaining plain runs would no longer fit into BUDGET
            if ((SECONDS - T0 + left * (DURATION + 1) + QUIET_MAX + DURATION > BUDGET)); then qmax=0; retries=0; fi
            left=$((left - 1))
            for ((try = 0; try <= retries; try++)); do
                pre=$(wait_quiet "$QUIET_PCT" "$qmax")
                [ "$pre" -ge "$QUIET_PCT" ] && [ "$qmax" -gt 0 ] && log "WARN: box still ${pre}% busy after ${qmax}s of waiting; measuring anyway"
                if [ "$t" = berth ]; then APP_PID=$(app_pid); [ -n "$APP_PID" ] || APP_PID=$APP_PID0; fi
                {
                    echo "META round=$r conns=$c target=$t url=${URL[$t]} host=${HOSTHDR[$t]}"
                    echo "CMD ${WRK[*]}"
                } >"$f"
                pt0=$(proxy_ticks "$t"); bt0=$(backend_ticks "$t")
                read -r su0 sq0 stot0 sst0 < <(sys_ticks); times >"$RUN/times0"
                timeout -k 5 $((DURATION + 30)) "${WRK[@]}" >>"$f" 2>&1
                rc=$?
                times >"$RUN/times1"; read -r su1 sq1 stot1 sst1 < <(sys_ticks)
                pt1=$(proxy_ticks "$t"); bt1=$(backend_ticks "$t")
                wt=$(($(times_ticks "$RUN/times1") - $(times_ticks "$RUN/times0")))
                echo "CPU clk_tck=$CLK_TCK ncpu=$NCPU proxy_ticks=$((pt1 - pt0)) backend_ticks=$((bt1 - bt0)) wrk_ticks=$wt" \
                    "sys_usrsys_ticks=$((su1 - su0)) sys_irq_ticks=$((sq1 - sq0)) sys_total_ticks=$((stot1 - stot0))" \
                    "steal_ticks=$((sst1 - sst0)) pre_busy_pct=$pre proxy_acct=1 wrk_rc=$rc try=$try" >>"$f"
                if [ "$t" = berth ]; then
                    now=$(app_pid)
                    [ "$now" = "$APP_PID" ] || { echo "APPRESTART before=$APP_PID after=${now:-none}" >>"$f"; log "WARN: Berth's app pid changed during the run: $APP_PID -> ${now:-none}"; }
                fi
                # CPU (% of one core) used by anything that is not wrk/backend/proxy during the run
                other=$((100 * NCPU * (su1 - su0 + sq1 - sq0 - (pt1 - pt0) - (bt1 - bt0) - wt) / (stot1 - stot0 + 1)))
                steal=$((100 * NCPU * (sst1 - sst0) / (stot1 - stot0 + 1)))
                if { [ "$other" -gt "$RETRY_OTHER_PCT" ] || [ "$steal" -gt "$RETRY_STEAL_PCT" ]; } && [ "$try" -lt "$retries" ]; then
                    mv "$f" "${f%.txt}.discarded$try"
                    log "round $r c=$c $t: other processes used ${other}% and steal ${steal}% of a CPU; discarding and re-running"
                    continue
                fi
                break
            done
            extra=; [ "$rc" != 0 ] && extra="wrk_rc=$rc"
            log "round $r/$ROUNDS c=$c $(printf '%-8s' "$t") $(grep -o 'rps=[0-9.]*\|p50_us=[0-9]*\|p99_us=[0-9]*\|err_[a-z]*=[1-9][0-9]*' "$f" | tr '\n' ' ')$extra"
        done
    done
done
log "measured part took $((SECONDS - T0)) s"

# ---------------------------------------------------------------- idle keep-alive connections: their memory
IDLE_CONNS=${IDLE_CONNS:-9000}
: >"$OUT_DIR/idle.txt"
if [ "$IDLE_CONNS" -gt 0 ]; then
    for t in nginx haproxy berth; do
        case $t in
        nginx) port=$NGINX_PORT; pids="$NGINX_PID $(cat /proc/"$NGINX_PID"/task/*/children 2>/dev/null)" ;;
        haproxy) port=$HAPROXY_PORT; pids=$HAPROXY_PID ;;
        berth) port=$BERTH_PORT; pids=$BERTH_PID ;;
        esac
        # shellcheck disable=SC2086 # pids is a list
        line=$(timeout -k 5 300 "$PY" "$HERE/idle.py" "$port" "${HOSTHDR[$t]:-localhost}" "$IDLE_CONNS" $pids 2>&1 | tail -1)
        log "idle $t: $line"
        echo "$t $line" >>"$OUT_DIR/idle.txt"
    done
fi

# ---------------------------------------------------------------- Berth checks, then stop everything
{
    echo "Berth checks:"
    if alive "$BERTH_PID"; then echo "  Berth pid $BERTH_PID still running after the load: yes"; else echo "  Berth pid $BERTH_PID DIED during the run"; fi
    now=$(app_pid)
    if [ "$now" = "$APP_PID0" ]; then echo "  app 'bench' pid $APP_PID0 unchanged (not restarted)"
    else echo "  app 'bench' pid changed: $APP_PID0 -> ${now:-not running}"; fi
    echo "  Berth RSS: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$BERTH_PID/status" 2>/dev/null), threads: $(awk '/^Threads/ {print $2}' "/proc/$BERTH_PID/status" 2>/dev/null)"
    nw=$(grep -ciE 'warn|error|exception' "$RUN/berth.log")
    echo "  WARN/ERROR/exception lines in Berth's output: $nw${nw:+ (see berth.log)}"
    grep -iE 'warn|error|exception' "$RUN/berth.log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
    applog=$(ls "$RUN"/berth-data/logs/bench.log 2>/dev/null)
    [ -n "$applog" ] && echo "  app log: $(grep -c 'starting on port' "$applog") start(s), $(grep -c 'stopping' "$applog") stop(s)"
    echo "  response headers (first line + header count + Content-Length/Transfer-Encoding), see headers.txt:"
    "$PY" - "$OUT_DIR/headers.txt" <<'EOF'
import sys
blocks = open(sys.argv[1]).read().split("== ")[1:]
for b in blocks:
    lines = [l for l in b.splitlines() if l.strip()]
    name = lines[0].split(":")[0]
    hdrs = lines[2:]
    bytes_ = sum(len(l) + 2 for l in lines[1:]) + 2
    cl = [l for l in hdrs if l.lower().startswith(("content-length", "transfer-encoding"))]
    print(f"    {name:8s} {lines[1]:18s} {len(hdrs)} headers, {bytes_} header bytes; {'; '.join(cl)}")
EOF
} >"$OUT_DIR/checks.txt" 2>&1

stop_all_bg   # stop everything before the final output, so the last lines really are last
alive "$APP_PID0" && { log "WARN: Berth's app pid $APP_PID0 survived Berth's stop; SIGKILL"; kill -KILL "$APP_PID0"; }
for p in "$BACKEND_PORT" "$NGINX_PORT" "$HAPROXY_PORT" "$BERTH_PORT" "$BERTH_ADMIN_PORT" $APP_PORT; do
    port_in_use "$p" && log "WARN: port $p still listening after every server was stopped"
done
log "raw wrk output, configs, logs and summary: $OUT_DIR"
{
    echo "# bench/proxy.sh  $(date -Is)  $(head -2 "$OUT_DIR/meta.txt" | tail -1)"
    echo "# nothing pinned; nginx worker_processes=$WORKERS, HAProxy nbthread=$WORKERS, Berth event loops=${BERTH_EVENT_LOOPS:-default (one per core = $NCPU)} (+ JVM GC/JIT threads); wrk -t$THREADS runs on the same $NCPU CPUs"
    echo "# backend: nginx 1 worker 'return 200 \"hello world\\n\"' (one copy behind nginx/HAProxy, one started by Berth as its app)"
    echo "# ROUNDS=$ROUNDS DURATION=${DURATION}s PROFILES=\"$PROFILES\" (keep-alive, wrk --timeout 5s)"
    cat "$OUT_DIR/checks.txt"
    "$PY" "$HERE/summarize.py" "$OUT_DIR"
    if [ -s "$OUT_DIR/idle.txt" ]; then
        echo
        echo "### $IDLE_CONNS idle keep-alive connections held to each proxy (bench/idle.py): their memory"
        echo
        sed 's/^/    /' "$OUT_DIR/idle.txt"
    fi
} | tee "$OUT_DIR/summary.txt"
exit "${PIPESTATUS[0]}"
