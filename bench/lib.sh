# shellcheck shell=bash
# Shared helpers for proxy.sh / coldstart.sh. Source it; do not execute it.
# Rule: every process we start is tracked by PID and stopped by PID (never by name), together with
# every descendant it had when the stop began (nginx workers, an app Berth started in its own session).

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# apt_install PKG...: apt-get install -y (apt-get update at most once per script run).
# While installing, a temporary policy-rc.d (exit 101) stops Debian's maintainer scripts from
# starting system-wide nginx/haproxy services on :80 (which we would then have to stop).
_APT_UPDATED=0
apt_install() {
    [ "$(id -u)" = 0 ] || die "need root to apt-get install: $*"
    log "installing from Debian: $*"
    local made_policy=0 rc
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    if [ "$_APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || log "WARN: apt-get update failed"
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    rc=$?
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return $rc
}

# ensure_pkgs CMD:PKG ...  -> install the packages whose command is missing (nothing if all present).
ensure_pkgs() {
    local pair cmd pkg missing=()
    for pair in "$@"; do
        cmd=${pair%%:*}; pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    apt_install "${missing[@]}"
}

port_in_use() { [ "$(ss -Hltn "sport = :$1" 2>/dev/null | wc -l)" -gt 0 ]; }

# alive PID: true if PID exists and is not a zombie.
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Started processes: parallel arrays of PID and name.
BG_PIDS=()
BG_NAMES=()

# start_bg NAME CPULIST LOGFILE CMD... ; CPULIST empty = no pinning. Sets LAST_PID.
# If NICE is set and non-zero the command runs under `nice -n $NICE` (nice execs, PID unchanged).
start_bg() {
    local name=$1 cpus=$2 logf=$3; shift 3
    if [ -n "${NICE:-}" ] && [ "$NICE" != 0 ]; then set -- nice -n "$NICE" "$@"; fi
    if [ -n "$cpus" ]; then
        taskset -c "$cpus" "$@" >"$logf" 2>&1 &
    else
        "$@" >"$logf" 2>&1 &
    fi
    LAST_PID=$!
    BG_PIDS+=("$LAST_PID"); BG_NAMES+=("$name")
    log "started $name pid=$LAST_PID${cpus:+ cpus=$cpus}: $*"
}

# stop_pid PID NAME: snapshot PID's descendants (by parent PID, whatever their session), SIGTERM PID,
# wait up to 5 s (then SIGKILL), then give each descendant up to 5 s more to go (Berth stops its apps
# itself, nginx masters stop their workers) and SIGKILL by PID any that is still alive.
stop_pid() {
    local pid=$1 name=${2:-pid} kids i k left=""
    kids=$(desc_pids "$pid" | cut -s -d' ' -f2-)
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.05; done
        if alive "$pid"; then log "WARN: $name pid=$pid ignored SIGTERM for 5 s, SIGKILL"; kill -KILL "$pid" 2>/dev/null; fi
    fi
    wait "$pid" 2>/dev/null
    for k in $kids; do
        for ((i = 0; i < 100; i++)); do alive "$k" || break; sleep 0.05; done
        if alive "$k"; then left+=" $k"; kill -KILL "$k" 2>/dev/null; fi
    done
    [ -n "$left" ] && log "WARN: descendants of $name still alive 5 s after it stopped, SIGKILLed:$left"
    log "stopped $name pid=$pid${kids:+ (descendants: $kids)}"
}

stop_all_bg() {
    local i
    for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${BG_PIDS[$i]}" "${BG_NAMES[$i]}"
    done
    BG_PIDS=(); BG_NAMES=()
}

# wait_http URL [HOST] [TRIES] [PID] -> 0 once URL answers 200 (polls every 50 ms, bounded);
# gives up early if PID (the server we just started) has died.
wait_http() {
    local url=$1 host=${2:-} tries=${3:-100} pid=${4:-} i code
    local hdr=()
    [ -n "$host" ] && hdr=(-H "Host: $host")
    for ((i = 0; i < tries; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${hdr[@]}" "$url" 2>/dev/null)
        [ "$code" = 200 ] && return 0
        if [ -n "$pid" ] && ! alive "$pid"; then log "pid $pid exited while waiting for $url"; return 1; fi
        sleep 0.05
    done
    return 1
}

# desc_pids PID... -> the PIDs and all their descendants (one ps snapshot, walked breadth-first).
desc_pids() {
    ps -eo pid=,ppid= | awk -v roots="$*" '
        { kids[$2] = kids[$2] " " $1 }
        END { n = split(roots, q, " "); for (i = 1; i <= n; i++) seen[q[i]] = 1
              for (i = 1; i <= n; i++) { m = split(kids[q[i]], c, " ")
                  for (j = 1; j <= m; j++) if (!(c[j] in seen)) { seen[c[j]] = 1; q[++n] = c[j] } }
              for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), q[i] }'
}

# cpu_ticks PID... -> summed utime+stime (clock ticks) of the PIDs and all their descendants
# (nginx workers; an app a candidate host started, and that app's own workers).
cpu_ticks() {
    local k total=0 t
    [ $# -gt 0 ] || { echo 0; return; }
    for k in $(desc_pids "$@"); do
        [ -r "/proc/$k/stat" ] || continue
        # strip "pid (comm) " first: comm may contain spaces; utime/stime are then $12/$13
        t=$(sed 's/^.*) //' "/proc/$k/stat" 2>/dev/null | awk '{print $12 + $13}')
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# self_ticks PID -> utime+stime of that process alone (all its threads), not of its children
self_ticks() {
    local t
    t=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}')
    echo "${t:-0}"
}

# cpus_allowed PID -> its CPU affinity list as the kernel prints it (e.g. "1" or "0-1")
cpus_allowed() { awk '/^Cpus_allowed_list:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# render TEMPLATE OUT: replace @VAR@ placeholders with values of the same-named shell vars.
render() {
    sed -e "s|@RUN@|$RUN|g" \
        -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        -e "s|@NGINX_PORT@|$NGINX_PORT|g" \
        -e "s|@HAPROXY_PORT@|$HAPROXY_PORT|g" \
        -e "s|@WORKERS@|$PROXY_WORKERS|g" "$1" >"$2"
}

# sys_ticks -> "USRSYS IRQ TOTAL STEAL": clock ticks summed over all CPUs, from /proc/stat.
# USRSYS = user+nice+system (comparable with per-process utime+stime), IRQ = irq+softirq,
# TOTAL = everything incl. idle/iowait/steal.
sys_ticks() { awk '/^cpu /{u=$2+$3+$4; q=$7+$8; print u, q, u+q+$5+$6+$9, $9}' /proc/stat; }

# times_ticks FILE -> CPU ticks of the shell's waited-for children, from a file written by
# `times >FILE` (must run in the main shell, not in $(...), or it sees a fresh subshell).
times_ticks() {
    sed -n 2p "$1" | awk -v clk="$(getconf CLK_TCK)" \
        '{t=0; for (i=1;i<=2;i++){split($i,a,"m"); sub("s","",a[2]); t+=a[1]*60+a[2]} printf "%d\n", t*clk+0.5}'
}

# wait_quiet PCT MAXSECS: wait until the whole box is below PCT% busy (of all CPUs, 0.5 s samples),
# for at most MAXSECS; prints the last busy% seen. Other tenants' CPU (builds etc.) wreck
# proxy numbers on a 2-core box, so each measured run starts on a quiet machine when possible.
wait_quiet() {
    local pct=$1 max=$2 t0 b0 t1 b1 busy waited=0
    while :; do
        read -r b0 _ t0 _ < <(sys_ticks); sleep 0.5; read -r b1 _ t1 _ < <(sys_ticks)
        busy=$(( (t1 > t0) ? 100 * (b1 - b0) / (t1 - t0) : 0 ))
        if [ "$busy" -lt "$pct" ] || [ "$waited" -ge "$((max * 2))" ]; then echo "$busy"; return 0; fi
        waited=$((waited + 1))
    done
}

