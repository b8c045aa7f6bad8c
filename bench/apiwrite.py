#!/usr/bin/env python3
"""Time from an admin API write returning to the first successful request routed by Berth. Stdlib only.

Run by bench/apiwrite.sh, which starts Berth and passes:
  ADMIN_URL, TOKEN    the admin API (DATA/admin.url, DATA/admin.token)
  BERTH_PORT          the router
  APP_DIR, SYSPY      the directory of the benchmark app (app.py: "ok", HTTP/1.1 keep-alive) and its python
  STORE               a label for the output (sqlite, postgresql)
  CHANGES=200 WARMUP=20  RAW (file for every measurement, JSON)

Two kinds of write, CHANGES of each, after WARMUP unmeasured ones of each kind (the JIT):
  domain  PATCH /v1/apps/bench (merge patch) giving the running app "bench" one new domain d<i>.bench.test;
          t0 when the 200 answer has been read; then GET / with Host d<i>.bench.test on a keep-alive connection
          to the router until the app itself answers 200; t1 then. The app runs all along (warm instance). Then
          one more GET of the same host: what any routed request costs on this box (the baseline).
  create  POST /v1/apps creating app c<i> (domain c<i>.test, max_queue = 0); t0 when the 201 has been read; then
          GET / with its Host until the answer is not 404; t1 then. With max_queue = 0 the app's pool answers a
          routed request at once (503 "busy", naming the app) instead of starting a process, so this times the
          routing of a new app, not the app's cold start (bench/coldstart.sh measures that).
Also reported: the write itself (request sent -> answer read), and how many requests got 404 before the route
was there (0 means the write was applied before it was answered, as the API promises).
"""
import http.client
import json
import os
import sys
import time
from urllib.parse import urlparse

ADMIN = urlparse(os.environ["ADMIN_URL"])
TOKEN = os.environ["TOKEN"]
BERTH_PORT = int(os.environ["BERTH_PORT"])
APP_DIR = os.environ["APP_DIR"]
SYSPY = os.environ.get("SYSPY", "/usr/bin/python3")
STORE = os.environ.get("STORE", "sqlite")
CHANGES = int(os.environ.get("CHANGES", 200))
WARMUP = int(os.environ.get("WARMUP", 20))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Admin:
    def __init__(self):
        self.c = http.client.HTTPConnection(ADMIN.hostname, ADMIN.port, timeout=60)

    def call(self, method, path, body=None, ctype="application/json", headers=None):
        h = {"Authorization": "Bearer " + TOKEN}
        if body is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        self.c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, r.getheader("ETag"), (json.loads(data) if data else None)


class Router:
    def __init__(self):
        self.c = http.client.HTTPConnection("127.0.0.1", BERTH_PORT, timeout=60)

    def get(self, host):
        try:
            self.c.request("GET", "/", headers={"Host": host})
            r = self.c.getresponse()
            r.read()
            return r.status
        except (http.client.HTTPException, ConnectionError):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", BERTH_PORT, timeout=60)
            return None


def until(router, host, ok, deadline_s=10):
    """GETs host until ok(status); returns (seconds since now, requests that were not ok)."""
    misses = 0
    end = time.perf_counter() + deadline_s
    while True:
        status = router.get(host)
        if status is not None and ok(status):
            return misses
        misses += 1
        if time.perf_counter() > end:
            raise SystemExit(f"{host}: still {status} after {deadline_s} s")


def pct(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary(label, lat, writes, misses):
    ms = [v * 1000 for v in lat]
    w = [v * 1000 for v in writes]
    return (f"{STORE:<10} {label:<7} n={len(ms):<4} answer->routed p50 {pct(ms, 50):6.2f} ms  p99 {pct(ms, 99):6.2f} ms  "
            f"max {max(ms):6.2f} ms | write itself p50 {pct(w, 50):6.2f} ms  p99 {pct(w, 99):6.2f} ms | "
            f"requests that missed the route: {sum(misses)}")


def main():
    admin, router = Admin(), Router()
    status, _, _ = admin.call("GET", "/v1/status")
    if status != 200:
        raise SystemExit(f"admin API answered {status}")
    # a clean slate: this store may hold apps of an earlier run (PostgreSQL)
    _, _, listing = admin.call("GET", "/v1/apps")
    for a in listing["apps"]:
        admin.call("DELETE", "/v1/apps/" + a["name"], headers={"If-Match": "*"})

    app = {"name": "bench", "domains": ["bench.test"], "directory": APP_DIR, "idle_timeout": "1h",
           "command": f"exec {SYSPY} app.py"}
    status, etag, body = admin.call("POST", "/v1/apps", app)
    if status != 201:
        raise SystemExit(f"create bench: {status} {body}")
    until(router, "bench.test", lambda s: s == 200, 60)
    log("app bench runs; measuring")

    results = {}
    baseline = []
    for kind in ("domain", "create"):
        lat, writes, misses = [], [], []
        for i in range(WARMUP + CHANGES):
            if kind == "domain":
                host = f"d{i}.bench.test"
                t = time.perf_counter()
                status, etag, body = admin.call("PATCH", "/v1/apps/bench", {"domains": ["bench.test", host]},
                                                "application/merge-patch+json", {"If-Match": etag})
                t0 = time.perf_counter()
                if status != 200:
                    raise SystemExit(f"patch: {status} {body}")
                miss = until(router, host, lambda s: s == 200)
                t1 = time.perf_counter()
                until(router, host, lambda s: s == 200)
                if i >= WARMUP:
                    baseline.append(time.perf_counter() - t1)
            else:
                host = f"c{i}.test"
                t = time.perf_counter()
                status, _, body = admin.call("POST", "/v1/apps", {"name": f"c{i}", "domains": [host], "directory": APP_DIR,
                                                                  "command": "exec true", "max_queue": 0})
                t0 = time.perf_counter()
                if status != 201:
                    raise SystemExit(f"create: {status} {body}")
                miss = until(router, host, lambda s: s != 404)
                t1 = time.perf_counter()
            if i >= WARMUP:
                lat.append(t1 - t0)
                writes.append(t0 - t)
                misses.append(miss)
        results[kind] = (lat, writes, misses)
        log(summary(kind, lat, writes, misses))

    for i in range(WARMUP + CHANGES):
        admin.call("DELETE", f"/v1/apps/c{i}", headers={"If-Match": "*"})
    admin.call("DELETE", "/v1/apps/bench", headers={"If-Match": "*"})
    raw = []
    for kind, (lat, writes, misses) in results.items():
        print(summary(kind, lat, writes, misses))
        if kind == "domain":
            b = [v * 1000 for v in baseline]
            print(f"{STORE:<10} {'':<7} baseline: the next request to the same host, p50 {pct(b, 50):6.2f} ms  p99 {pct(b, 99):6.2f} ms")
        raw.append({"store": STORE, "kind": kind, "answer_to_routed_ms": [round(v * 1000, 3) for v in lat],
                    "baseline_ms": [round(v * 1000, 3) for v in baseline] if kind == "domain" else [],
                    "write_ms": [round(v * 1000, 3) for v in writes], "misses": misses})
    if os.environ.get("RAW"):
        with open(os.environ["RAW"], "w") as f:
            json.dump(raw, f)


if __name__ == "__main__":
    main()
