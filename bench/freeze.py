#!/usr/bin/env python3
"""Does freezing idle instances pay? For a few typical app servers, each alone in a cgroup v2 of its own:
its memory, the CPU it burns while idle, the cost of freezing it (cgroup.freeze until cgroup.events says
frozen), thaw to first response against a warm response, and its cold start (exec to first response), which is
what stopping it costs instead. Needs root and a cgroup v2 hierarchy. Run: bench/freeze.sh (about 3 minutes).
Knobs (env): IDLE=20 (s of idleness measured) CYCLES=30 PORT=39050 APPS="httpserver gunicorn uwsgi node"
"""
import os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

IDLE = float(os.environ.get("IDLE", "20"))
CYCLES = int(os.environ.get("CYCLES", "30"))
PORT = int(os.environ.get("PORT", "39050"))
WANTED = os.environ.get("APPS", "httpserver gunicorn uwsgi node").split()
WSGI = "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'hi\\n']\napplication = app\n"
NODE = "require('http').createServer((q, s) => s.end('hi\\n')).listen(+process.env.PORT, '127.0.0.1');\n"


def v2_root():
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.controllers")):
            return root
    return None


def apps(work):
    uwsgi_plugin = any(os.path.exists(p) for p in ("/usr/lib/uwsgi/plugins/python3_plugin.so",))
    table = {
        "httpserver": ("python3", "exec python3 -m http.server $PORT --bind 127.0.0.1"),
        "gunicorn": ("gunicorn", "exec gunicorn -w 2 -b 127.0.0.1:$PORT app:app"),
        "uwsgi": ("uwsgi" if uwsgi_plugin else "uwsgi's python3 plugin",
                  "exec uwsgi --plugin python3 --http-socket 127.0.0.1:$PORT --wsgi-file app.py --processes 2 --master --die-on-term"),
        "node": ("node", "exec node app.js"),
    }
    with open(os.path.join(work, "app.py"), "w") as f:
        f.write(WSGI)
    with open(os.path.join(work, "app.js"), "w") as f:
        f.write(NODE)
    return [(n, table[n][0], table[n][1]) for n in WANTED if n in table]


def get(timeout=5.0):
    """One GET / on a new connection; seconds to the end of the response."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(65536):
            pass
    return time.perf_counter() - t0


def wait_answer(deadline):
    while time.monotonic() < deadline:
        try:
            get(1.0)
            return True
        except OSError:
            time.sleep(0.001)
    return False


def members(cg):
    with open(os.path.join(cg, "cgroup.procs")) as f:
        return [int(p) for p in f.read().split()]


def rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def cpu_usec(cg):
    with open(os.path.join(cg, "cpu.stat")) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("usage_usec"))


def frozen(cg):
    with open(os.path.join(cg, "cgroup.events")) as f:
        return "frozen 1" in f.read()


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def start(cg, command, work):
    env = dict(os.environ, PORT=str(PORT))
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/bin/sh", "-c", f"echo $$ > {cg}/cgroup.procs; {command}"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if not wait_answer(time.monotonic() + 30):
        raise RuntimeError("did not answer within 30 s")
    return proc, time.perf_counter() - t0


def stop(cg, proc):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in members(cg):
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while members(cg) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not members(cg):
            break
    proc.wait(timeout=5)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def measure(name, command, root, work):
    cg = os.path.join(root, "berth-freeze-bench-" + name)
    os.makedirs(cg, exist_ok=True)
    try:
        colds = []
        for _ in range(5):
            proc, cold = start(cg, command, work)
            colds.append(cold)
            stop(cg, proc)
        proc, _ = start(cg, command, work)
        try:
            for _ in range(50):
                get()
            time.sleep(1)
            rss = rss_kb(members(cg)) / 1024
            u0 = cpu_usec(cg)
            time.sleep(IDLE)
            idle_ms_min = (cpu_usec(cg) - u0) / 1000 / IDLE * 60
            warm = [get() for _ in range(CYCLES)]
            freeze, thaw = [], []
            for _ in range(CYCLES):
                t0 = time.perf_counter()
                write(os.path.join(cg, "cgroup.freeze"), "1")
                while not frozen(cg):
                    time.sleep(0.0001)
                freeze.append(time.perf_counter() - t0)
                time.sleep(0.05)
                t0 = time.perf_counter()
                write(os.path.join(cg, "cgroup.freeze"), "0")
                get()
                thaw.append(time.perf_counter() - t0)
        finally:
            write(os.path.join(cg, "cgroup.freeze"), "0")
            stop(cg, proc)
        ms = lambda v: v * 1000
        print(f"{name:<11} {rss:7.1f} {idle_ms_min:9.2f} {ms(statistics.median(freeze)):7.2f}/{ms(pct(freeze, 90)):<6.2f}"
              f" {ms(statistics.median(thaw)):7.2f}/{ms(pct(thaw, 90)):<6.2f} {ms(statistics.median(warm)):8.2f}"
              f" {ms(statistics.median(colds)):9.1f}", flush=True)
    finally:
        os.rmdir(cg)


def main():
    root = v2_root()
    if os.geteuid() != 0 or root is None:
        print("SKIPPED: needs root and a cgroup v2 hierarchy (cgroup.freeze)")
        return 0
    work = tempfile.mkdtemp(prefix="berth-freeze-")
    try:
        print(f"cgroup v2 at {root}; idle measured over {IDLE:.0f} s; {CYCLES} freeze/thaw cycles; ms unless said")
        print(f"{'app':<11} {'RSS MB':>7} {'idle CPU':>9} {'freeze p50/p90':>14} {'thaw->resp p50/p90':>14} {'warm resp':>8} {'cold start':>9}")
        print(f"{'':<11} {'':>7} {'ms/min':>9}")
        for name, binary, command in apps(work):
            if shutil.which(binary.split("'")[0]) is None or "'" in binary:
                print(f"{name:<11} SKIPPED: {binary} is not installed")
                continue
            try:
                measure(name, command, root, work)
            except Exception as e:  # one app failing must not hide the others' figures
                print(f"{name:<11} FAILED: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
