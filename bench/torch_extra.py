#!/usr/bin/python3
"""PyTorch timings of tapegrad's extra benchmark workloads: the ones the reference
(../shared/bench/torch_reference.py) has no counterpart for, written here the same way.

The CLI, the timing method and the JSON keys are the reference's: positional workload names,
--threads N (set in OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before torch is
imported, and with torch.set_num_threads), one JSON line per workload with the median, min
and max ms per step and the peak RSS. Warmup and iteration counts match tapegrad_bench's
rows of the same names; shapes below are the contract for tapegrad_bench.cpp.

  /usr/bin/python3 bench/torch_extra.py --threads 2 conv2d_fwd_bwd lstm_layer

Workloads:
  conv2d_fwd_bwd      F.conv2d(x [64,32,32,32], w [64,32,3,3], b [64], padding=1), all three
                      requiring grad; forward + backward of out.sum()          (2 warmup, 10 iters)
  max_pool2d_fwd_bwd  F.max_pool2d(x [64,32,32,32] requiring grad, 2); forward + backward of
                      out.sum()                                               (3 warmup, 20 iters)
  max_pool2d_fwd      F.max_pool2d(x [64,32,32,32], 2), x not requiring grad (3 warmup, 30 iters)
  lstm_layer          nn.LSTM(128, 256) (seq-first) on x [T=64, B=32, 128] requiring grad,
                      zero initial state; forward + backward of output.sum()  (3 warmup, 20 iters)
  lstm_attention_sgd  the reference's lstm_attention training step (same model, data and
                      cross_entropy) with torch.optim.SGD(lr=1e-3) in place of Adam: with the
                      reference's Adam step it shows the optimizer's share  (3 warmup, 20 iters)
  adam_10m            one torch.optim.Adam(lr=1e-3, foreach=True) step over ten float32
                      tensors [1000, 1000] (10M parameters) with fixed random gradients
                                                                               (3 warmup, 20 iters)

Gradients accumulate across steps in the fwd_bwd workloads (nothing zeroes them), as in the
reference's layernorm_fwd_bwd; tapegrad_bench does the same.

Needs Debian's python3-torch: run with /usr/bin/python3.
"""
import argparse, json, os, resource, statistics, sys, time


def _threads_from_argv(default=2):
    """Thread pools read their size at import, so it is set before torch loads."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return str(default)


for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_from_argv()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def timed(step, warmup, iters):
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t) * 1e3)
    return samples


# --- issue 3: convolution and pooling --------------------------------------------
def conv2d_fwd_bwd():
    x = torch.randn(64, 32, 32, 32, requires_grad=True)
    w = torch.randn(64, 32, 3, 3, requires_grad=True)
    b = torch.randn(64, requires_grad=True)
    return lambda: F.conv2d(x, w, b, padding=1).sum().backward()


def max_pool2d_fwd_bwd():
    x = torch.randn(64, 32, 32, 32, requires_grad=True)
    return lambda: F.max_pool2d(x, 2).sum().backward()


def max_pool2d_fwd():
    x = torch.randn(64, 32, 32, 32)
    return lambda: F.max_pool2d(x, 2)


# --- issue 4: recurrent layers ---------------------------------------------------
def lstm_layer():
    lstm = nn.LSTM(128, 256)  # seq-first: input [T, B, I]
    x = torch.randn(64, 32, 128, requires_grad=True)
    return lambda: lstm(x)[0].sum().backward()


class LstmAttention(nn.Module):
    """The reference's model, verbatim."""
    def __init__(self, vocab=10000, emb=128, hidden=256, classes=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.att_w = nn.Parameter(torch.randn(hidden) * 0.05)   # the learned query
        self.out = nn.Linear(hidden, classes)

    def forward(self, tokens):
        h, _ = self.lstm(self.emb(tokens))                       # (B, T, H)
        alpha = torch.softmax(torch.tanh(h) @ self.att_w, dim=1)  # (B, T)
        context = (h * alpha.unsqueeze(-1)).sum(1)               # (B, H)
        return self.out(context)


def lstm_attention_sgd():
    model = LstmAttention()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, y = torch.randint(0, 10000, (32, 64)), torch.randint(0, 5, (32,))
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


# --- issue 5: the optimizer step ------------------------------------------------
def adam_10m():
    params = [torch.randn(1000, 1000, requires_grad=True) for _ in range(10)]
    for p in params:
        p.grad = torch.randn(1000, 1000)
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
    return opt.step


WORKLOADS = {
    "conv2d_fwd_bwd": (conv2d_fwd_bwd, 2, 10), "max_pool2d_fwd_bwd": (max_pool2d_fwd_bwd, 3, 20),
    "max_pool2d_fwd": (max_pool2d_fwd, 3, 30), "lstm_layer": (lstm_layer, 3, 20),
    "lstm_attention_sgd": (lstm_attention_sgd, 3, 20), "adam_10m": (adam_10m, 3, 20),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="workloads to run (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name in args.names or WORKLOADS:
        make, warmup, iters = WORKLOADS[name]
        samples = timed(make(), warmup, iters)
        print(json.dumps({"workload": name, "framework": f"torch-{torch.__version__}", "threads": args.threads,
                          "median_ms": round(statistics.median(samples), 4), "min_ms": round(min(samples), 4),
                          "max_ms": round(max(samples), 4),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
