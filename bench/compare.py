#!/usr/bin/python3
"""tapegrad beside the PyTorch reference: same workloads, same shapes, same thread counts.

For every (workload, threads) pair, each round runs tapegrad_bench and then the torch side
(torch_reference.py for the reference's workloads, bench/torch_extra.py for the extra ones
that the reference lacks), each as its own process with that one workload, so the two sides
alternate (ours, torch, ours, torch, ...) and share the machine's noise. Each run prints
one JSON line with its median ms per step; the summary of a side is the median of its
per-run medians, and the ratio is ours / torch.

  /usr/bin/python3 bench/compare.py                        # the default workloads, 2 threads
  /usr/bin/python3 bench/compare.py --threads 1,2 tiny_mlp # both thread counts
  /usr/bin/python3 bench/compare.py matmul_1024 tiny_mlp:1 # a name:threads pair overrides --threads
  /usr/bin/python3 bench/compare.py --rounds 5 --out /tmp/run.jsonl
  /usr/bin/python3 bench/compare.py conv2d_fwd_bwd max_pool2d_fwd_bwd max_pool2d_fwd \
      lstm_layer lstm_attention lstm_attention_sgd        # issues 3 and 4 (torch_extra.py)

Targets (pass/fail in the table):
  matmul_1024        tg::matmul reaches >= 90% of the raw cblas_sgemm rate (sgemm_1024)
                     measured in the same process run (matmul_ms <= sgemm_ms / 0.9)
  add_16m            ours / torch <= 1.0
  softmax_4096x1024  ours / torch <= 0.8
  tiny_mlp           ours / torch <= 0.1
  transformer        ours / torch <= 0.75 and >= 85% of the sgemm rate (issue 14)
  long_attention     ours / torch <= 0.4 (torch: the reference's composed formula)
  conv2d_fwd_bwd, max_pool2d_fwd_bwd, max_pool2d_fwd, lstm_layer, lstm_attention,
  lstm_attention_sgd: no fixed target; the ratio is reported and marked "faster" below 1.0
  ("slower" otherwise). lstm_attention is the reference's step with Adam on both sides;
  lstm_attention_sgd is the same step with SGD on both sides, and when both ran the driver
  prints torch's Adam - SGD difference.

A third side, libtorch (PyTorch's C++ frontend, bench/libtorch_bench.cpp, built only where
libtorch-dev is installed), runs after torch in each round when its binary is found (--libtorch,
or <repo>/build*/bench/libtorch_bench; --no-libtorch skips it): the table shows ours/torch and
ours/libtorch. Beside each ratio: the speedup of ours from 1 to 2 threads (ms at 1 / ms at 2,
measured by an extra run of ours at the other count unless --no-scaling), for the workloads
with a FLOP count (FLOPS below) the share of the machine's sgemm rate that each side reaches
(sgemm_peak, measured in every round at the same thread count), the peak RSS of each side and
the 1-minute load average around the runs.

Needs Debian's python3-torch for the reference: run with /usr/bin/python3. Standard
library only.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TORCH_REF = os.path.join(os.path.dirname(REPO), "shared", "bench", "torch_reference.py")
DEFAULT_TORCH_EXTRA = os.path.join(REPO, "bench", "torch_extra.py")
DEFAULT_OUT = os.path.join(REPO, "bench", "results", "latest.jsonl")
DEFAULT_WORKLOADS = ["matmul_1024", "add_16m", "softmax_4096x1024", "tiny_mlp"]

# How each workload is judged. kind "ratio": ours/torch <= max. kind "blas": our median ms
# is held to the BLAS baseline measured in the same process (fraction of its rate).
# Workloads not listed here are compared without a target.
TARGETS = {
    "matmul_1024": {"kind": "blas", "baseline": "sgemm_1024", "min_fraction": 0.9},
    "add_16m": {"kind": "ratio", "max": 1.0},
    "softmax_4096x1024": {"kind": "ratio", "max": 0.8},
    "tiny_mlp": {"kind": "ratio", "max": 0.1},
    # kind "report": no target; the ratio is shown and marked faster (< faster_below) or slower.
    "conv2d_fwd_bwd": {"kind": "report", "faster_below": 1.0},
    "max_pool2d_fwd_bwd": {"kind": "report", "faster_below": 1.0},
    "max_pool2d_fwd": {"kind": "report", "faster_below": 1.0},
    "lstm_layer": {"kind": "report", "faster_below": 1.0},
    "lstm_attention": {"kind": "report", "faster_below": 1.0},
    "lstm_attention_sgd": {"kind": "report", "faster_below": 1.0, "note": "SGD on both sides"},
    "mlp": {"kind": "report", "faster_below": 1.0},
    "layernorm_fwd_bwd": {"kind": "report", "faster_below": 1.0},
    "adam_10m": {"kind": "report", "faster_below": 1.0, "note": "torch: Adam(foreach=True)"},
    "transformer": {"kind": "ratio", "max": 0.75, "min_sgemm": 0.85},
    "cnn_cbam": {"kind": "report", "faster_below": 1.0},
    "long_attention": {"kind": "ratio", "max": 0.4},
    "long_attention_composed": {"kind": "report", "faster_below": 1.0, "note": "composed formula"},
}

# GEMM FLOPs per step (2 per multiply-add) of the GEMM-bound workloads, counted from the shapes
# (bench/README.md, "Share of the sgemm rate"). share = FLOPs / step time / sgemm_peak's rate.
def _transformer_flops(B=16, T=128, d=256, ff=1024, layers=2, vocab=1000):
    n = B * T
    per_layer = n * (3 * d * d + d * d + 2 * T * d + 2 * d * ff)  # qkv, out, q k^T and p v, ff
    forward = layers * per_layer + n * d * vocab
    return 2 * 3 * forward  # forward, and two products of the same size per product backward


def _long_attention_flops(BH=4, T=2048, D=64):
    return 2 * 6 * BH * T * T * D  # 2 products forward, 4 backward


def _mlp_flops(B=128):
    forward = B * (784 * 512 + 512 * 512 + 512 * 10)
    backward = forward + B * (512 * 512 + 512 * 10)  # every weight gradient; x needs no gradient
    return 2 * (forward + backward)


FLOPS = {
    "transformer": _transformer_flops(),
    "long_attention": _long_attention_flops(),
    "long_attention_composed": _long_attention_flops(),
    "mlp": _mlp_flops(),
    "matmul_1024": 2 * 1024 ** 3,
    "conv2d_fwd_bwd": 2 * 3 * 64 * 32 * 32 * 64 * 32 * 9,
    "sgemm_peak": 2 * 2048 ** 3,
}
SGEMM_PEAK = "sgemm_peak"
# The torch (and libtorch) name of a workload when it differs: both attention variants race the
# reference's composed long_attention (torch 1.13 has no fused scaled_dot_product_attention).
TORCH_NAME = {"long_attention_composed": "long_attention"}
# Workloads that exist only in tapegrad_bench (baselines, no torch counterpart).
OURS_ONLY = {"sgemm_1024", "sgemm_peak", "linear_512", "linear_512_composed", "linear_32", "linear_32_composed"}
# Workloads whose torch side is bench/torch_extra.py (the reference has no counterpart).
EXTRA = {"conv2d_fwd_bwd", "max_pool2d_fwd_bwd", "max_pool2d_fwd", "lstm_layer", "lstm_attention_sgd", "adam_10m"}
SIDES = ("ours", "torch", "libtorch")


def find_binary(name="tapegrad_bench"):
    """The newest `name` under <repo>/build/release/bench or <repo>/build*/bench."""
    patterns = [os.path.join(REPO, "build", "release", "bench", name),
                os.path.join(REPO, "build*", "bench", name)]
    found = {p for pat in patterns for p in glob.glob(pat) if os.access(p, os.X_OK)}
    if not found:
        return None
    return max(found, key=os.path.getmtime)


def parse_specs(names, threads):
    """["tiny_mlp", "tiny_mlp:1", ...] -> ordered, de-duplicated (name, threads) pairs."""
    pairs = []
    for spec in names or DEFAULT_WORKLOADS:
        name, _, t = spec.partition(":")
        for n in ([int(x) for x in t.split(",")] if t else threads):
            if (name, n) not in pairs:
                pairs.append((name, n))
    return pairs


def run_json(cmd, timeout):
    """Runs one benchmark process; returns its JSON lines (dicts) or raises RuntimeError."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout}s: {' '.join(cmd)}")
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr.strip()}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON output: {' '.join(cmd)}\n{proc.stderr.strip()}")
    return lines


