#!/usr/bin/env python3
"""Change propagation across the nodes of a Berth cluster. Stdlib only.

Run by bench/cluster.sh, which starts PostgreSQL and three nodes and passes:
  NODES        "name,router_port,admin_url,token;..." for each node
  APP_DIR, SYSPY  the benchmark app (app.py: "ok", HTTP/1.1 keep-alive) and its python
  CHANGES=200 WARMUP=20  RAW (file for every measurement, JSON)  OWNER_FILE (where the owner's name is written)

Creates app "bench" (domain bench.test) through the first node and waits until it answers through every node. Then
CHANGES times (after WARMUP unmeasured ones), rotating the node written to: PATCH the app on node W giving it one
new domain d<i>.bench.test; t0 just before the request is sent, ta when its 200 answer has been read. Meanwhile
one thread per other node GETs / with that Host on a keep-alive connection to that node's router until the app
itself answers 200 (the node has the change, and so has the app's owner if the request was forwarded); t1 then
(tries 1 ms apart, each a request through the node: the resolution is about 1.5 ms).
Reported per (writer, other node) pair and over all: t1 - ta ("answer -> routed elsewhere") and t1 - t0.
"""
import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse

CHANGES = int(os.environ.get("CHANGES", 200))
WARMUP = int(os.environ.get("WARMUP", 20))
APP_DIR = os.environ["APP_DIR"]
SYSPY = os.environ.get("SYSPY", "/usr/bin/python3")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Node:
    def __init__(self, spec):
        self.name, port, url, self.token = spec.split(",")
        self.port = int(port)
        self.admin_url = urlparse(url)
        self.admin = http.client.HTTPConnection(self.admin_url.hostname, self.admin_url.port, timeout=60)
        self.router = None

    def call(self, method, path, body=None, ctype="application/json", headers=None):
        h = {"Authorization": "Bearer " + self.token}
        if body is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        self.admin.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = self.admin.getresponse()
        data = r.read()
        return r.status, r.getheader("ETag"), (json.loads(data) if data else None)

    def get(self, host):
        if self.router is None:
            self.router = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.router.request("GET", "/", headers={"Host": host})
            r = self.router.getresponse()
            r.read()
            return r.status
        except (http.client.HTTPException, ConnectionError):
            self.router.close()
            self.router = None
            return None

    def until_ok(self, host, deadline_s=10):
        end = time.perf_counter() + deadline_s
        while True:
            if self.get(host) == 200:
                return time.perf_counter()
            if time.perf_counter() > end:
                raise SystemExit(f"{host} not routed through {self.name} after {deadline_s} s")
            # 1 ms between tries: the pollers must not take the CPU the nodes need on a small box
            time.sleep(0.001)


def pct(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def line(label, after_answer, after_send):
    a = [v * 1000 for v in after_answer]
    b = [v * 1000 for v in after_send]
    return (f"{label:<14} n={len(a):<4} answer->routed p50 {pct(a, 50):6.2f} ms  p99 {pct(a, 99):6.2f} ms  max {max(a):6.2f} ms"
            f" | sent->routed p50 {pct(b, 50):6.2f} ms  p99 {pct(b, 99):6.2f} ms")


def main():
    nodes = [Node(s) for s in os.environ["NODES"].split(";")]
    first = nodes[0]
    _, _, listing = first.call("GET", "/v1/apps")
    for a in listing["apps"]:
        first.call("DELETE", "/v1/apps/" + a["name"], headers={"If-Match": "*"})
    app = {"name": "bench", "domains": ["bench.test"], "directory": APP_DIR, "idle_timeout": "1h", "command": f"exec {SYSPY} app.py"}
    status, etag, body = first.call("POST", "/v1/apps", app)
    if status != 201:
        raise SystemExit(f"create bench: {status} {body}")
    for n in nodes:
        n.until_ok("bench.test", 60)
    _, _, cluster = first.call("GET", "/v1/cluster")
    owner = next(a["owners"][0] for a in cluster["apps"] if a["name"] == "bench")
    log(f"app bench runs on {owner}; measuring {CHANGES} changes (+{WARMUP} warm-up)")
    if os.environ.get("OWNER_FILE"):
        with open(os.environ["OWNER_FILE"], "w") as f:
            f.write(owner + "\n")

    pairs = {}
    raw = []
    for i in range(WARMUP + CHANGES):
        writer = nodes[i % len(nodes)]
        others = [n for n in nodes if n is not writer]
        host = f"d{i}.bench.test"
        routed = {}

        def poll(n):
            routed[n.name] = n.until_ok(host)

        t0 = time.perf_counter()
        status, etag, body = writer.call("PATCH", "/v1/apps/bench", {"domains": ["bench.test", host]},
                                         "application/merge-patch+json", {"If-Match": "*"})
        ta = time.perf_counter()
        if status != 200:
            raise SystemExit(f"patch on {writer.name}: {status} {body}")
        threads = [threading.Thread(target=poll, args=(n,)) for n in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if i < WARMUP:
            continue
        for n in others:
            pairs.setdefault(f"{writer.name}->{n.name}", []).append((routed[n.name] - ta, routed[n.name] - t0))
            raw.append({"writer": writer.name, "node": n.name, "answer_to_routed_ms": round((routed[n.name] - ta) * 1000, 3),
                        "sent_to_routed_ms": round((routed[n.name] - t0) * 1000, 3)})
    first.call("DELETE", "/v1/apps/bench", headers={"If-Match": "*"})
    everything = [v for vs in pairs.values() for v in vs]
    print(line("all pairs", [a for a, _ in everything], [b for _, b in everything]))
    for k in sorted(pairs):
        print(line(k, [a for a, _ in pairs[k]], [b for _, b in pairs[k]]))
    if os.environ.get("RAW"):
        with open(os.environ["RAW"], "w") as f:
            json.dump(raw, f)


if __name__ == "__main__":
    main()
