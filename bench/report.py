#!/usr/bin/env python3
"""Turns the runs that bench/run.sh recorded into the markdown results table.

usage: report.py RUNS_TSV CLK_TCK

RUNS_TSV has one line per measured run, tab-separated:
round, target, wrk output file, proxy utime ticks, proxy stime ticks,
wall seconds, foreign CPU ticks, busy note. Proxy ticks are "-" for the
direct target, which has no proxy. Every figure in the table is the median
over rounds, so one disturbed round cannot move it.
"""
import re
import statistics
import sys

ORDER = ["direct", "nginx", "haproxy", "bare-pingora", "strangler"]
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(path):
    """Requests/sec, completed requests, p50 and p99 in ms, and error counts from wrk --latency."""
    text = open(path).read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    done = re.search(r"(\d+) requests in", text)
    if not rps or not done:
        return None
    lat = {p: float(v) * UNIT_MS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", text, re.M)}
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(rps.group(1)),
        "requests": int(done.group(1)),
        "p50": lat.get("50"),
        "p99": lat.get("99"),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def load_runs(path, clk_tck):
    runs = {}
    for line in open(path):
        rnd, target, out, utime, stime, wall, foreign, note = line.rstrip("\n").split("\t")
        run = parse_wrk(out)
        if run is None:
            print(f"warning: round {rnd} {target}: no wrk figures in {out}", file=sys.stderr)
            continue
        if utime != "-" and run["requests"]:
            run["user_us"] = int(utime) / clk_tck / run["requests"] * 1e6
            run["sys_us"] = int(stime) / clk_tck / run["requests"] * 1e6
        run["foreign_pct"] = 100.0 * int(foreign) / clk_tck / float(wall)
        run["busy"] = note != "-"
        runs.setdefault(target, []).append(run)
    return runs


def median(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    rows = {}
    for target, rs in runs.items():
        row = {k: median(rs, k) for k in ("rps", "p50", "p99", "user_us", "sys_us")}
        row["rounds"] = len(rs)
        row["errors"] = sum(r["errors"] for r in rs)
        row["foreign_max"] = max(r["foreign_pct"] for r in rs)
        row["busy"] = sum(r["busy"] for r in rs)
        rows[target] = row
    return rows


def fmt(value, spec, suffix=""):
    return "–" if value is None else format(value, spec) + suffix


def cpu_cell(row):
    if row["user_us"] is None:
        return "–"
    total = row["user_us"] + row["sys_us"]
    return f"{total:.1f} µs ({row['user_us']:.1f} user + {row['sys_us']:.1f} kernel)"


def table(rows):
    nginx = rows.get("nginx", {}).get("rps")
    lines = [
        "| target | req/s (median) | p50 / p99 | proxy CPU per request | ÷ nginx | errors | other load (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in [t for t in ORDER if t in rows]:
        r = rows[target]
        ratio = fmt(r["rps"] / nginx, ".2f") if nginx else "–"
        latency = f"{fmt(r['p50'], '.2f')} / {fmt(r['p99'], '.2f')} ms"
        lines.append(
            f"| {target} | {r['rps'] / 1000:.1f}k | {latency} | {cpu_cell(r)} | {ratio} "
            f"| {r['errors']} | {r['foreign_max']:.0f}% |"
        )
    return lines


def cpu_total(row):
    return None if row.get("user_us") is None else row["user_us"] + row["sys_us"]


def ratios(rows):
    s = rows.get("strangler")
    if not s:
        return ["strangler was not measured, so there are no strangler ratios."]
    lines = []
    for other in ("nginx", "bare-pingora", "direct"):
        o = rows.get(other)
        if not o:
            continue
        line = f"- strangler / {other}: {s['rps'] / o['rps']:.2f} of the req/s"
        if cpu_total(o) and cpu_total(s):
            line += f", {cpu_total(s) / cpu_total(o):.2f}× the proxy CPU per request"
        lines.append(line)
    return lines


def warnings(rows):
    lines = []
    for target, r in rows.items():
        if r["busy"]:
            lines.append(f"- {target}: a build (cargo/rustc) was running during {r['busy']} of {r['rounds']} runs.")
        if r["foreign_max"] > 10:
            lines.append(f"- {target}: other processes used up to {r['foreign_max']:.0f}% of a core during a run.")
        if r["errors"]:
            lines.append(f"- {target}: wrk saw {r['errors']} socket errors or non-2xx responses.")
    return (["", "**Warnings** (the figures above are not trustworthy):"] + lines) if lines else []


def main():
    rows = summarize(load_runs(sys.argv[1], int(sys.argv[2])))
    out = table(rows) + [""] + ratios(rows) + warnings(rows)
    print("\n".join(out))


if __name__ == "__main__":
    main()
