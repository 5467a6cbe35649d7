#!/usr/bin/python3
"""Golden fixtures for tapegrad's convolution and pooling ops, computed with PyTorch.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden/make_fixtures.py          # rewrites tests/golden/fixtures/*.txt
    /usr/bin/python3 tests/golden/make_fixtures.py --check  # exits 1 if the committed files differ

The output is deterministic (fixed seeds, float64, one thread): re-running the script must
reproduce the committed files byte for byte. The C++ tests (tests/core/test_conv.cpp and
tests/core/test_pool.cpp through tests/support/golden_ops.h, loader in tests/support/fixtures.h)
read these files, so running the tests does not need PyTorch.

File format (one file per op, tests/golden/fixtures/<op>.txt), line based:

    # comment                          (ignored, also blank lines)
    case <name>                        starts a case; the name is the rest of the line
    param <key> <int> [<int> ...]      an integer parameter (stride, padding, groups, ...)
    tensor <key> <ndim> <dim> ...      a float64 tensor; its numel values follow on the next
    <v> <v> ...                          lines, at most 6 per line, printed with %.17g
    none <key>                         a tensor that is absent (e.g. bias and grad_bias)
    end                                closes the case

Every case holds the inputs (`input`, `weight`, `bias` for convolutions), the upstream
gradient `gout` (fixed random, of the output's shape), the forward output `output`, and the
gradients of (output * gout).sum() with respect to each input: `grad_input`, `grad_weight`,
`grad_bias`. Parameters that are not written take the op's default (e.g. no `stride` line in a
pooling case means stride = kernel).
"""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)


def Writer(op):
    return fw.Writer(fw.golden_header(op, "tests/golden/make_fixtures.py"), write_none=True)


