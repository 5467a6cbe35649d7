#!/usr/bin/env python3
"""Time and peak RSS of one attention step [1, 4, T, 64] fwd+bwd against T: tapegrad's fused
and composed paths (tapegrad_attention_memory) and PyTorch's composed formula (the reference's
long_attention, softmax(q k^T / 8) v, with T as a parameter). One process per measurement, run
alternately per T; prints a Markdown table (docs/performance.md, "Fused attention").

    bench/attention_memory.py build/release/bench/tapegrad_attention_memory --threads 1 \
        --lengths 1024 2048 4096 8192 --rounds 3

Run torch with /usr/bin/python3 (Debian's python3-torch); --no-torch skips it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TORCH_STEP = r"""
import json, resource, statistics, sys, time, torch
T, threads, warmup, iters = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
q, k, v = (torch.randn(1, 4, T, 64, requires_grad=True) for _ in range(3))
def step():
    for t in (q, k, v):
        t.grad = None
    ctx = torch.softmax(q @ k.transpose(-2, -1) / 8.0, dim=-1) @ v
    ctx.sum().backward()
for _ in range(warmup):
    step()
ms = []
for _ in range(iters):
    t0 = time.perf_counter()
    step()
    ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"workload": f"long_attention_T{T}", "framework": f"torch-{torch.__version__}",
                  "threads": threads, "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="path to tapegrad_attention_memory")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per T (median of the medians)")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-composed", type=int, default=0, help="skip the composed paths for T above this (0: never)")
    args = ap.parse_args()
    sides = ["fused", "composed"] + ([] if args.no_torch else ["torch"])
    print(f"load average: {os.getloadavg()}", file=sys.stderr)
    rows = []
    for T in args.lengths:
        res = {s: [] for s in sides}
        for _ in range(args.rounds):
            for s in sides:
                if s == "composed" and args.no_composed and T > args.no_composed:
                    continue
                if s == "torch":
                    r = run(["/usr/bin/python3", "-c", TORCH_STEP, str(T), str(args.threads), "1", str(args.iters)])
                else:
                    r = run([args.binary, s, str(T), "--threads", str(args.threads), "--iters", str(args.iters)])
                res[s].append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
        rows.append((T, {s: (statistics.median(r["median_ms"] for r in v), max(r["peak_rss_mb"] for r in v))
                         for s, v in res.items() if v}))
    print(f"| T | fused ms | fused peak RSS MB | composed ms | composed peak RSS MB"
          + ("" if args.no_torch else " | torch ms | torch peak RSS MB | fused/torch time | fused/torch RSS") + " |")
    print("|---" * (5 if args.no_torch else 9) + "|")
    for T, r in rows:
        cell = lambda s, i: f"{r[s][i]:.1f}" if s in r else "-"
        line = f"| {T} | {cell('fused', 0)} | {cell('fused', 1)} | {cell('composed', 0)} | {cell('composed', 1)}"
        if not args.no_torch:
            ratio = lambda i: f"{r['fused'][i] / r['torch'][i]:.2f}" if "torch" in r else "-"
            line += f" | {cell('torch', 0)} | {cell('torch', 1)} | {ratio(0)} | {ratio(1)}"
        print(line + " |")
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
