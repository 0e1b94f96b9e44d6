#!/usr/bin/env python3
"""bench/lib/report.py - turn bench/run's runs.tsv into table.md, results.json
and PNG plots (gnuplot, bench/plot.gp) of time against memory size.

Every figure is the median over the repetitions whose restore was verified
OK; a cell of a tool with no verified run shows its failure instead.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time

FIELDS = ["ck_wall", "frozen", "ck_cpu", "ck_rss_kib", "bytes", "rs_run", "rs_verified",
          "rs_cpu", "rs_rss_kib"]
MODE_ORDER = ["mem", "sparse", "tree", "threads", "fds", "vmas"]
UNIT = {"mem": "MiB", "sparse": "MiB map", "tree": "procs", "threads": "threads", "fds": "fds",
        "vmas": "VMAs"}


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def load(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def summarise(runs):
    """{(storage, mode, n, tool): {"ok": k, "runs": m, "fails": [...], field: median}}"""
    groups = {}
    for r in runs:
        key = (r["storage"], r["mode"], int(r["n"]), r["tool"])
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        good = [r for r in rs if r["result"] == "OK"]
        s = {"ok": len(good), "runs": len(rs),
             "fails": sorted({r["result"] for r in rs if r["result"] != "OK"})}
        for f in FIELDS:
            vals = [v for v in (num(r[f]) for r in good) if v is not None]
            s[f] = statistics.median(vals) if vals else None
        out[key] = s
    return out


def fmt_s(v):
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def fmt_mib(v, kib=False):
    if v is None:
        return "n/a"
    mib = v / 1024 if kib else v / (1 << 20)
    return f"{mib:.1f}" if mib < 10 else f"{mib:.0f}"


def cell(summ, key_a, key_b, field, fmt):
    """'a / b (r)' for ckpt-oci / CRIU; r = a/b, below 1 is ckpt-oci faster."""
    a, b = summ.get(key_a), summ.get(key_b)

    def one(s):
        if s is None:
            return "-"
        if s["ok"] == 0:
            return "/".join(s["fails"]) or "n/a"
        return fmt(s[field])

    text = f"{one(a)} / {one(b)}"
    if a and b and a["ok"] and b["ok"] and a[field] and b[field]:
        text += f" ({a[field] / b[field]:.2f})"
    return text


def table(summ, args):
    keys = sorted({k[:3] for k in summ},
                  key=lambda k: (k[0] != "shm", MODE_ORDER.index(k[1]) if k[1] in MODE_ORDER
                                 else 99, k[2]))
    lines = [
        "| storage | workload | checkpoint | frozen | restore (-d returns) | restore to verified "
        "| bundle MiB | peak RSS MiB dump / restore | CPU s dump / restore | verified |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for st, mode, n in keys:
        a, b = (st, mode, n, "ckpt-oci"), (st, mode, n, "criu")
        sa, sb = summ.get(a), summ.get(b)

        def pair(field, fmt):
            return cell(summ, a, b, field, fmt)

        def rss(s):
            if not s or not s["ok"]:
                return "-"
            return f"{fmt_mib(s['ck_rss_kib'], True)} / {fmt_mib(s['rs_rss_kib'], True)}"

        def cpu(s):
            if not s or not s["ok"]:
                return "-"
            return f"{s['ck_cpu']:.2f} / {s['rs_cpu']:.2f}"

        ver = " / ".join(f"{s['ok']}/{s['runs']}" if s else "-" for s in (sa, sb))
        lines.append(
            f"| {st} | {mode} {n} {UNIT.get(mode, '')} | {pair('ck_wall', fmt_s)} "
            f"| {pair('frozen', fmt_s)} | {pair('rs_run', fmt_s)} "
            f"| {pair('rs_verified', fmt_s)} | {pair('bytes', fmt_mib)} "
            f"| {rss(sa)} ; {rss(sb)} | {cpu(sa)} ; {cpu(sb)} | {ver} |")
        ref = summ.get((st, mode, n, "physref"))
        if ref and ref["ok"]:
            lines.append(
                f"| {st} | *reference* {mode} {n} | {fmt_s(ref['ck_wall'])} | | "
                f"| {fmt_s(ref['rs_verified'])} | {fmt_mib(ref['bytes'])} | | | |")
    return lines


def header(args):
    machine = f"{platform.node()}: {os.cpu_count()} CPUs, " \
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.0f} GiB, " \
        f"Linux {platform.release()}"
    criu = f"CRIU {args.criu_version}" if args.criu_version else "CRIU: none"
    lines = [
        f"{'Quick run' if args.quick == '1' else 'Full run'} of {time.strftime('%Y-%m-%d %H:%M %Z')}"
        f" on {machine}; {args.ckpt_version}, {criu}; medians of {args.reps} repetitions"
        f" (measured in {args.seconds} s; load average before / after: {args.load}).",
        "",
        "Each cell: ckpt-oci / CRIU (ratio ckpt-oci/CRIU: below 1, ckpt-oci is faster or "
        "smaller). RSS and CPU: ckpt-oci ; CRIU, each as dump / restore.",
    ]
    if args.criu_note:
        lines += ["", f"**{args.criu_note}**"]
    return lines + [""]


def plot(summ, args):
    """One data file per storage: MiB, checkpoint and restore times per tool."""
    if not shutil.which("gnuplot"):
        return ["(no gnuplot: plots skipped; Debian package gnuplot-nox)"]
    made = []
    for st in sorted({k[0] for k in summ}):
        sizes = sorted({k[2] for k in summ if k[0] == st and k[1] == "mem"})
        if not sizes:
            continue
        dat = os.path.join(args.out, f"mem-{st}.dat")
        with open(dat, "w") as f:
            f.write("# MiB ck_ckpt ck_criu ck_ref rs_ckpt rs_criu rs_ref\n")
            for n in sizes:
                row = [str(n)]
                for field in ("ck_wall", "rs_verified"):
                    for tool in ("ckpt-oci", "criu", "physref"):
                        s = summ.get((st, "mem", n, tool))
                        v = s[field] if s and s["ok"] else None
                        row.append("NaN" if v is None else f"{v:.3f}")
                f.write(" ".join(row) + "\n")
        png = os.path.join(args.out, f"mem-{st}.png")
        subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'; "
                        f"storage='{st}'", args.plot], check=True)
        made.append(os.path.basename(png))
    return [f"Plots: {', '.join(made)}"] if made else []


MARK = "<!-- results -->"


def update_readme(path, lines):
    """Replace everything after the marker line with this run's table."""
    with open(path) as f:
        text = f.read()
    if MARK not in text:
        raise SystemExit(f"{path}: no {MARK} line")
    table_lines = [l for l in lines if not l.startswith("Plots:")]
    with open(path, "w") as f:
        f.write(text.split(MARK)[0] + MARK + "\n\n" + "\n".join(table_lines).rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("runs", "out", "plot", "ckpt-version", "criu-version", "criu-note", "quick",
                "reps", "seconds", "load", "readme"):
        ap.add_argument("--" + opt, default="")
    args = ap.parse_args()
    runs = load(args.runs)
    summ = summarise(runs)
    lines = header(args) + table(summ, args) + [""] + plot(summ, args)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if args.readme:
        update_readme(args.readme, lines)
    res = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "ckpt_oci": args.ckpt_version, "criu": args.criu_version or None,
        "criu_note": args.criu_note or None, "quick": args.quick == "1",
        "repetitions": int(args.reps or 0), "loadavg": args.load,
        "results": [dict(storage=k[0], mode=k[1], n=k[2], tool=k[3], **v)
                    for k, v in sorted(summ.items())],
        "runs": runs,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
