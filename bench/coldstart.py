#!/usr/bin/env python3
"""Cold-start overhead of Berth: (a) an app's own exec -> first HTTP 200, against (b) the time to the first
response through Berth for a request that arrives while the app is stopped. Stdlib only.

Run by bench/coldstart.sh, which installs what is needed, writes the apps, starts Berth and passes:
  APPS_JSON  file: [{"name", "domain", "command", "directory", "desc"}, ...]
  BERTH_PORT, ADMIN_PORT, BERTH_DATA (Berth's --data dir, for the app logs), PROBE_PORT (for (a))
  RUNS=7 TIMEOUT=60 QUIET_PCT=10 QUIET_MAX=5 WARM_REQS=100 LOG_DIR

(a) t0 immediately before fork+exec of `/bin/sh -c COMMAND` (the app's command from the apps file, with
    PORT=$PROBE_PORT, HOST=127.0.0.1, the same clean environment and working directory Berth gives it,
    in a new session like Berth's); then GET / (Connection: close) every ~1 ms until a 200 status line.
(b) the app is stopped (admin /health says so); t0 immediately before connect() to Berth; one
    GET / with the app's Host header; t1 when the status line arrives (must be 200).
Runs of (a) and (b) alternate (a,b / b,a / ...) so machine noise hits both alike; before every run the
script waits until every app is stopped in Berth and the box is quiet (bounded).
"""
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime

REQ = "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"


def env_int(k, d):
    return int(os.environ.get(k, d))


