#!/usr/bin/env python3
"""Summarise a bench/proxy.sh results directory (stdlib only; re-runnable).

usage: summarize.py RESULTS_DIR      (reads RESULTS_DIR/raw/r*_c*_*.txt)

Prints a markdown table (medians over rounds), per-round ratio ranges, a noise summary, the
Berth-vs-nginx (and vs HAProxy) ratios of requests/s and p99 per profile, writes
RESULTS_DIR/summary.json, and ends with the two lines
  "berth/nginx rps ratio: c64=X c256=Y"
  "berth/nginx p99 ratio: c64=X c256=Y"      (ratios of the medians over rounds)
Exit status 3 if any measured run had HTTP-status/timeout/connect errors or wrk failed.
"""
import glob
import json
import os
import re
import statistics
import sys

ORDER = ["direct", "nginx", "haproxy", "berth"]
OTHER_WARN_PCT = 15.0   # CPU (% of one core) used by processes outside the benchmark during a run
STEAL_WARN_PCT = 10.0   # hypervisor steal (% of one core) during a run


def kv(line):
    return dict(re.findall(r"(\w+)=(\S*)", line))


def parse(path):
    run = {}
    for line in open(path, errors="replace"):
        if line.startswith("META "):
            m = kv(line)
            run.update(round=int(m["round"]), conns=m["conns"], target=m["target"])
        elif line.startswith("APPRESTART "):
            run["app_restart"] = line.strip()
        elif line.startswith("BENCH "):
            run.update({k: float(v) for k, v in kv(line).items()})
        elif line.startswith("CPU "):
            m = kv(line)
            run.update({k: int(v) for k, v in m.items() if k != "proxy_acct"})
            run["proxy_acct"] = m.get("proxy_acct") == "1"
    return run


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    d = sys.argv[1]
    runs = [parse(p) for p in sorted(glob.glob(os.path.join(d, "raw", "r*_c*_*.txt")))]
    runs = [r for r in runs if "target" in r]
    if not runs:
        print("no runs found in", d)
        return 1
    bad = []
    for r in runs:
        if "rps" not in r or r.get("wrk_rc", 0) != 0:
            bad.append(f"round {r['round']} c={r['conns']} {r['target']}: wrk failed (rc={r.get('wrk_rc')})")
            r.setdefault("rps", 0.0)
            for k in ("p50_us", "p99_us", "requests", "duration_us"):
                r.setdefault(k, float("nan"))
        hard = sum(int(r.get(k, 0)) for k in ("err_status", "err_timeout", "err_connect"))
        soft = sum(int(r.get(k, 0)) for k in ("err_read", "err_write"))
        r["hard_errors"], r["soft_errors"] = hard, soft
        if hard:
            bad.append(f"round {r['round']} c={r['conns']} {r['target']}: {hard} HTTP-status/timeout/connect errors "
                       f"(status {int(r.get('err_status', 0))}, timeout {int(r.get('err_timeout', 0))}, "
                       f"connect {int(r.get('err_connect', 0))})")
        if "app_restart" in r:
            bad.append(f"round {r['round']} c={r['conns']} {r['target']}: Berth's app restarted ({r['app_restart']})")

    # "64", "256", "64:1m", "64:close": plain profiles first, each by its connection count
    profiles = sorted({r["conns"] for r in runs}, key=lambda c: (":" in c, int(c.split(":")[0]), c))
    targets = [t for t in ORDER if any(r["target"] == t for r in runs)]
    rounds = sorted({r["round"] for r in runs})
    by = {}
    for r in runs:
        by.setdefault((r["conns"], r["target"]), {})[r["round"]] = r

    rows, summary = [], {"dir": d, "rounds": rounds, "profiles": {}}
    contaminated = []
    for c in profiles:
        prof = summary["profiles"].setdefault(str(c), {})
        for t in targets:
            rs = list(by.get((c, t), {}).values())
            rps = [x["rps"] for x in rs]
            s = {
                "rps_median": med(rps), "rps_min": min(rps), "rps_max": max(rps),
                "rps_rounds": rps,
                "spread_pct": 100.0 * (max(rps) - min(rps)) / med(rps) if med(rps) else float("nan"),
                "p50_us_median": med([x["p50_us"] for x in rs]),
                "p99_us_median": med([x["p99_us"] for x in rs]),
                "p99_us_rounds": [x["p99_us"] for x in rs],
                "bytes_per_resp": med([x["bytes"] / x["requests"] for x in rs if x.get("requests")]),
                "hard_errors": sum(x["hard_errors"] for x in rs),
                "soft_errors": sum(x["soft_errors"] for x in rs),
            }
            cpu = [x for x in rs if "clk_tck" in x and x.get("requests", 0) > 0]
            if cpu and all(x["proxy_acct"] for x in cpu):
                s["proxy_cpu_us_per_req"] = med([1e6 * x["proxy_ticks"] / x["clk_tck"] / x["requests"] for x in cpu])
            if cpu:
                s["backend_cpu_us_per_req"] = med([1e6 * x["backend_ticks"] / x["clk_tck"] / x["requests"] for x in cpu])
                if all(x["proxy_acct"] for x in cpu):
                    s["server_cpu_pct"] = med([100.0 * (x["proxy_ticks"] + x["backend_ticks"]) / x["clk_tck"]
                                               / (x["duration_us"] / 1e6) for x in cpu])
            sysr = [x for x in cpu if x.get("sys_total_ticks", 0) > 0]
            if sysr:
                # % of ONE cpu over the run's wall time (sys_total covers all cpus)
                def pct(x, ticks):
                    return 100.0 * ticks / (x["sys_total_ticks"] / x["ncpu"])
                s["wrk_cpu_pct"] = med([pct(x, x["wrk_ticks"]) for x in sysr])
                others = []
                for x in sysr if all(y["proxy_acct"] for y in sysr) else []:
                    # CPU used by everything that is not wrk / backend / proxy (other tenants, kernel
                    # threads): system-wide busy minus ours. Per-process times on this kernel include
                    # irq/softirq time, so compare them with user+nice+system+irq+softirq.
                    o = pct(x, x["sys_usrsys_ticks"] + x["sys_irq_ticks"] - x["wrk_ticks"]
                            - x["backend_ticks"] - x["proxy_ticks"])
                    x["other_cpu_pct"] = o
                    others.append(o)
                    if o > OTHER_WARN_PCT:
                        contaminated.append(f"round {x['round']} c={x['conns']} {t}: other processes used "
                                            f"{o:.0f}% of a CPU during the run")
                if others:   # not computable without CPU accounting of every target
                    s["other_cpu_pct"] = med(others)
                    s["other_cpu_pct_max"] = max(others)
                s["irq_cpu_pct"] = med([pct(x, x["sys_irq_ticks"]) for x in sysr])
                s["steal_pct"] = med([pct(x, x["steal_ticks"]) for x in sysr])
                for x in sysr:
                    if pct(x, x["steal_ticks"]) > STEAL_WARN_PCT:
                        contaminated.append(f"round {x['round']} c={x['conns']} {t}: hypervisor steal "
                                            f"{pct(x, x['steal_ticks']):.0f}% of a CPU during the run")
            prof[t] = s
        for t in targets:
            s = prof[t]
            for ref in ("direct", "nginx", "haproxy"):
                if ref in prof and prof[ref]["rps_median"]:
                    s[f"vs_{ref}"] = s["rps_median"] / prof[ref]["rps_median"]
                    # same-round ratios: interleaving makes these steadier than absolute numbers
                    per = [by[(c, t)][k]["rps"] / by[(c, ref)][k]["rps"]
                           for k in rounds if k in by.get((c, t), {}) and k in by.get((c, ref), {})
                           and by[(c, ref)][k]["rps"]]
                    s[f"vs_{ref}_rounds"] = per
                    s[f"p99_vs_{ref}"] = s["p99_us_median"] / prof[ref]["p99_us_median"]
                    s[f"p99_vs_{ref}_rounds"] = [by[(c, t)][k]["p99_us"] / by[(c, ref)][k]["p99_us"]
                                                 for k in rounds if k in by.get((c, t), {})
                                                 and k in by.get((c, ref), {}) and by[(c, ref)][k]["p99_us"]]

    def f(x, fmt):
        return "n/a" if x is None or x != x else format(x, fmt)

    def f0(x):   # percentages from tick accounting can come out slightly negative: show 0
        return f(None if x is None else max(0.0, x), ".0f")

    nr = len(rounds)
    print(f"\n### Medians over {nr} round(s), nothing pinned\n")
    print("| conns | target | rps (median) | rps min..max | spread | p50 us | p99 us | proxy CPU us/req "
          "| backend CPU us/req | server CPU % | wrk CPU % | other CPU % | steal % | bytes/resp | rps / nginx "
          "| p99 / nginx | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in profiles:
        for t in targets:
            s = summary["profiles"][str(c)][t]
            err = f"{s['hard_errors']}" + (f" (+{s['soft_errors']} rd/wr)" if s["soft_errors"] else "")
            print(f"| {c} | {t} | {s['rps_median']:.0f} | {s['rps_min']:.0f}..{s['rps_max']:.0f} "
                  f"| {s['spread_pct']:.1f}% | {s['p50_us_median']:.0f} | {s['p99_us_median']:.0f} "
                  f"| {f(s.get('proxy_cpu_us_per_req'), '.1f')} | {f(s.get('backend_cpu_us_per_req'), '.1f')} "
                  f"| {f(s.get('server_cpu_pct'), '.0f')} | {f(s.get('wrk_cpu_pct'), '.0f')} "
                  f"| {f0(s.get('other_cpu_pct'))} | {f0(s.get('steal_pct'))} "
                  f"| {f(s.get('bytes_per_resp'), '.0f')} | {f(s.get('vs_nginx'), '.3f')} "
                  f"| {f(s.get('p99_vs_nginx'), '.2f')} | {err} |")

    print("\nSame-round rps ratios (min..max over rounds):")
    for c in profiles:
        parts = []
        for t in targets:
            s = summary["profiles"][str(c)][t]
            for ref in ("direct", "nginx"):
                per = s.get(f"vs_{ref}_rounds")
                if t != ref and t != "direct" and per and not (ref == "direct" and t == "berth"):
                    parts.append(f"{t}/{ref} {min(per):.3f}..{max(per):.3f}")
        print(f"  c={c}: " + ", ".join(parts))

    spreads = [(s["spread_pct"], c, t) for c in profiles for t, s in summary["profiles"][str(c)].items()]
    mean_spread = statistics.mean(x[0] for x in spreads)
    worst = max(spreads)
    summary["noise"] = {"mean_spread_pct": mean_spread, "worst_spread_pct": worst[0],
                        "worst": f"c={worst[1]} {worst[2]}"}
    print(f"\nNoise: rps spread (max-min)/median over rounds: mean {mean_spread:.1f}%, "
          f"worst {worst[0]:.1f}% (c={worst[1]} {worst[2]})")
    summary["contaminated"] = contaminated
    if contaminated:
        print(f"Runs disturbed by other processes (> {OTHER_WARN_PCT:.0f}% of a CPU) or hypervisor steal "
              f"(> {STEAL_WARN_PCT:.0f}%):")
        for x in contaminated:
            print("  " + x)
        if len(contaminated) * 4 > len(runs):
            print(f"NOISY RUN: {len(contaminated)} of {len(runs)} runs were disturbed; do not trust these ratios, "
                  "re-run on a quieter box (or with more ROUNDS)")

    if bad:
        print("\nERRORS (numbers for these targets are not trustworthy):")
        for b in bad:
            print("  " + b)
    summary["errors"] = bad

    final = []
    if "berth" in targets:
        def rng(xs):
            return f"{min(xs):.2f}..{max(xs):.2f}" if xs else "n/a"
        print("\n### Berth vs nginx and HAProxy (ratios of medians; same-round min..max in brackets)\n")
        print("| conns | berth rps | nginx rps | haproxy rps | berth/nginx rps | berth/nginx p99 "
              "| berth/haproxy rps | berth/haproxy p99 | berth p99 us | nginx p99 us |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        rps_r, p99_r = {}, {}
        for c in profiles:
            P = summary["profiles"][str(c)]
            b, n, h = P["berth"], P.get("nginx", {}), P.get("haproxy", {})
            rps_r[c], p99_r[c] = b.get("vs_nginx"), b.get("p99_vs_nginx")
            print(f"| {c} | {b['rps_median']:.0f} | {f(n.get('rps_median'), '.0f')} | {f(h.get('rps_median'), '.0f')} "
                  f"| **{f(b.get('vs_nginx'), '.3f')}** [{rng(b.get('vs_nginx_rounds'))}] "
                  f"| **{f(b.get('p99_vs_nginx'), '.2f')}** [{rng(b.get('p99_vs_nginx_rounds'))}] "
                  f"| {f(b.get('vs_haproxy'), '.3f')} [{rng(b.get('vs_haproxy_rounds'))}] "
                  f"| {f(b.get('p99_vs_haproxy'), '.2f')} [{rng(b.get('p99_vs_haproxy_rounds'))}] "
                  f"| {b['p99_us_median']:.0f} | {f(n.get('p99_us_median'), '.0f')} |")
        summary["berth_nginx_rps_ratio"] = {str(c): v for c, v in rps_r.items()}
        summary["berth_nginx_p99_ratio"] = {str(c): v for c, v in p99_r.items()}
        print("\nrps ratio > 1: Berth serves more requests/s than nginx; p99 ratio < 1: Berth's p99 latency is lower.")
        final.append("berth/nginx rps ratio: " + " ".join(f"c{c}={f(v, '.3f')}" for c, v in rps_r.items()))
        final.append("berth/nginx p99 ratio: " + " ".join(f"c{c}={f(v, '.2f')}" for c, v in p99_r.items()))
    else:
        final.append("no berth runs found")
    with open(os.path.join(d, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
    print("\n".join(final))
    return 3 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