def fmt_ms(x):
    if x is None:
        return "-"
    return f"{x:.4f}" if x < 1 else f"{x:.2f}"


def print_table(rows, headers):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"workloads, optionally name:threads (default: {' '.join(DEFAULT_WORKLOADS)})")
    ap.add_argument("--threads", default="2", help="thread counts, comma-separated (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (default 3)")
    ap.add_argument("--bin", help="tapegrad_bench (default: newest of <repo>/build/release/bench, <repo>/build*/bench)")
    ap.add_argument("--libtorch", help="libtorch_bench (default: newest of <repo>/build/release/bench, <repo>/build*/bench)")
    ap.add_argument("--no-libtorch", action="store_true", help="run no libtorch side")
    ap.add_argument("--no-scaling", action="store_true",
                    help="no extra run of ours at the other thread count (1 <-> 2) for the speedup column")
    ap.add_argument("--torch-ref", default=DEFAULT_TORCH_REF, help="torch_reference.py (default: %(default)s)")
    ap.add_argument("--torch-extra", default=DEFAULT_TORCH_EXTRA,
                    help="torch side of the extra workloads (default: %(default)s)")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch (default: %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="raw JSON lines go here (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per process (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    args = ap.parse_args()

    threads = [int(t) for t in args.threads.split(",")]
    pairs = parse_specs(args.names, threads)
    binary = args.bin or find_binary()
    if not binary or not os.access(binary, os.X_OK):
        sys.exit("compare.py: tapegrad_bench not found; build it (see bench/README.md) or pass --bin")
    libtorch = None if args.no_libtorch else (args.libtorch or find_binary("libtorch_bench"))
    if libtorch and not os.access(libtorch, os.X_OK):
        sys.exit(f"compare.py: libtorch_bench not found: {libtorch}")
    if args.rounds < 1:
        sys.exit("compare.py: --rounds must be >= 1")

    def torch_script(name):
        return args.torch_extra if name in EXTRA else args.torch_ref

    for name, _ in pairs:
        if name not in OURS_ONLY and not os.path.isfile(torch_script(name)):
            flag = "--torch-extra" if name in EXTRA else "--torch-ref"
            sys.exit(f"compare.py: torch side of {name} not found: {torch_script(name)} (pass {flag})")

    # Ours at the other thread count (1 <-> 2) for the speedup column, and the sgemm rate at
    # every thread count that a workload with a FLOP count runs at.
    scaling = [] if args.no_scaling else [(n, 3 - t) for n, t in pairs
                                          if t in (1, 2) and (n, 3 - t) not in pairs and n != SGEMM_PEAK]
    peak_threads = sorted({t for n, t in pairs if n in FLOPS and n != SGEMM_PEAK})

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    print(f"# {started:%Y-%m-%d %H:%M %Z}  host {platform.node()} ({os.cpu_count()} CPUs)  "
          f"rounds {args.rounds}  load avg at start {load0[0]:.2f}", file=sys.stderr)
    scripts = sorted({torch_script(name) for name, _ in pairs if name not in OURS_ONLY})
    print(f"# ours:  {binary}\n# torch: {args.python} {' and '.join(scripts)}\n"
          f"# libtorch: {libtorch or '(none: build target libtorch_bench, see bench/README.md)'}", file=sys.stderr)

    # medians / rss[(name, threads, side)] -> per-run values; fraction[(name, threads)] -> per-run
    # baseline_ms / ours_ms for "blas" targets (both measured in the same process); loads[(name,
    # threads)] -> the 1-minute load average before each of its runs.
    medians, rss, fraction, loads, failures = {}, {}, {}, {}, []
    frameworks = {}

    def run_side(out, rnd, side, name, t, cmd, target=None):
        t0 = time.monotonic()
        loads.setdefault((name, t), []).append(os.getloadavg()[0])
        try:
            lines = run_json(cmd, args.timeout)
        except RuntimeError as e:
            failures.append(str(e))
            print(f"compare.py: {e}", file=sys.stderr)
            return
        by_name = {}
        for rec in lines:
            key = rec["workload"] if side == "ours" else name  # the torch sides may race under another name
            out.write(json.dumps({**rec, "side": side, "as": key}) + "\n")
            by_name[key] = rec
            medians.setdefault((key, t, side), []).append(rec["median_ms"])
            rss.setdefault((key, t, side), []).append(rec["peak_rss_mb"])
            frameworks[side] = rec["framework"]
        out.flush()
        if target and target.get("kind") == "blas" and name in by_name and target["baseline"] in by_name:
            fraction.setdefault((name, t), []).append(
                by_name[target["baseline"]]["median_ms"] / by_name[name]["median_ms"])
        summary = ", ".join(f"{r['workload']} {fmt_ms(r['median_ms'])} ms" for r in lines)
        print(f"  round {rnd + 1}/{args.rounds}  {side:8s} threads={t}  {summary}  "
              f"({time.monotonic() - t0:.1f}s)", file=sys.stderr)

    with open(args.out, "w") as out:
        for rnd in range(args.rounds):
            for name, t in pairs:
                target = TARGETS.get(name, {})
                ours = [name]
                if target.get("kind") == "blas":  # the baseline in the same process, order alternating
                    ours = [name, target["baseline"]] if rnd % 2 == 0 else [target["baseline"], name]
                run_side(out, rnd, "ours", name, t, [binary, "--threads", str(t), *ours], target)
                if name not in OURS_ONLY:
                    tname = TORCH_NAME.get(name, name)
                    run_side(out, rnd, "torch", name, t, [args.python, torch_script(name), "--threads", str(t), tname])
                    if libtorch:
                        run_side(out, rnd, "libtorch", name, t, [libtorch, "--threads", str(t), tname])
                if (name, 3 - t) in scaling:
                    run_side(out, rnd, "ours", name, 3 - t, [binary, "--threads", str(3 - t), name])
            for t in peak_threads:
                run_side(out, rnd, "ours", SGEMM_PEAK, t, [binary, "--threads", str(t), SGEMM_PEAK])

    def med(name, t, side, table=medians):
        v = table.get((name, t, side))
        return statistics.median(v) if v else None

    def ratio_str(a, b):
        return f"{a / b:.3f}" if a is not None and b else "-"

    def slash(values, fmt):
        return "/".join("-" if v is None else fmt(v) for v in values)

    sides = [s for s in SIDES if s != "libtorch" or libtorch]
    rows, missed = [], []
    for name, t in pairs:
        ms = {side: med(name, t, side) for side in sides}
        ours, torch = ms["ours"], ms["torch"]
        ratio = ours / torch if ours is not None and torch else None
        one, two = med(name, 1, "ours"), med(name, 2, "ours")
        speedup = f"{one / two:.2f}x" if one and two else "-"
        peak = med(SGEMM_PEAK, t, "ours")
        share = {}
        if name in FLOPS and peak:
            rate = FLOPS[SGEMM_PEAK] / peak  # FLOPs per ms
            share = {side: (FLOPS[name] / ms[side] / rate if ms[side] else None) for side in sides}
        share_str = slash([share.get(s) for s in sides], lambda v: f"{v:.0%}") if share else "-"
        rss_str = slash([med(name, t, s, rss) for s in sides], lambda v: f"{v:.0f}")
        load = statistics.median(loads[(name, t)]) if loads.get((name, t)) else None
        target = TARGETS.get(name, {})
        goal, result = "-", "-"
        if target.get("kind") == "ratio" and ratio is not None:
            goal = f"ours/torch <= {target['max']:g}"
            ok = ratio <= target["max"]
            if "min_sgemm" in target:
                goal += f", >= {target['min_sgemm']:.0%} of sgemm"
                ok = ok and share.get("ours") is not None and share["ours"] >= target["min_sgemm"]
            result = "PASS" if ok else "FAIL"
        elif target.get("kind") == "report":
            goal = "report" + (f" ({target['note']})" if "note" in target else "")
            if ratio is not None:
                result = "faster" if ratio < target["faster_below"] else "slower"
        elif target.get("kind") == "blas" and (name, t) in fraction:
            base, f = med(target["baseline"], t, "ours"), statistics.median(fraction[(name, t)])
            goal = f">= {target['min_fraction']:.0%} of {target['baseline']} ({fmt_ms(base)} ms)"
            result = ("PASS" if f >= target["min_fraction"] else "FAIL") + f" ({f:.0%})"
        if result.startswith("FAIL"):
            missed.append(name)
        row = [name, str(t), *(fmt_ms(ms[s]) for s in sides), ratio_str(ours, torch)]
        if libtorch:
            row.append(ratio_str(ours, ms["libtorch"]))
        rows.append(row + [speedup, share_str, rss_str, f"{load:.1f}" if load is not None else "-", goal, result])
        if target.get("kind") == "blas":  # the baseline's own row, ours only
            base = target["baseline"]
            filler = ["-"] * (len(sides) - 1 + (2 if libtorch else 1))
            rows.append([base, str(t), fmt_ms(med(base, t, "ours")), *filler, "-", "-", "-", "-",
                         "(baseline: raw cblas_sgemm)", "-"])

    load1 = os.getloadavg()
    names = "/".join(sides)
    headers = ["workload", "threads", "tapegrad ms", "torch ms"] + (["libtorch ms"] if libtorch else []) + \
        ["ours/torch"] + (["ours/libtorch"] if libtorch else []) + \
        ["ours 1t->2t", f"sgemm share {names}", f"peak RSS MB {names}", "load", "target", "result"]
    print(f"\n{frameworks.get('ours', 'tapegrad')} vs {frameworks.get('torch', 'torch')}"
          f"{' and ' + frameworks.get('libtorch', 'libtorch') if libtorch else ''}, "
          f"{started:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} CPUs, {args.rounds} alternating rounds, "
          f"medians of per-run medians; load avg {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    print_table(rows, headers)
    for t in peak_threads:
        peak = med(SGEMM_PEAK, t, "ours")
        if peak:
            print(f"sgemm_peak at {t} thread(s): {fmt_ms(peak)} ms = {FLOPS[SGEMM_PEAK] / peak / 1e6:.1f} GFLOP/s")
    for t in sorted({t for _, t in pairs}):
        adam, sgd = med("lstm_attention", t, "torch"), med("lstm_attention_sgd", t, "torch")
        if adam is not None and sgd is not None:
            print(f"\ntorch lstm_attention at {t} threads: Adam step {fmt_ms(adam)} ms, SGD step {fmt_ms(sgd)} ms: "
                  f"Adam adds {fmt_ms(adam - sgd)} ms ({(adam - sgd) / adam:.1%} of the Adam step)")
    print(f"\nraw JSON lines: {os.path.relpath(args.out)}")
    if failures:
        print(f"{len(failures)} run(s) failed (see above)", file=sys.stderr)
        return 1
    if args.check and missed:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
