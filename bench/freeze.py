#!/usr/bin/env python3
"""Does freezing idle instances pay? For a few typical app servers, each alone in a cgroup of its own: its
memory, the CPU (and wakeups) it burns while idle, the cost of freezing it (until the cgroup reports frozen),
thaw to first response against a warm response, and its cold start (exec to first response), which is what
stopping it costs instead. Needs root. cgroup v2 (cgroup.freeze, cgroup.events) first, v1 freezer otherwise;
CPU from v2 cpu.stat, or v1 cpuacct if v2 has none. Run: bench/freeze.sh (about 2-3 minutes).
Knobs (env): IDLE=20 (s) CYCLES=30 COLD=5 PORT=39050 (39000-39100) APPS="httpserver gunicorn uwsgi node"
CGROUP=auto|v1|v2 TIMEOUT=360 (s, whole run)
"""
import glob, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

IDLE = float(os.environ.get("IDLE", "20"))
CYCLES = int(os.environ.get("CYCLES", "30"))
COLD = int(os.environ.get("COLD", "5"))
PORT = int(os.environ.get("PORT", "39050"))
WANTED = os.environ.get("APPS", "httpserver gunicorn uwsgi node").split()
MODE = os.environ.get("CGROUP", "auto")
TIMEOUT = int(os.environ.get("TIMEOUT", "360"))
V2, V1 = "/sys/fs/cgroup/unified", "/sys/fs/cgroup"
PREFIX = "berth-freeze-bench-"
WSGI = ("def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'hi\\n']\n\napplication = app\n")
NODE = ("const http = require('http');\n"
        "http.createServer((req, res) => res.end('hi\\n'))\n"
        "    .listen(+process.env.PORT, '127.0.0.1');\n")
assert 39000 <= PORT <= 39100, "PORT must be in 39000-39100"


def read(path):
    with open(path) as f:
        return f.read()


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


class Cgroup:
    """One benchmark cgroup: v2 if usable, else v1 freezer (+ v1 cpuacct when v2 has no cpu.stat)."""

    def __init__(self, name, v2):
        self.v2 = v2
        if v2:
            self.dirs = [os.path.join(V2, PREFIX + name)]
        else:
            self.dirs = [os.path.join(V1, "freezer", PREFIX + name)]
        self.proc = None  # the Popen of the instance running in it, if any
        for d in self.dirs:
            os.makedirs(d)
        self.cpu_v2 = os.path.exists(os.path.join(self.dirs[0], "cpu.stat")) and v2
        if not self.cpu_v2:
            self.dirs.append(os.path.join(V1, "cpuacct", PREFIX + name))
            os.makedirs(self.dirs[-1])

    def join_cmd(self):  # shell prefix putting the shell itself ($$) into every directory before exec
        return "".join(f"echo $$ > {d}/cgroup.procs || exit 97; " for d in self.dirs)

    def members(self):
        return [int(p) for p in read(os.path.join(self.dirs[0], "cgroup.procs")).split()]

    def cpu_usec(self):
        if self.cpu_v2:
            stat = read(os.path.join(self.dirs[0], "cpu.stat")).splitlines()
            return next(int(l.split()[1]) for l in stat if l.startswith("usage_usec"))
        return int(read(os.path.join(self.dirs[-1], "cpuacct.usage"))) / 1000

    def freeze(self):
        write(os.path.join(self.dirs[0], "cgroup.freeze" if self.v2 else "freezer.state"), "1" if self.v2 else "FROZEN")

    def thaw(self):
        write(os.path.join(self.dirs[0], "cgroup.freeze" if self.v2 else "freezer.state"), "0" if self.v2 else "THAWED")

    def frozen(self):
        if self.v2:
            return "frozen 1" in read(os.path.join(self.dirs[0], "cgroup.events"))
        return read(os.path.join(self.dirs[0], "freezer.state")).strip() == "FROZEN"

    def remove(self):
        for d in self.dirs:
            if os.path.isdir(d):
                os.rmdir(d)


