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
  conv2d_fwd_bwd, max_pool2d_fwd_bwd, max_pool2d_fwd, lstm_layer, lstm_attention,
  lstm_attention_sgd: no fixed target; the ratio is reported and marked "faster" below 1.0
  ("slower" otherwise). lstm_attention is tapegrad with SGD against the reference's Adam
  step (tapegrad has no Adam yet); lstm_attention_sgd is the like-for-like pair (torch
  with SGD too), and when both ran the driver prints torch's Adam - SGD difference.

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
}
# Workloads that exist only in tapegrad_bench (baselines, no torch counterpart).
OURS_ONLY = {"sgemm_1024", "linear_512", "linear_512_composed", "linear_32", "linear_32_composed"}
# Workloads whose torch side is bench/torch_extra.py (the reference has no counterpart).
EXTRA = {"conv2d_fwd_bwd", "max_pool2d_fwd_bwd", "max_pool2d_fwd", "lstm_layer", "lstm_attention_sgd", "adam_10m"}


def find_binary():
    """The newest tapegrad_bench under <repo>/build/release/bench or <repo>/build*/bench."""
    patterns = [os.path.join(REPO, "build", "release", "bench", "tapegrad_bench"),
                os.path.join(REPO, "build*", "bench", "tapegrad_bench")]
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


def print_table(rows):
    headers = ["workload", "threads", "tapegrad ms", "torch ms", "ours/torch", "target", "result"]
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
    if args.rounds < 1:
        sys.exit("compare.py: --rounds must be >= 1")
    def torch_script(name):
        return args.torch_extra if name in EXTRA else args.torch_ref

    for name, _ in pairs:
        if name not in OURS_ONLY and not os.path.isfile(torch_script(name)):
            flag = "--torch-extra" if name in EXTRA else "--torch-ref"
            sys.exit(f"compare.py: torch side of {name} not found: {torch_script(name)} (pass {flag})")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    print(f"# {started:%Y-%m-%d %H:%M %Z}  host {platform.node()} ({os.cpu_count()} CPUs)  "
          f"rounds {args.rounds}  load avg at start {load0[0]:.2f}", file=sys.stderr)
    scripts = sorted({torch_script(name) for name, _ in pairs if name not in OURS_ONLY})
    print(f"# ours:  {binary}\n# torch: {args.python} {' and '.join(scripts)}", file=sys.stderr)

    # medians[(name, threads, side)] -> per-run medians; fraction[(name, threads)] -> per-run
    # baseline_ms / ours_ms for "blas" targets (both measured in the same process).
    medians, fraction, failures = {}, {}, []
    frameworks = {}
    with open(args.out, "w") as out:
        for rnd in range(args.rounds):
            for name, t in pairs:
                target = TARGETS.get(name, {})
                ours = [name]
                if target.get("kind") == "blas":  # the baseline in the same process, order alternating
                    ours = [name, target["baseline"]] if rnd % 2 == 0 else [target["baseline"], name]
                runs = [("ours", [binary, "--threads", str(t), *ours])]
                if name not in OURS_ONLY:
                    runs.append(("torch", [args.python, torch_script(name), "--threads", str(t), name]))
                for side, cmd in runs:
                    t0 = time.monotonic()
                    try:
                        lines = run_json(cmd, args.timeout)
                    except RuntimeError as e:
                        failures.append(str(e))
                        print(f"compare.py: {e}", file=sys.stderr)
                        continue
                    by_name = {}
                    for rec in lines:
                        out.write(json.dumps(rec) + "\n")
                        by_name[rec["workload"]] = rec
                        medians.setdefault((rec["workload"], t, side), []).append(rec["median_ms"])
                        frameworks[side] = rec["framework"]
                    out.flush()
                    if side == "ours" and target.get("kind") == "blas" and name in by_name and target["baseline"] in by_name:
                        fraction.setdefault((name, t), []).append(
                            by_name[target["baseline"]]["median_ms"] / by_name[name]["median_ms"])
                    summary = ", ".join(f"{r['workload']} {fmt_ms(r['median_ms'])} ms" for r in lines)
                    print(f"  round {rnd + 1}/{args.rounds}  {side:5s} threads={t}  {summary}  "
                          f"({time.monotonic() - t0:.1f}s)", file=sys.stderr)

    def med(name, t, side):
        v = medians.get((name, t, side))
        return statistics.median(v) if v else None

    rows, missed = [], []
    for name, t in pairs:
        ours, torch = med(name, t, "ours"), med(name, t, "torch")
        ratio = ours / torch if ours is not None and torch else None
        target = TARGETS.get(name, {})
        goal, result = "-", "-"
        if target.get("kind") == "ratio" and ratio is not None:
            goal = f"ours/torch <= {target['max']:g}"
            result = "PASS" if ratio <= target["max"] else "FAIL"
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
        rows.append([name, str(t), fmt_ms(ours), fmt_ms(torch), f"{ratio:.3f}" if ratio is not None else "-", goal, result])
        if target.get("kind") == "blas":  # the baseline's own row, ours only
            base = target["baseline"]
            rows.append([base, str(t), fmt_ms(med(base, t, "ours")), "-", "-", "(baseline: raw cblas_sgemm)", "-"])

    load1 = os.getloadavg()
    print(f"\n{frameworks.get('ours', 'tapegrad')} vs {frameworks.get('torch', 'torch')}, "
          f"{started:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} CPUs, {args.rounds} alternating rounds, "
          f"medians of per-run medians; load avg {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    print_table(rows)
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
