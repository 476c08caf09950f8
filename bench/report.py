#!/usr/bin/env python3
"""Turns the runs that bench/run.sh recorded into the markdown results table.

usage: report.py RUNS_TSV CLK_TCK [--shadow DIR | --tls]

RUNS_TSV has one line per measured run, tab-separated:
round, target, wrk output file, proxy utime ticks, proxy stime ticks,
wall seconds, foreign CPU ticks, busy note, backend CPU ticks, and the prefix
of the per-thread snapshots (PREFIX.before, PREFIX.after: "tid utime stime
name" lines) or "-". Proxy ticks are "-" for the direct target, which has no
proxy. Every figure in the table is the median over rounds, so one disturbed
round cannot move it.

With --shadow DIR (SCENARIO=shadow), each shadowing target's strangler_shadow_*
counters read before and after the rounds (DIR/counters-NAME-before.prom and
-after.prom) give the outcomes of its measured requests; the table then shows,
for each shadowing target beside its plain counterpart (strangler-shadow and
strangler-shadow10 beside strangler, strangler-b-shadow* beside strangler-b),
the issue #20 figures: the share of requests shadowed, the share of those
compared, the proxy CPU a compared request adds as a multiple of a plain
request's, and p99 and req/s as multiples of the plain ones. The report also
shows where the CPU of each strangler goes, thread by thread.

With --tls (SCENARIO=tls, https-upstream) a second table puts each proxy's TLS
variants beside its cleartext run of the same rounds: NAME-tls (TLS kept alive),
NAME-handshake (a new, resumed TLS connection per request), NAME-full-handshake
(a new connection with a whole handshake) and NAME-upstream-tls (an https://
upstream), with the ratios issue #16's targets are stated in.
"""
import re
import statistics
import sys

ORDER = ["direct", "nginx", "haproxy", "bare-pingora", "strangler", "strangler-shadow", "strangler-shadow10",
         "strangler-b", "strangler-b-shadow", "strangler-b-shadow10"]
VARIANTS = ["", "-tls", "-handshake", "-full-handshake", "-upstream-tls", "-steal", "-nosteal", "-alttimer"]
RUNTIME_VARIANTS = ["-steal", "-nosteal", "-alttimer"]
# Issue #16's targets: a kept-alive TLS request costs at most this many times its cleartext
# one, and a proxy does at least this share of nginx's handshakes per second per core.
TLS_COST_TARGET = 1.3
HANDSHAKE_TARGET = 0.8
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# Issue #20's shadowing targets: the proxy CPU a compared request adds at most this multiple
# of a plain request's; the primary's p99 at most this multiple of the unshadowed one; at
# `sample: 10` at least this share of the unshadowed req/s; at least this share of the
# shadowed requests compared (not skipped).
SHADOW_CPU_TARGET = 0.6
SHADOW_P99_TARGET = 1.10
SAMPLE10_RPS_TARGET = 0.94
COMPARED_TARGET = 0.95
# Outcomes of strangler_shadow_total that are comparisons made.
COMPARED = {"match", "mismatch", "noise-only", "unsettled"}


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


def thread_snapshot(path):
    """{tid: (name, ticks)} from a "tid utime stime name" file."""
    threads = {}
    for line in open(path):
        tid, utime, stime, name = line.rstrip("\n").split(" ", 3)
        threads[tid] = (name, int(utime) + int(stime))
    return threads


def thread_group(name):
    """A thread's name without its number: strangler-worke, sqlx-sqlite-worker-..."""
    return re.sub(r"[-_ ]?\d+$", "", name) or name


def per_thread_us(prefix, clk_tck, requests):
    """µs of CPU per request by thread group over one run (threads alive at both ends)."""
    before, after = thread_snapshot(prefix + ".before"), thread_snapshot(prefix + ".after")
    groups = {}
    for tid, (name, ticks) in after.items():
        grown = ticks - before.get(tid, (name, 0))[1]
        key = "thread." + thread_group(name)
        groups[key] = groups.get(key, 0.0) + grown / clk_tck / requests * 1e6
    return groups


