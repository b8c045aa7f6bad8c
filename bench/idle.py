#!/usr/bin/env python3
"""Holds N idle keep-alive client connections to a proxy and reports what they cost it in memory.

usage: idle.py PORT HOST_HEADER N PID [PID...]
Opens N connections to 127.0.0.1:PORT (200 at a time), sends one GET on each and reads its answer, so every
connection is a live keep-alive connection that has served a request; then sums VmRSS of the PIDs (the proxy's
processes) against the sum before, checks that 100 of the connections still answer, and closes them all.
Prints one line: conns=N ok=OK rss_before_kb=B rss_after_kb=A kb_per_conn=K
"""
import asyncio
import sys


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


async def one(port, host, conns, sem):
    async with sem:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        await request(r, w, host)
        conns.append((r, w))


async def request(r, w, host):
    w.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":")[1])
    await asyncio.wait_for(r.readexactly(length), 10)


async def main():
    port, host, n, pids = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    before = rss_kb(pids)
    conns = []
    sem = asyncio.Semaphore(200)
    results = await asyncio.gather(*(one(port, host, conns, sem) for _ in range(n)), return_exceptions=True)
    failed = sum(1 for x in results if isinstance(x, BaseException))
    await asyncio.sleep(2)
    after = rss_kb(pids)
    ok = 0
    for r, w in conns[:: max(1, len(conns) // 100)][:100]:
        try:
            await request(r, w, host)
            ok += 1
        except Exception:
            pass
    for _, w in conns:
        w.close()
    per = (after - before) / max(1, len(conns))
    print(f"conns={len(conns)} failed={failed} ok_after={ok}/100 rss_before_kb={before} rss_after_kb={after} kb_per_conn={per:.1f}")


asyncio.run(main())