def v2_usable():
    if MODE == "v1" or not os.path.exists(os.path.join(V2, "cgroup.controllers")):
        return False
    probe = os.path.join(V2, PREFIX + "probe")
    os.makedirs(probe, exist_ok=True)
    try:
        return os.path.exists(os.path.join(probe, "cgroup.freeze"))
    finally:
        os.rmdir(probe)


def apps(work):
    """(name, why it is skipped or None, shell command)."""
    plugin = (os.path.exists("/usr/lib/uwsgi/plugins/python3_plugin.so") and shutil.which("uwsgi") and
              subprocess.run(["uwsgi", "--plugin", "python3", "--version"], capture_output=True).returncode == 0)
    table = {  # the real interpreter, not a pyenv shim, so that its cold start is python's own
        "httpserver": (None, f"exec {sys.executable} -m http.server $PORT --bind 127.0.0.1"),
        "gunicorn": (None if shutil.which("gunicorn") else "gunicorn not installed",
                     "exec gunicorn -w 2 -b 127.0.0.1:$PORT app:app"),
        "uwsgi": (None if plugin else "uwsgi or its python3 plugin not installed",  # --die-on-term: TERM exits
                  "exec uwsgi --plugin python3 --http-socket 127.0.0.1:$PORT --wsgi-file app.py"
                  " --processes 2 --master --die-on-term"),
        "node": (None if shutil.which("node") else "node not installed", "exec node app.js"),
    }
    write(os.path.join(work, "app.py"), WSGI)
    write(os.path.join(work, "app.js"), NODE)
    return [(n, table[n][0], table[n][1]) for n in WANTED if n in table]


def get(timeout=5.0):
    """One GET / on a new connection; seconds to the end of the response."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b"".join(iter(lambda: s.recv(65536), b""))
    if not data.startswith(b"HTTP/1.") or b" 200 " not in data.split(b"\r\n", 1)[0]:
        raise OSError(f"bad response {data[:40]!r}")
    return time.perf_counter() - t0


def proc_sum(pids, fields, pattern="/proc/{}/status"):
    """Sum of fields (kB or counts) over pids' status (or smaps_rollup) files; vanished processes count 0."""
    total = 0
    for p in pids:
        for path in glob.glob(pattern.format(p)):
            try:
                total += sum(int(l.split()[1]) for l in read(path).splitlines() if l.split(":")[0] in fields)
            except OSError:
                pass
    return total