def load_runs(path, clk_tck):
    runs = {}
    for line in open(path):
        rnd, target, out, utime, stime, wall, foreign, note, backend, threads = line.rstrip("\n").split("\t")
        run = parse_wrk(out)
        if run is None:
            print(f"warning: round {rnd} {target}: no wrk figures in {out}", file=sys.stderr)
            continue
        if utime != "-" and run["requests"]:
            run["user_us"] = int(utime) / clk_tck / run["requests"] * 1e6
            run["sys_us"] = int(stime) / clk_tck / run["requests"] * 1e6
            run["backend_us"] = int(backend) / clk_tck / run["requests"] * 1e6
        if threads != "-" and run["requests"]:
            run.update(per_thread_us(threads, clk_tck, run["requests"]))
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
        keys = {"rps", "p50", "p99", "user_us", "sys_us", "backend_us"}
        keys |= {k for r in rs for k in r if k.startswith("thread.")}
        row = {k: median(rs, k) for k in keys}
        row["rounds"] = len(rs)
        row["requests"] = sum(r["requests"] for r in rs)
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


def split_variant(target):
    """("strangler", "-tls") for strangler-tls; the longest matching variant wins."""
    for variant in sorted(VARIANTS, key=len, reverse=True):
        base = target[: len(target) - len(variant)] if variant else target
        if target.endswith(variant) and base in ORDER:
            return base, variant
    return target, ""


def ordered(rows):
    """The targets in the order of ORDER, each followed by its TLS variants."""

    def key(target):
        base, variant = split_variant(target)
        return (ORDER.index(base) if base in ORDER else len(ORDER), VARIANTS.index(variant), target)

    return sorted(rows, key=key)


