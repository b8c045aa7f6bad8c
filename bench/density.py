"""Measures density (driven by density.sh): Berth's RSS with many apps configured and none running; the first
request to a cold app, through Berth, against the same app's own exec -> first response; and Berth's own memory
and threads per running instance with many apps alive at once. Prints a summary; see density.sh."""
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time

BERTH_PORT = int(os.environ["BERTH_PORT"])
BERTH_PID = int(os.environ["BERTH_PID"])
APPS = int(os.environ["APPS"])
ALIVE = int(os.environ["ALIVE"])
COLD_RUNS = int(os.environ["COLD_RUNS"])
PROBE_PORT = int(os.environ["PROBE_PORT"])
JCMD = os.environ.get("JCMD", "")
APP_CMD = os.environ["APP_CMD"]  # e.g. exec /usr/bin/python3 -I -S /path/tinyapp.py


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return -1


def rss_kb():
    return status_field(BERTH_PID, "VmRSS")


def threads():
    return status_field(BERTH_PID, "Threads")


def gc():
    """A full GC in Berth, so RSS is read after garbage is collected (the heap does not shrink below what it used)."""
    if JCMD:
        subprocess.run([JCMD, str(BERTH_PID), "GC.run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    time.sleep(1)


def get(host, port=BERTH_PORT, timeout=60.0):
    """One GET over a new connection; returns (status, seconds until the first response byte)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
        first = s.recv(1)
        t1 = time.perf_counter()
        data = first
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return int(data.split(b"\r\n", 1)[0].split()[1]), t1 - t0
    finally:
        s.close()


def alone():
    """The app by itself: exec (through /bin/sh -c, as Berth runs it) -> first response byte, polled every ~1 ms."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PORT": str(PROBE_PORT), "HOST": "127.0.0.1", "LANG": "C.UTF-8"}
    t0 = time.perf_counter()
    p = subprocess.Popen(["/bin/sh", "-c", APP_CMD], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                status, _ = get("alone", PROBE_PORT, 5)
                if status == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("the app alone did not answer in 30 s")
            time.sleep(0.001)
    finally:
        p.terminate()
        p.wait()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def ms(x):
    return f"{x * 1000:.1f} ms"


out = []
gc()
idle_rss = rss_kb()
idle_threads = threads()
out.append(f"{APPS} apps configured, none running: Berth RSS {idle_rss / 1024:.0f} MB, {idle_threads} threads (after a full GC)")

# cold first requests, interleaved with the app alone; distinct apps each time, so each is a real cold start
# (the first WARMUP are discarded: the JIT has not compiled Berth's start path yet)
WARMUP = 10
sample = random.Random(7).sample(range(APPS - ALIVE), COLD_RUNS + WARMUP)
for i in sample[:WARMUP]:
    alone()
    get(f"app{i}.test")
names = sample[WARMUP:]
through, own = [], []
for k, i in enumerate(names):
    own.append(alone())
    status, t = get(f"app{i}.test")
    if status != 200:
        raise RuntimeError(f"app{i}: status {status}")
    through.append(t)
    log(f"cold {k + 1}/{COLD_RUNS}: alone {ms(own[-1])}, through Berth {ms(through[-1])}")
warm = []
for i in names[:5]:
    for _ in range(20):
        warm.append(get(f"app{i}.test")[1])
out.append(f"cold first request through Berth ({COLD_RUNS} apps): p50 {ms(pct(through, 50))}, p99 {ms(pct(through, 99))}, "
           f"max {ms(max(through))}")
out.append(f"the app alone, exec -> first response: p50 {ms(pct(own, 50))}, p99 {ms(pct(own, 99))}")
out.append(f"cold-start overhead (through Berth - alone): p50 {(pct(through, 50) - pct(own, 50)) * 1000:+.1f} ms, "
           f"p99 {(pct(through, 99) - pct(own, 99)) * 1000:+.1f} ms")
out.append(f"warm request (new connection) to one of {APPS} routes: p50 {ms(pct(warm, 50))}, p99 {ms(pct(warm, 99))}")

# many apps alive at once
gc()
base_rss, base_threads = rss_kb(), threads()
t0 = time.perf_counter()
started = 0
for i in range(APPS - ALIVE, APPS):
    status, _ = get(f"app{i}.test")
    if status != 200:
        raise RuntimeError(f"app{i}: status {status}")
    started += 1
took = time.perf_counter() - t0
time.sleep(2)
gc()
alive_rss, alive_threads = rss_kb(), threads()
out.append(f"{ALIVE} apps started one after another in {took:.1f} s ({took / ALIVE * 1000:.0f} ms each, start to first response)")
out.append(f"{ALIVE} instances running: Berth RSS {alive_rss / 1024:.0f} MB ({(alive_rss - base_rss) / ALIVE:.0f} KB per instance), "
           f"{alive_threads} threads ({(alive_threads - base_threads) / ALIVE:+.2f} per instance)")
print("\n".join(out))