def wakeups(pids):  # context switches of every thread of every member
    return proc_sum(pids, ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"), "/proc/{}/task/*/status")


def start(cg, command, work):
    env = dict(os.environ, PORT=str(PORT))
    t0 = time.perf_counter()
    cg.proc = subprocess.Popen(["/bin/sh", "-c", cg.join_cmd() + command], cwd=work, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while time.perf_counter() - t0 < 30:
        try:
            get(1.0)
            return time.perf_counter() - t0
        except OSError:
            if cg.proc.poll() is not None:
                raise RuntimeError(f"exited with {cg.proc.returncode} before answering")
            time.sleep(0.001)
    raise RuntimeError("did not answer within 30 s")


def stop(cg):
    """SIGTERM, then SIGKILL, every member of the cgroup (so also anything the app forked)."""
    cg.thaw()  # a frozen task cannot act on SIGTERM
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in cg.members():
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while cg.members() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not cg.members():
            break
    if cg.proc is not None:
        cg.proc.wait(timeout=5)
        cg.proc = None


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def measure(name, command, work, v2):
    cg = Cgroup(name, v2)
    try:
        colds = []
        for _ in range(COLD):
            colds.append(start(cg, command, work))
            stop(cg)
        start(cg, command, work)
        for _ in range(50):
            get()
        time.sleep(1)
        pids = cg.members()
        rss, pss = proc_sum(pids, ("VmRSS",)) / 1024, proc_sum(pids, ("Pss",), "/proc/{}/smaps_rollup") / 1024
        u0, w0 = cg.cpu_usec(), wakeups(pids)
        time.sleep(IDLE)
        idle_cpu = (cg.cpu_usec() - u0) / 1000 / IDLE * 60
        idle_wake = (wakeups(cg.members()) - w0) / IDLE * 60
        warm = [get() for _ in range(CYCLES)]
        freeze, thaw = [], []
        for _ in range(CYCLES):
            t0 = time.perf_counter()
            cg.freeze()
            while not cg.frozen():
                if time.perf_counter() - t0 > 5:
                    raise RuntimeError("not frozen after 5 s")
                time.sleep(0.0001)
            freeze.append(time.perf_counter() - t0)
            time.sleep(0.05)
            t0 = time.perf_counter()
            cg.thaw()
            get()
            thaw.append(time.perf_counter() - t0)
        stop(cg)
        ms = lambda v: v * 1000
        print(f"{name:<11} {rss:6.1f} {pss:6.1f} {idle_cpu:8.2f} {idle_wake:7.0f}"
              f" {ms(statistics.median(freeze)):7.2f}/{ms(pct(freeze, 90)):<6.2f}"
              f" {ms(statistics.median(thaw)):7.2f}/{ms(pct(thaw, 90)):<6.2f} {ms(statistics.median(warm)):7.2f}"
              f" {ms(statistics.median(colds)):8.1f}", flush=True)
    finally:
        stop(cg)
        cg.remove()


class Abort(BaseException):  # not an OSError, so no retry loop swallows it
    pass


def on_signal(signum, frame):
    raise Abort("overall timeout" if signum == signal.SIGALRM else f"signal {signum}")


def main():
    if os.geteuid() != 0:
        print("SKIPPED: needs root (cgroups)")
        return 0
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.alarm(TIMEOUT)  # cleanup still runs: every step below sits in a try/finally
    leftovers = glob.glob(f"{V2}/{PREFIX}*") + glob.glob(f"{V1}/*/{PREFIX}*")
    if leftovers:
        print(f"leftover cgroups from an earlier run (kill their members, rmdir them): {' '.join(leftovers)}")
        return 1
    v2 = v2_usable()
    if not v2 and not os.path.isdir(os.path.join(V1, "freezer")):
        print("SKIPPED: neither cgroup v2 cgroup.freeze nor a v1 freezer")
        return 0
    work = tempfile.mkdtemp(prefix="berth-freeze-")
    try:
        probe = Cgroup("probe", v2)
        cpu = "v2 cpu.stat" if probe.cpu_v2 else "v1 cpuacct"
        probe.remove()
        print(f"freezer: {'v2 cgroup.freeze' if v2 else 'v1 freezer.state'}; CPU: {cpu}; idle over {IDLE:.0f} s;"
              f" {CYCLES} freeze/thaw cycles (50 ms frozen); cold start = median of {COLD}; times in ms;"
              f" port {PORT}; load avg {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'app':<11} {'RSS MB':>6} {'PSS MB':>6} {'idle CPU':>8} {'wakeups':>7} {'freeze p50/p90':>14}"
              f" {'thaw->resp p50/p90':>14} {'warm p50':>7} {'cold start':>8}")
        print(f"{'':<11} {'sum':>6} {'sum':>6} {'ms/min':>8} {'/min':>7}")
        for name, why, command in apps(work):
            if why:
                print(f"{name:<11} SKIPPED: {why}")
                continue
            try:
                measure(name, command, work, v2)
            except Exception as e:  # one app failing must not hide the others' figures
                print(f"{name:<11} FAILED: {e}")
        signal.alarm(0)
    except Abort as e:
        print(f"ABORTED: {e}; everything started was stopped")
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