def distinct(*shape, gen):
    """Values that are pairwise distinct (a scaled random permutation), so max has no ties,
    also after rounding to float32."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=gen).to(torch.float64)
    return ((perm - n / 2.0) * (4.0 / n)).reshape(shape)


def randn(*shape, gen):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def grads(out, gout, leaves):
    present = [t for t in leaves if t is not None]
    gs = torch.autograd.grad((out * gout).sum(), present)
    it = iter(gs)
    return [next(it) if t is not None else None for t in leaves]


# ---- convolutions ------------------------------------------------------------------------------


def conv_case(w, gen, name, dims, x_shape, o, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    fn = F.conv2d if dims == 2 else F.conv1d
    c = x_shape[-dims - 1]
    x = randn(*x_shape, gen=gen).requires_grad_()
    kk = tuple(k) if isinstance(k, (tuple, list)) else (k,) * dims
    wt = randn(o, c // groups, *kk, gen=gen).requires_grad_()
    b = randn(o, gen=gen).requires_grad_() if bias else None
    out = fn(x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    gout = randn(*out.shape, gen=gen)
    gx, gw, gb = grads(out, gout, [x, wt, b])

    def pair(v):
        return list(v) if isinstance(v, (tuple, list)) else [v] * dims

    params = {"stride": pair(stride), "padding": pair(padding), "dilation": pair(dilation), "groups": groups}
    w.case(name, params, [("input", x), ("weight", wt), ("bias", b), ("gout", gout), ("output", out),
                          ("grad_input", gx), ("grad_weight", gw), ("grad_bias", gb)])


@fw.family("conv2d")
def make_conv2d(gen):
    w = Writer("conv2d")
    c = lambda *a, **kw: conv_case(w, gen, *a[:1], 2, *a[1:], **kw)  # noqa: E731
    c("3x3 padding 1 on 5x5", (2, 3, 5, 5), 4, 3, padding=1)
    c("stride 2 padding 1 on 7x9", (2, 2, 7, 9), 3, 3, stride=2, padding=1)
    c("stride 3 padding 2 on 8x7 (windows past the end)", (1, 2, 8, 7), 2, 3, stride=3, padding=2)
    c("dilation 2 padding 2 on 8x8", (1, 2, 8, 8), 3, 3, padding=2, dilation=2)
    c("groups 2 (C 4, O 6)", (2, 4, 6, 5), 6, 3, padding=1, groups=2)
    c("depthwise (groups = C = 3)", (2, 3, 6, 6), 3, 3, padding=1, groups=3)
    c("depthwise with multiplier 2 (C 3, O 6, groups 3)", (1, 3, 5, 6), 6, 2, groups=3)
    c("no bias", (2, 3, 5, 6), 2, 2, bias=False)
    c("kernel (3,2) stride (2,1) padding (1,0)", (2, 2, 7, 6), 3, (3, 2), stride=(2, 1), padding=(1, 0))
    c("kernel (2,3) dilation (2,1) padding (0,2) stride (1,2)", (1, 2, 6, 9), 2, (2, 3), stride=(1, 2),
      padding=(0, 2), dilation=(2, 1))
    c("batch of 3", (3, 2, 6, 5), 4, 3)
    c("1x1 kernel", (2, 5, 4, 3), 3, 1)
    c("kernel covers the whole input", (2, 3, 4, 5), 2, (4, 5))
    c("stride 2 padding 2 dilation 2 groups 2 no bias on 9x7", (2, 4, 9, 7), 4, 3, stride=2, padding=2,
      dilation=2, groups=2, bias=False)
    c("single channel in and out", (2, 1, 6, 6), 1, 3, padding=1)
    c("unbatched input (C, H, W)", (3, 5, 6), 2, 3, padding=1)
    return w


@fw.family("conv1d")
def make_conv1d(gen):
    w = Writer("conv1d")
    c = lambda *a, **kw: conv_case(w, gen, *a[:1], 1, *a[1:], **kw)  # noqa: E731
    c("kernel 3 padding 1 on 8", (2, 3, 8), 4, 3, padding=1)
    c("stride 2 padding 1 on 9", (2, 2, 9), 3, 3, stride=2, padding=1)
    c("stride 3 padding 2 on 8 (windows past the end)", (1, 2, 8), 2, 3, stride=3, padding=2)
    c("dilation 2 padding 2 on 9", (1, 2, 9), 3, 3, padding=2, dilation=2)
    c("groups 2 (C 4, O 6)", (2, 4, 7), 6, 3, padding=1, groups=2)
    c("depthwise (groups = C = 3)", (2, 3, 8), 3, 3, padding=1, groups=3)
    c("no bias", (2, 3, 7), 2, 2, bias=False)
    c("batch of 3", (3, 2, 9), 4, 4)
    c("kernel covers the whole input", (2, 3, 5), 2, 5)
    c("stride 2 padding 3 dilation 3 groups 3 on 9", (2, 3, 9), 6, 2, stride=2, padding=3, dilation=3, groups=3)
    c("unbatched input (C, L)", (3, 7), 2, 3, padding=1)
    return w


# ---- pooling ----------------------------------------------------------------------------------


def pool_case(w, gen, name, fn, x_shape, params, kwargs, values="distinct"):
    x = (distinct(*x_shape, gen=gen) if values == "distinct" else randn(*x_shape, gen=gen)).requires_grad_()
    out = fn(x, **kwargs)
    gout = randn(*out.shape, gen=gen)
    (gx,) = grads(out, gout, [x])
    w.case(name, params, [("input", x), ("gout", gout), ("output", out), ("grad_input", gx)])


def pair(v):
    return None if v is None else (list(v) if isinstance(v, (tuple, list)) else [v, v])


@fw.family("max_pool2d")
def make_max_pool2d(gen):
    w = Writer("max_pool2d")

    def c(name, x_shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
        kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
        params = {"kernel": pair(kernel), "stride": pair(stride), "padding": pair(padding),
                  "dilation": pair(dilation), "ceil_mode": ceil_mode}
        pool_case(w, gen, name, F.max_pool2d, x_shape, params, kwargs)

    c("kernel 2 on 6x6", (2, 3, 6, 6), 2)
    c("kernel 2 on 7x5 (rows and columns dropped)", (1, 2, 7, 5), 2)
    c("kernel 3 stride 2 padding 1 on 7x9", (2, 2, 7, 9), 3, 2, 1)
    c("ceil_mode on 7x7 kernel 2", (1, 2, 7, 7), 2, ceil_mode=True)
    c("ceil_mode kernel 3 stride 2 on 8x6", (2, 2, 8, 6), 3, 2, ceil_mode=True)
    c("ceil_mode with padding 1 on 5x5 kernel 2 (last window dropped)", (1, 2, 5, 5), 2, 2, 1, ceil_mode=True)
    c("dilation 2 kernel 2 on 7x8", (2, 2, 7, 8), 2, 1, 0, 2)
    c("dilation 2 kernel 3 stride 2 padding 1 on 9x9", (1, 2, 9, 9), 3, 2, 1, 2)
    c("kernel (3,2) stride (2,1) padding (1,0) on 7x6", (2, 2, 7, 6), (3, 2), (2, 1), (1, 0))
    c("kernel (2,3) stride (1,2) dilation (2,1) on 6x9", (1, 3, 6, 9), (2, 3), (1, 2), 0, (2, 1))
    c("overlapping windows kernel 3 stride 1 on 6x6", (2, 2, 6, 6), 3, 1)
    c("overlapping windows kernel 3 stride 2 on 9x7", (1, 3, 9, 7), 3, 2)
    c("global window kernel (5,4) on 5x4", (3, 2, 5, 4), (5, 4))
    c("unbatched input (C, H, W)", (3, 6, 5), 2, 2)
    return w


@fw.family("avg_pool2d")
def make_avg_pool2d(gen):
    w = Writer("avg_pool2d")

    def c(name, x_shape, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                      count_include_pad=count_include_pad)
        params = {"kernel": pair(kernel), "stride": pair(stride), "padding": pair(padding), "ceil_mode": ceil_mode,
                  "count_include_pad": count_include_pad}
        pool_case(w, gen, name, F.avg_pool2d, x_shape, params, kwargs, values="randn")

    c("kernel 2 on 6x6", (2, 3, 6, 6), 2)
    c("kernel 2 on 7x5 (rows and columns dropped)", (1, 2, 7, 5), 2)
    c("kernel 3 stride 2 padding 1 count_include_pad on 7x9", (2, 2, 7, 9), 3, 2, 1)
    c("kernel 3 stride 2 padding 1 exclude pad on 7x9", (2, 2, 7, 9), 3, 2, 1, count_include_pad=False)
    c("ceil_mode kernel 2 on 7x7", (1, 2, 7, 7), 2, ceil_mode=True)
    c("ceil_mode kernel 3 stride 2 on 8x6", (2, 2, 8, 6), 3, 2, ceil_mode=True)
    c("ceil_mode padding 1 count_include_pad kernel 3 stride 2 on 6x8", (1, 2, 6, 8), 3, 2, 1, ceil_mode=True)
    c("ceil_mode padding 1 exclude pad kernel 3 stride 2 on 6x8", (1, 2, 6, 8), 3, 2, 1, ceil_mode=True,
      count_include_pad=False)
    c("ceil_mode with padding 1 on 5x5 kernel 2 (last window dropped)", (1, 2, 5, 5), 2, 2, 1, ceil_mode=True)
    c("kernel (3,2) stride (2,1) padding (1,0) on 7x6", (2, 2, 7, 6), (3, 2), (2, 1), (1, 0))
    c("kernel (2,3) stride (1,2) padding (1,1) exclude pad on 6x9", (1, 3, 6, 9), (2, 3), (1, 2), (1, 1),
      count_include_pad=False)
    c("overlapping windows kernel 3 stride 1 on 6x6", (2, 2, 6, 6), 3, 1)
    c("unbatched input (C, H, W)", (3, 6, 5), 2, 2)
    return w


# decorators apply bottom-up: the family nearest the def is registered (and seeded) first
@fw.family("adaptive_max_pool2d", "adaptive_max_pool2d")
@fw.family("adaptive_avg_pool2d", "adaptive_avg_pool2d")
def make_adaptive(gen, op):
    w = Writer(op)
    fn = F.adaptive_avg_pool2d if op == "adaptive_avg_pool2d" else F.adaptive_max_pool2d
    values = "randn" if op == "adaptive_avg_pool2d" else "distinct"

    def c(name, x_shape, size):
        pool_case(w, gen, name, fn, x_shape, {"output_size": pair(size)}, dict(output_size=size), values=values)

    c("output (1,1) global on 6x5", (2, 3, 6, 5), 1)
    c("output (2,3) on 7x5 (uneven windows)", (2, 2, 7, 5), (2, 3))
    c("output (3,2) on 7x5 (overlapping windows)", (2, 2, 7, 5), (3, 2))
    c("output same as input 5x6", (1, 3, 5, 6), (5, 6))
    c("output (4,3) on 8x6 (even split)", (1, 2, 8, 6), (4, 3))
    c("output (5,4) on 3x3 (larger than input)", (1, 2, 3, 3), (5, 4))
    c("output (1,3) on 4x7", (3, 1, 4, 7), (1, 3))
    c("unbatched input (C, H, W)", (3, 7, 5), (3, 2))
    return w


def main():
    return fw.run_seeded(__doc__, OUT_DIR, 20240, "tests/golden/make_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