RUNS = env_int("RUNS", 21)
TIMEOUT = float(os.environ.get("TIMEOUT", 60))
QUIET_PCT = env_int("QUIET_PCT", 10)
QUIET_MAX = float(os.environ.get("QUIET_MAX", 5))
WARM_REQS = env_int("WARM_REQS", 100)
BERTH_PORT = env_int("BERTH_PORT", 19190)
ADMIN_PORT = env_int("ADMIN_PORT", 19191)
PROBE_PORT = env_int("PROBE_PORT", 19500)
BERTH_DATA = os.environ.get("BERTH_DATA", "")
LOG_DIR = os.environ.get("LOG_DIR", "/tmp")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ HTTP bits
def status_line(port, host, io_timeout):
    """None if nothing listens on port, b"" if the connection was dropped, else the status line."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(io_timeout)
    try:
        s.connect(("127.0.0.1", port))
    except (ConnectionRefusedError, ConnectionResetError):
        s.close()
        return None
    try:
        s.sendall(REQ.format(host=host).encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n", 1)[0]
    except (ConnectionResetError, BrokenPipeError):
        return b""
    finally:
        s.close()


def code(line):
    parts = (line or b"").split(b" ")
    return parts[1].decode(errors="replace") if len(parts) > 1 else None


def health():
    c = http.client.HTTPConnection("127.0.0.1", ADMIN_PORT, timeout=5)
    try:
        c.request("GET", "/health")
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def app_state(h, name):
    for a in h.get("apps", []):
        if a.get("name") == name:
            return a
    return None


def wait_all_stopped(names, limit=30.0):
    """Poll /health (every 20 ms) until none of the apps is starting/running/stopping."""
    t_end = time.monotonic() + limit
    while True:
        h = health()
        busy = [n for n in names if (app_state(h, n) or {}).get("state", "stopped") != "stopped"]
        if not busy:
            return
        if time.monotonic() > t_end:
            raise SystemExit(f"apps {busy} still not stopped after {limit:.0f} s: {json.dumps(h)}")
        time.sleep(0.02)


# ------------------------------------------------------------------ quiet box (as lib.sh wait_quiet)
def sys_ticks():
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    busy = f[0] + f[1] + f[2] + f[5] + f[6]
    return busy, sum(f[:8])


def wait_quiet():
    waited, busy = 0.0, 0
    while True:
        b0, t0 = sys_ticks()
        time.sleep(0.25)
        b1, t1 = sys_ticks()
        busy = 100 * (b1 - b0) // max(1, t1 - t0)
        waited += 0.25
        if busy < QUIET_PCT or waited >= QUIET_MAX:
            return busy


def loadavg():
    """The 1-minute load average now: how busy the box was around a run (2 CPUs here; other tenants' builds)."""
    try:
        with open("/proc/loadavg") as fh:
            return float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def p90(v):
    return statistics.quantiles(v, n=10, method="inclusive")[-1] if len(v) > 1 else v[0]


# ------------------------------------------------------------------ (a) the app alone
def clean_env(port):
    """The environment Berth gives an app: PATH HOME USER LOGNAME LANG TZ from here, then PORT and HOST."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ") if k in os.environ}
    env.update(PORT=str(port), HOST="127.0.0.1")
    return env


def session_pids(sid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
                if int(f[3]) == sid and f[0] != "Z":
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def stop_session(p):
    """SIGTERM the leader we started, wait (5 s), SIGKILL; then every process left in its session, by PID."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    t_end = time.monotonic() + 5
    while session_pids(p.pid) and time.monotonic() < t_end:
        time.sleep(0.02)
    for k in session_pids(p.pid):
        log(f"WARN: pid {k} of the probed app's session outlived its leader: SIGKILL")
        os.kill(k, signal.SIGKILL)


def run_alone(app):
    if status_line(PROBE_PORT, "127.0.0.1", 1.0) is not None:
        raise SystemExit(f"probe port {PROBE_PORT} is already in use")
    logf = open(os.path.join(LOG_DIR, f"alone-{app['name']}.log"), "ab")
    attempts = 0
    t0 = time.perf_counter()
    p = subprocess.Popen(["/bin/sh", "-c", app["command"]], cwd=app["directory"], env=clean_env(PROBE_PORT),
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
    try:
        deadline = t0 + TIMEOUT
        while True:
            attempts += 1
            line = status_line(PROBE_PORT, "127.0.0.1", max(0.1, deadline - time.perf_counter()))
            if code(line) == "200":
                ms = (time.perf_counter() - t0) * 1e3
                # one more request, now warm: the app's own per-request time on a new connection
                t1 = time.perf_counter()
                line2 = status_line(PROBE_PORT, "127.0.0.1", 10)
                warm = (time.perf_counter() - t1) * 1e3
                return ms, {"attempts": attempts, "warm_direct_ms": warm if code(line2) == "200" else None}
            if p.poll() is not None:
                raise SystemExit(f"{app['name']}: exited with {p.returncode} before answering (see {logf.name})")
            if time.perf_counter() > deadline:
                raise SystemExit(f"{app['name']}: no HTTP 200 within {TIMEOUT}s (last {line!r})")
            time.sleep(0.001)
    finally:
        stop_session(p)
        logf.close()
        # the port must be free before the next run (bounded 5 s)
        t_end = time.monotonic() + 5
        while status_line(PROBE_PORT, "127.0.0.1", 0.5) is not None and time.monotonic() < t_end:
            time.sleep(0.02)


# ------------------------------------------------------------------ (b) through Berth
READY_RE = re.compile(r"^(\S+) (i\d+) berth\| ready: answered on port (\d+) after (\d+)ms \(pid (\d+)\)")
START_RE = re.compile(r"^(\S+) (i\d+) berth\| starting on port \d+.*?\(pid \d+(?:, spawned ([\d.]+) ms after)?")


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def berth_log_times(app, pid):
    """From Berth's app log: the 'ready ... after Xms (pid P)' figure and the wall-clock times of the
    'starting' and 'ready' lines of that instance (None where missing)."""
    out = {"berth_ready_ms": None, "t_starting": None, "t_ready": None, "berth_spawn_ms": None}
    try:
        with open(os.path.join(BERTH_DATA, "logs", f"{app['name']}.log"), errors="replace") as fh:
            lines = fh.read().splitlines()[-300:]
    except OSError:
        return out
    tag = None
    for line in reversed(lines):
        m = READY_RE.search(line)
        if m and int(m.group(5)) == pid:
            out.update(berth_ready_ms=int(m.group(4)), t_ready=ts(m.group(1)))
            tag = m.group(2)
            continue
        m = START_RE.search(line)
        if tag and m and m.group(2) == tag:
            out["t_starting"] = ts(m.group(1))
            if m.group(3):
                out["berth_spawn_ms"] = float(m.group(3))
            break
    return out


def run_berth(app, prev_pid):
    st = app_state(health(), app["name"]) or {}
    if st.get("state", "stopped") != "stopped":
        raise SystemExit(f"{app['name']} is {st.get('state')} in Berth before a cold-start run")
    w0 = time.time()
    t0 = time.perf_counter()
    line = status_line(BERTH_PORT, app["domain"], TIMEOUT)
    ms = (time.perf_counter() - t0) * 1e3
    w1 = w0 + ms / 1e3
    if code(line) != "200":
        raise SystemExit(f"{app['name']}: Berth answered {line!r} to the cold request (after {ms:.1f} ms)")
    # one more request, now warm: the per-request cost of the extra hop, for context
    t1 = time.perf_counter()
    line2 = status_line(BERTH_PORT, app["domain"], 10)
    warm = (time.perf_counter() - t1) * 1e3
    st = app_state(health(), app["name"]) or {}
    pid = st.get("pid")
    info = {"pid": pid, "warm_ms": warm if code(line2) == "200" else None, "t_request": w0}
    lt = berth_log_times(app, pid) if pid else {}
    info["berth_ready_ms"] = lt.get("berth_ready_ms")
    info["berth_spawn_ms"] = lt.get("berth_spawn_ms")
    if lt.get("t_starting") and lt.get("t_ready"):
        # timeline from Berth's log timestamps (1 ms resolution, written when Berth logs the event)
        info["req_to_starting_ms"] = (lt["t_starting"] - w0) * 1e3
        info["starting_to_ready_ms"] = (lt["t_ready"] - lt["t_starting"]) * 1e3
        info["ready_to_resp_ms"] = (w1 - lt["t_ready"]) * 1e3
    if pid is not None and pid == prev_pid:
        raise SystemExit(f"{app['name']}: same pid {pid} as the previous run: the app was not cold")
    return ms, info


def warm_requests(app, n):
    c = http.client.HTTPConnection("127.0.0.1", BERTH_PORT, timeout=10)
    bad = 0
    for _ in range(n):
        c.request("GET", "/", headers={"Host": app["domain"]})
        r = c.getresponse()
        r.read()
        bad += r.status != 200
    c.close()
    return bad


# ------------------------------------------------------------------ main
def fmt(x, f=".1f"):
    return "n/a" if x is None else format(x, f)


def main():
    apps = json.load(open(os.environ["APPS_JSON"]))
    names = [a["name"] for a in apps]
    res = {a["name"]: {"a": [], "b": [], "pairs": [], "rows": []} for a in apps}

    log(f"Berth health before warm-up: {json.dumps(health())}")
    for app in apps:
        wait_all_stopped(names)
        ms, _ = run_alone(app)
        log(f"warm-up {app['name']} alone (discarded): {ms:.1f} ms")
        wait_all_stopped(names)
        ms, info = run_berth(app, None)
        bad = warm_requests(app, WARM_REQS)
        log(f"warm-up {app['name']} through Berth (discarded): {ms:.1f} ms; then {WARM_REQS} warm requests, "
            f"{bad} non-200")
        res[app["name"]]["prev_pid"] = info["pid"]

    for i in range(RUNS):
        for j, app in enumerate(apps):
            r = res[app["name"]]
            order = "ab" if (i + j) % 2 == 0 else "ba"
            row = {"run": i + 1, "order": order, "load1": loadavg()}
            for m in order:
                wait_all_stopped(names)
                row[f"busy_{m}"] = wait_quiet()
                if m == "a":
                    row["a"], info = run_alone(app)
                    row["warm_direct_ms"] = info.get("warm_direct_ms")
                else:
                    row["b"], info = run_berth(app, r["prev_pid"])
                    r["prev_pid"] = info["pid"]
                    row.update(info)
            r["a"].append(row["a"])
            r["b"].append(row["b"])
            r["pairs"].append(row["b"] - row["a"])
            r["rows"].append(row)
            log(f"run {i + 1}/{RUNS} {app['name']:10s} ({order}) alone {row['a']:7.1f} ms   via Berth {row['b']:7.1f} ms"
                f"   diff {row['b'] - row['a']:+6.1f} ms   (Berth log: ready after {fmt(row.get('berth_ready_ms'), 'd')} ms;"
                f" warm request {fmt(row.get('warm_ms'), '.2f')} ms)")
    wait_all_stopped(names)

    # ---------------------------------------------------------------- report
    print(f"\nRuns: {RUNS} per app and side, interleaved (order a,b / b,a alternating); one discarded warm-up of"
          f" each side first, then {WARM_REQS} warm requests through Berth.")
    print("(a) = app alone: exec of /bin/sh -c COMMAND -> first HTTP 200, polled every ~1 ms")
    print("(b) = through Berth: request sent while the app is stopped -> HTTP 200 status line received\n")
    final = []
    for app in apps:
        r = res[app["name"]]
        print(f"## {app['name']}: {app['desc']}")
        print(f"   command: {app['command']}")
        print("| run | order | load | (a) alone ms | (b) via Berth ms | b - a ms | Berth log: asked -> spawned ms "
              "| Berth log 'ready after' ms "
              "| (b) request -> 'starting' logged | 'starting' -> 'ready' logged | 'ready' logged -> response "
              "| warm req direct ms | warm req via Berth ms |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in r["rows"]:
            print(f"| {row['run']} | {row['order']} | {fmt(row.get('load1'))} | {row['a']:.1f} | {row['b']:.1f} "
                  f"| {row['b'] - row['a']:+.1f} | {fmt(row.get('berth_spawn_ms'))} | {fmt(row.get('berth_ready_ms'), 'd')} | {fmt(row.get('req_to_starting_ms'))} "
                  f"| {fmt(row.get('starting_to_ready_ms'))} | {fmt(row.get('ready_to_resp_ms'))} "
                  f"| {fmt(row.get('warm_direct_ms'), '.2f')} | {fmt(row.get('warm_ms'), '.2f')} |")
        ma, mb = statistics.median(r["a"]), statistics.median(r["b"])
        over = mb - ma
        paired = statistics.median(r["pairs"])
        paired90 = p90(r["pairs"])
        over90 = p90(r["b"]) - p90(r["a"])
        loads = [x["load1"] for x in r["rows"] if x.get("load1") is not None]
        spawns = [x["berth_spawn_ms"] for x in r["rows"] if x.get("berth_spawn_ms") is not None]
        warm = [x["warm_ms"] for x in r["rows"] if x.get("warm_ms") is not None]
        warmd = [x["warm_direct_ms"] for x in r["rows"] if x.get("warm_direct_ms") is not None]

        def mcol(k):
            v = [x[k] for x in r["rows"] if x.get(k) is not None]
            return fmt(statistics.median(v) if v else None)
        print(f"\n   median (a) alone:      {ma:7.1f} ms   (min {min(r['a']):.1f}, max {max(r['a']):.1f})")
        print(f"   median (b) via Berth:  {mb:7.1f} ms   (min {min(r['b']):.1f}, max {max(r['b']):.1f})")
        print(f"   overhead = median(b) - median(a) = {over:+.1f} ms   target < 5 ms: {'MET' if over < 5 else 'NOT MET'}")
        print(f"   paired differences b - a: median {paired:+.1f} ms, p90 {paired90:+.1f} ms; p90(b) - p90(a) {over90:+.1f} ms; "
              f"min b - min a {min(r['b']) - min(r['a']):+.1f} ms")
        print(f"   Berth's own start, asked -> spawned (its log): median "
              f"{fmt(statistics.median(spawns) if spawns else None)} ms, p90 {fmt(p90(spawns) if spawns else None)} ms; "
              f"load average (1 min) at the runs: median {fmt(statistics.median(loads) if loads else None)}, "
              f"max {fmt(max(loads) if loads else None)} ({os.cpu_count()} CPUs)")
        print(f"   (warm request (new connection) direct {fmt(statistics.median(warmd) if warmd else None, '.2f')} ms, "
              f"through Berth {fmt(statistics.median(warm) if warm else None, '.2f')} ms, medians)")
        print(f"   (b) timeline from Berth's log, medians: request -> 'starting' {mcol('req_to_starting_ms')} ms, "
              f"'starting' -> 'ready' {mcol('starting_to_ready_ms')} ms, 'ready' -> response {mcol('ready_to_resp_ms')} ms\n")
        final.append(f"{app['name']}={over:+.1f} ms (a {ma:.1f}, b {mb:.1f}; paired median {paired:+.1f}, p90 {paired90:+.1f})")
    bpid = os.environ.get("BERTH_PID")
    if bpid:
        up = os.path.exists(f"/proc/{bpid}")
        nwarn = "n/a"
        try:
            nwarn = sum(1 for line in open(os.environ.get("BERTH_LOG", ""), errors="replace")
                        if re.search(r"warn|error|exception", line, re.I))
        except OSError:
            pass
        print(f"Berth pid {bpid}: {'still running' if up else 'NOT RUNNING any more'}; "
              f"WARN/ERROR/exception lines in its output: {nwarn}")
    print("coldstart overhead, median(b) - median(a): " + "; ".join(final) + "; target < 5 ms")
    json.dump(res, open(os.path.join(LOG_DIR, "coldstart.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