def table(rows):
    if any("shadowed" in r for r in rows.values()):
        return shadow_table(rows)
    nginx = rows.get("nginx", {}).get("rps")
    lines = [
        "| target | req/s (median) | p50 / p99 | proxy CPU per request | ÷ nginx | errors | other load (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in ordered(rows):
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
    lines = shadow_targets(rows)
    lines += shadow_ab(rows)
    lines += runtime_ratios(rows)
    for other in ("nginx", "bare-pingora", "strangler-b", "direct"):
        o = rows.get(other)
        if not o:
            continue
        line = f"- strangler / {other}: {s['rps'] / o['rps']:.2f} of the req/s"
        if cpu_total(o) and cpu_total(s):
            line += f", {cpu_total(s) / cpu_total(o):.2f}× the proxy CPU per request"
        if s["p99"] and o["p99"]:
            line += f", {s['p99'] / o['p99']:.2f}× the p99"
        lines.append(line)
    return lines


def runtime_ratios(rows):
    """Each worker-runtime variant (RUNTIME_VARIANTS) against the same proxy's default
    runtime, and strangler against bare Pingora on the same runtime."""
    lines = []
    for variant in RUNTIME_VARIANTS:
        for base in ("bare-pingora", "strangler"):
            v, d = rows.get(base + variant), rows.get(base)
            if not v or not d:
                continue
            line = f"- {base}{variant} / {base}: {v['rps'] / d['rps']:.2f} of the req/s"
            if cpu_total(v) and cpu_total(d):
                line += f", {cpu_total(v) / cpu_total(d):.2f}× the proxy CPU per request"
            lines.append(line + f", {v['p99'] / d['p99']:.2f}× the p99")
        s, b = rows.get("strangler" + variant), rows.get("bare-pingora" + variant)
        if s and b and cpu_total(s) and cpu_total(b):
            lines.append(
                f"- strangler{variant} / bare-pingora{variant}: {s['rps'] / b['rps']:.2f} of the "
                f"req/s, {cpu_total(s) / cpu_total(b):.2f}× the proxy CPU per request"
            )
    return lines


def plain_of(target):
    """The unshadowed counterpart of a shadowing target: strangler-b-shadow10 -> strangler-b."""
    return target.rsplit("-shadow", 1)[0]


def shadow_figures(rows, target):
    """Issue #20's figures of a shadowing target against its plain counterpart, or None."""
    w, s = rows[target], rows.get(plain_of(target))
    if "shadowed" not in w or not s or not w["requests"]:
        return None
    shadowed, compared, skipped = w["shadowed"], w["compared"], w["skipped"]
    figures = {
        "shadowed_share": shadowed / w["requests"],
        "compared_share": compared / (compared + skipped) if compared + skipped else None,
        "p99": w["p99"] / s["p99"] if w["p99"] and s["p99"] else None,
        "rps": w["rps"] / s["rps"],
        "cpu": None,
    }
    if cpu_total(w) and cpu_total(s) and compared:
        # The CPU per request that shadowing adds, spread over the requests compared.
        added = (cpu_total(w) - cpu_total(s)) * w["requests"] / compared
        figures["cpu"] = added / cpu_total(s)
    return figures


def shadow_table(rows):
    """The one table of SCENARIO=shadow: every target, with issue #20's figures for each
    shadowing one beside its plain counterpart."""
    lines = [
        "| target | req/s (median) | p50 / p99 | proxy CPU per request | shadowed | compared of shadowed "
        "| CPU added per compared ÷ plain CPU | p99 ÷ plain | req/s ÷ plain | errors | other load (max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target in ordered(rows):
        r, f = rows[target], shadow_figures(rows, target)
        latency = f"{fmt(r['p50'], '.2f')} / {fmt(r['p99'], '.2f')} ms"
        cells = ["–"] * 5
        if f:
            cells = [
                fmt(100 * f["shadowed_share"], ".1f", " %"),
                fmt(None if f["compared_share"] is None else 100 * f["compared_share"], ".1f", " %"),
                fmt(f["cpu"], ".2f", "×"),
                fmt(f["p99"], ".2f", "×"),
                fmt(f["rps"], ".3f"),
            ]
        lines.append(
            f"| {target} | {r['rps'] / 1000:.1f}k | {latency} | {cpu_cell(r)} | " + " | ".join(cells)
            + f" | {r['errors']} | {r['foreign_max']:.0f}% |"
        )
    return lines


def shadow_targets(rows):
    """Where issue #20's targets stand, for strangler-shadow and strangler-shadow10."""
    lines = []
    full, tenth = shadow_figures_of(rows, "strangler-shadow"), shadow_figures_of(rows, "strangler-shadow10")
    if full:
        lines.append(verdict("strangler-shadow: CPU a compared request adds ÷ a plain request's", full["cpu"], "≤", SHADOW_CPU_TARGET, "×"))
        lines.append(verdict("strangler-shadow: p99 ÷ strangler's", full["p99"], "≤", SHADOW_P99_TARGET, "×"))
        lines.append(verdict("strangler-shadow: compared of the shadowed", full["compared_share"], "≥", COMPARED_TARGET, ""))
    if tenth:
        lines.append(verdict("strangler-shadow10 (`sample: 10`): req/s ÷ strangler's", tenth["rps"], "≥", SAMPLE10_RPS_TARGET, ""))
        lines.append(verdict("strangler-shadow10: p99 ÷ strangler's", tenth["p99"], "≤", SHADOW_P99_TARGET, "×"))
    return lines


def shadow_ab(rows):
    """The A/B of each shadowing target against COMPARE_BIN's same configuration."""
    lines = []
    for name in ("shadow", "shadow10"):
        a, b = rows.get(f"strangler-{name}"), rows.get(f"strangler-b-{name}")
        if not a or not b:
            continue
        line = f"- strangler-{name} / strangler-b-{name}: {a['rps'] / b['rps']:.2f} of the req/s"
        if cpu_total(a) and cpu_total(b):
            line += f", {cpu_total(a) / cpu_total(b):.2f}× the proxy CPU per request"
        if a.get("p99") and b.get("p99"):
            line += f", {a['p99'] / b['p99']:.2f}× the p99"
        lines.append(line)
    return lines


def shadow_figures_of(rows, target):
    return shadow_figures(rows, target) if target in rows else None


def verdict(label, value, sense, target, suffix):
    if value is None:
        return f"- {label}: not measured"
    met = value <= target if sense == "≤" else value >= target
    return f"- {label}: **{value:.2f}{suffix}** (target {sense} {target}{suffix}: {'met' if met else 'not met'})"


def cpu_split(rows):
    """Where each strangler's CPU per request goes, by thread, and the backend's CPU."""
    targets = [t for t in ordered(rows) if t.startswith("strangler")]
    groups = sorted({k for t in targets for k in rows[t] if k.startswith("thread.")})
    groups = [g for g in groups if any((rows[t].get(g) or 0) >= 0.05 for t in targets)]
    if not groups:
        return []
    lines = [
        "",
        "CPU per request by thread (µs, medians over rounds; Linux cuts thread names to 15 "
        "characters; threads under 0.05 µs left out, and one that ended during a run is only "
        "in the total), and the backend's CPU per proxied request:",
        "",
        "| thread | " + " | ".join(targets) + " |",
        "|---" * (len(targets) + 1) + "|",
    ]
    for group in groups:
        cells = [fmt(rows[t].get(group), ".1f") for t in targets]
        lines.append(f"| {group[len('thread.'):]} | " + " | ".join(cells) + " |")
    lines.append("| **proxy total** | " + " | ".join(fmt(cpu_total(rows[t]), ".1f") for t in targets) + " |")
    lines.append("| backend (nginx) | " + " | ".join(fmt(rows[t].get("backend_us"), ".1f") for t in targets) + " |")
    return lines


def parse_prom(path):
    """{(metric, labels): value} of the strangler_shadow_* lines of a /metrics dump."""
    values = {}
    for line in open(path):
        found = re.match(r"^(strangler_shadow_\w+)(\{[^}]*\})?\s+([\d.e+]+)$", line.strip())
        if found:
            values[(found.group(1), found.group(2) or "")] = float(found.group(3))
    return values


def counters_grown(directory, target):
    """{(metric, labels): growth} of a target's counters over the rounds, or None."""
    try:
        before = parse_prom(f"{directory}/counters-{target}-before.prom")
        after = parse_prom(f"{directory}/counters-{target}-after.prom")
    except FileNotFoundError:
        return None
    grown = {key: after[key] - before.get(key, 0.0) for key in after}
    return {key: n for key, n in grown.items() if n}


def add_shadow_counts(rows, directory):
    """Adds to each shadowing target's row its shadowed, compared and skipped requests."""
    for target, row in rows.items():
        grown = counters_grown(directory, target)
        if grown is None:
            continue
        row["counters"] = grown
        outcomes = {}
        for (metric, labels), n in grown.items():
            found = re.search(r'outcome="([^"]+)"', labels)
            if metric == "strangler_shadow_total" and found:
                outcomes[found.group(1)] = outcomes.get(found.group(1), 0.0) + n
        row["shadowed"] = sum(outcomes.values())
        row["compared"] = sum(n for o, n in outcomes.items() if o in COMPARED)
        row["skipped"] = outcomes.get("skipped", 0.0)


def shadow_outcomes(rows):
    """The counters that moved over each shadowing target's measured runs."""
    lines = []
    for target in ordered(rows):
        grown, requests = rows[target].get("counters"), rows[target]["requests"]
        if grown is None:
            continue
        lines += ["", f"{target}'s shadow counters over the measured runs (wrk completed {requests:,} requests):", ""]
        if not grown:
            lines.append("- no strangler_shadow_* counter moved")
        for (metric, labels), n in sorted(grown.items()):
            share = f" ({100 * n / requests:.1f}% of the requests)" if requests else ""
            lines.append(f"- `{metric}{labels}` +{n:,.0f}{share}")
    return lines


def tls_table(rows):
    """Each proxy's TLS variants beside its cleartext run, and where the targets stand."""
    bases = [t for t in ordered(rows) if split_variant(t)[1] == "" and t != "direct"]
    lines = ["", "TLS beside cleartext, per proxy (medians over the same rounds):", ""]
    if any(f"{b}-tls" in rows for b in bases):
        lines += kept_alive_rows(rows, bases, "-tls", "downstream")
        lines += handshake_rows(rows, bases, "-handshake", "resumed handshakes (wrk's reconnects)")
        lines += handshake_rows(rows, bases, "-full-handshake", "full handshakes (no session offered)")
    if any(f"{b}-upstream-tls" in rows for b in bases):
        lines += kept_alive_rows(rows, bases, "-upstream-tls", "upstream")
    return lines


def kept_alive_rows(rows, bases, variant, side):
    lines = [
        f"| target | req/s cleartext / TLS {side} | proxy CPU per request, cleartext | "
        f"with TLS {side} | TLS ÷ cleartext CPU | TLS ÷ cleartext req/s |",
        "|---|---|---|---|---|---|",
    ]
    for base in [b for b in bases if b + variant in rows]:
        plain, tls = rows[base], rows[base + variant]
        cost = cpu_total(tls) / cpu_total(plain) if cpu_total(tls) and cpu_total(plain) else None
        lines.append(
            f"| {base} | {plain['rps'] / 1000:.1f}k / {tls['rps'] / 1000:.1f}k | {cpu_cell(plain)} "
            f"| {cpu_cell(tls)} | {fmt(cost, '.2f', '×')} | {tls['rps'] / plain['rps']:.2f} |"
        )
    s, p = rows.get("strangler"), rows.get("strangler" + variant)
    if s and p and cpu_total(s) and cpu_total(p):
        cost = cpu_total(p) / cpu_total(s)
        verdict = "met" if cost <= TLS_COST_TARGET else "not met"
        lines += ["", f"- strangler, TLS {side} ÷ cleartext CPU per request: **{cost:.2f}×** "
                  f"(target ≤ {TLS_COST_TARGET}×: {verdict})"]
    return lines + [""]


def handshake_rows(rows, bases, variant, label):
    """Handshakes per second and per core-second (1 ÷ the proxy's CPU per handshake)."""
    if not any(b + variant in rows for b in bases):
        return []
    lines = [
        f"| target: {label} | handshakes/s | p50 / p99 | proxy CPU per handshake | handshakes per core-second | ÷ nginx per core |",
        "|---|---|---|---|---|---|",
    ]
    per_core = {}
    for base in [b for b in bases if b + variant in rows]:
        r = rows[base + variant]
        per_core[base] = 1e6 / cpu_total(r) if cpu_total(r) else None
    nginx = per_core.get("nginx")
    for base, core in per_core.items():
        r = rows[base + variant]
        ratio = fmt(core / nginx, ".2f") if core and nginx else "–"
        lines.append(
            f"| {base} | {r['rps']:.0f} | {fmt(r['p50'], '.2f')} / {fmt(r['p99'], '.2f')} ms "
            f"| {cpu_cell(r)} | {fmt(core, '.0f')} | {ratio} |"
        )
    s = per_core.get("strangler")
    if s and nginx:
        verdict = "met" if s / nginx >= HANDSHAKE_TARGET else "not met"
        lines += ["", f"- strangler ÷ nginx, handshakes per core-second: **{s / nginx:.2f}** "
                  f"(target ≥ {HANDSHAKE_TARGET}: {verdict}); in handshakes per second "
                  f"{rows['strangler' + variant]['rps'] / rows['nginx' + variant]['rps']:.2f}"]
    return lines + [""]


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
    if sys.argv[3:4] == ["--shadow"]:
        add_shadow_counts(rows, sys.argv[4])
    out = table(rows) + [""] + ratios(rows) + cpu_split(rows)
    if sys.argv[3:4] == ["--shadow"]:
        out += shadow_outcomes(rows)
    if sys.argv[3:4] == ["--tls"]:
        out += tls_table(rows)
    out += warnings(rows)
    print("\n".join(out))


if __name__ == "__main__":
    main()
