"""Format scripts/bench.sh measurements as a markdown report (stdlib only).

    python3 bench/report.py RESULTS_TSV > report.md

RESULTS_TSV lines: server<TAB>request<TAB>conns<TAB>p50_ms<TAB>p99_ms<TAB>rps<TAB>errors.
Prints the table (server | request | conns | p50 | p99 | rps), the ratios of
our server to the limit probe and to `feast serve` from the same run, and the
issue's targets with the measured figure and met / MISSED. With a baseline
build in the run (BENCH_BASELINE, server "ours at <rev>"), also ours ÷ it.
"""

import sys

OURS, PROBE, PROBE_RUEIDIS, FEAST = "ours", "limit probe (go-redis)", "limit probe (rueidis)", "feast serve"
REQUESTS = {"1x3": "1 entity × 3 features", "1x50": "1 entity × 50 features (5 views)", "100x50": "100 entities × 50 features"}


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 7:
                continue
            server, req, conns, p50, p99, rps, errs = parts
            rows.append(dict(server=server, req=req, conns=int(conns), p50=float(p50), p99=float(p99), rps=float(rps), errors=errs))
    return rows


def ms(v):
    if v != v:  # NaN: run failed
        return "–"
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def num(v):
    return "–" if v != v else f"{v:,.0f}"


def main():
    rows = load(sys.argv[1])
    by = {(r["server"], r["req"], r["conns"]): r for r in rows}
    out = ["| server | request | conns | p50 | p99 | rps |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r['errors']})" if r["errors"] not in ("", "0") else ""
        out.append(f"| {r['server']} | {REQUESTS.get(r['req'], r['req'])} | {r['conns']} | {ms(r['p50'])} | {ms(r['p99'])} | {num(r['rps'])}{note} |")

    out += ["", "Ratios of requests/s, same run (ours ÷ other):", "",
            "| request | conns | ours rps | ÷ probe (go-redis) | ÷ probe (rueidis) | ÷ feast serve |", "|---|---|---|---|---|---|"]

    def ratio(a, b):
        if a is None or b is None or not b["rps"] or a["rps"] != a["rps"] or b["rps"] != b["rps"]:
            return "–"
        return f"{a['rps'] / b['rps']:.2f}×"

    baselines = sorted({r["server"] for r in rows if r["server"].startswith("ours at ")})
    keys = sorted({(r["req"], r["conns"]) for r in rows if r["server"] == OURS}, key=lambda k: (list(REQUESTS).index(k[0]) if k[0] in REQUESTS else 9, k[1]))
    for req, c in keys:
        o = by.get((OURS, req, c))
        out.append(f"| {REQUESTS.get(req, req)} | {c} | {num(o['rps'])} | {ratio(o, by.get((PROBE, req, c)))} | "
                   f"{ratio(o, by.get((PROBE_RUEIDIS, req, c)))} | {ratio(o, by.get((FEAST, req, c)))} |")

    def get(server, req, c, field):
        r = by.get((server, req, c))
        return None if r is None else r[field]

    cached = "ours + online cache"
    if any(r["server"] == cached for r in rows):
        out += ["", f"The hot-entity cache, same run ({cached} ÷ ours):", "",
                f"| request | conns | ours rps | cached rps | ratio | ours p99 | cached p99 |", "|---|---|---|---|---|---|---|"]
        for req, c in keys:
            o, b = by.get((OURS, req, c)), by.get((cached, req, c))
            if b is None:
                continue
            out.append(f"| {REQUESTS.get(req, req)} | {c} | {num(o['rps'])} | {num(b['rps'])} | {ratio(b, o)} | {ms(o['p99'])} | {ms(b['p99'])} |")

    for base in baselines:
        out += ["", f"Before and after, same run (ours ÷ {base}):", "",
                f"| request | conns | ours rps | {base} rps | ratio | ours p99 | {base} p99 |", "|---|---|---|---|---|---|---|"]
        for req, c in keys:
            o, b = by.get((OURS, req, c)), by.get((base, req, c))
            if b is None:
                continue
            out.append(f"| {REQUESTS.get(req, req)} | {c} | {num(o['rps'])} | {num(b['rps'])} | {ratio(o, b)} | {ms(o['p99'])} | {ms(b['p99'])} |")

    targets = []

    def target(name, value, ok, shown):
        targets.append(f"| {name} | {shown if value is not None else '–'} | {'met' if value is not None and ok else 'MISSED'} |")

    o, p, f = get(OURS, "1x3", 16, "rps"), get(PROBE, "1x3", 16, "rps"), get(FEAST, "1x3", 16, "rps")
    v = o / p if o and p else None
    target("1×3 at 16 conns ≥ 0.9× probe (go-redis) rps", v, v is not None and v >= 0.9, f"{v:.2f}×" if v else "")
    v = o / f if o and f else None
    target("1×3 at 16 conns ≥ 20× feast serve rps", v, v is not None and v >= 20, f"{v:.1f}×" if v else "")
    v = get(OURS, "1x3", 1, "p99")
    target("1×3 p99 ≤ 1 ms at 1 conn", v, v is not None and v <= 1.0, ms(v) if v is not None else "")
    v = max([x for x in (get(OURS, "1x50", c, "rps") for c in (1, 4, 16)) if x is not None], default=None)
    target("1×50 ≥ 9,000 rps (best of 1/4/16 conns)", v, v is not None and v >= 9000, num(v) if v is not None else "")
    v = get(OURS, "100x50", 4, "p99")
    target("100×50 p99 ≤ 5 ms at 4 conns", v, v is not None and v <= 5.0, ms(v) if v is not None else "")
    out += ["", "Targets (issue 2, \"Speed\"):", "", "| target | measured | |", "|---|---|---|"] + targets
    print("\n".join(out))


if __name__ == "__main__":
    main()
