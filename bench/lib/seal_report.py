#!/usr/bin/env python3
"""bench/lib/seal_report.py RUNS.tsv TABLE.md WORKLOAD LOAD0 LOAD1: the
medians of bench/seal's runs (verified ones only) as a markdown table."""
import csv, statistics, sys
runs, out, wl, l0, l1 = sys.argv[1:]
rows = list(csv.DictReader(open(runs), delimiter="\t"))
keys = []
for r in rows:
    k = (r["storage"], int(r["mib"]), r["mode"])
    if k not in keys:
        keys.append(k)
def med(rs, f, scale=1.0, fmt="%.2f"):
    v = [float(r[f]) * scale for r in rs if r[f] not in ("", "n/a")]
    return fmt % statistics.median(v) if v else "n/a"
lines = [f"Workload `bwl {wl}`; load average {l0} before, {l1} after (2 cores, shared).", "",
         "| storage | MiB | mode | bundle MiB | ratio | checkpoint s | frozen s | ck CPU s | restore -d s | rs CPU s | verified s | OK |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for k in keys:
    rs = [r for r in rows if (r["storage"], int(r["mib"]), r["mode"]) == k and r["result"] == "OK"]
    n = len([r for r in rows if (r["storage"], int(r["mib"]), r["mode"]) == k])
    ratio = "n/a"
    if rs:
        b = statistics.median(float(r["bytes"]) for r in rs)
        ratio = "%.2f" % (b / (k[1] << 20))
    lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
        k[0], k[1], k[2], med(rs, "bytes", 1 / 1048576, "%.0f"), ratio, med(rs, "ck_wall"),
        med(rs, "frozen"), med(rs, "ck_cpu"), med(rs, "rs_wall"), med(rs, "rs_cpu"),
        med(rs, "verified"), len(rs), n))
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
