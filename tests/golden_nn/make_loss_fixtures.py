#!/usr/bin/python3
"""Golden fixtures for tapegrad's losses (tg::nn::functional), computed with PyTorch.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_nn/make_loss_fixtures.py          # rewrites tests/golden_nn/fixtures/*.txt
    /usr/bin/python3 tests/golden_nn/make_loss_fixtures.py --check  # exits 1 if the committed files differ

The output is deterministic (fixed seeds, float64, one thread): re-running the script
reproduces the committed files byte for byte. tests/nn/test_loss.cpp reads them through the
header-only loader tests/support/fixtures.h, so running the tests does not need PyTorch.

File format (one file per loss, tests/golden_nn/fixtures/<loss>.txt), line based:

    # comment                          (ignored, also blank lines)
    case <name>                        starts a case; the name is the rest of the line
    param <key> <token>                an option: a word (reduction none|mean|sum|batchmean)
                                         or a number (ignore_index, label_smoothing, beta,
                                         log_target 0|1), printed with %.17g
    tensor <key> <ndim> <dim> ...      a float64 tensor; its numel values follow on the next
    <v> <v> ...                          lines, at most 6 per line, printed with %.17g
    index <key> <ndim> <dim> ...       an int64 tensor (class indices), values as above
    end                                closes the case

Every case holds the inputs (`input`, `target`, and `weight` / `pos_weight` when the case uses
them), the upstream gradient `gout` (fixed random, of the loss's shape: 0-d for mean, sum and
batchmean), the loss `loss`, and the gradients of (loss * gout).sum(): `grad_input` always,
`grad_target` where the target is differentiable (probability targets of cross_entropy, mse,
l1, smooth_l1, binary_cross_entropy, binary_cross_entropy_with_logits, kl_div). Class weights
and pos_weight are constants: no gradient is written for them. Options that are not written
take the loss's default.
"""

import os
import sys
import warnings

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
REDUCTIONS = ("none", "mean", "sum")


def Writer(op):
    return fw.Writer(fw.golden_header(op, "tests/golden_nn/make_loss_fixtures.py"), finite=True)


def randn(*shape, gen, scale=1.0):
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64) * scale


def rand(*shape, gen, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(tuple(shape), generator=gen, dtype=torch.float64)


def labels(c, *shape, gen):
    return torch.randint(0, c, shape, generator=gen, dtype=torch.int64)


def probabilities(*shape, gen, dim=1):
    return torch.softmax(randn(*shape, gen=gen, scale=1.5), dim=dim)


def loss_case(w, gen, name, fn, params, inputs, differentiable_target):
    """inputs: dict with input, target, optionally weight / pos_weight. Computes the loss and
    the gradients of (loss * gout).sum() with respect to input (and target)."""
    x = inputs["input"].clone().requires_grad_()
    t = inputs["target"].clone()
    if differentiable_target:
        t.requires_grad_()
    out = fn(x, t)
    gout = randn(*out.shape, gen=gen)
    leaves = [x, t] if differentiable_target else [x]
    gs = torch.autograd.grad((out * gout).sum(), leaves)
    tensors = [("input", x), ("target", t)]
    for key in ("weight", "pos_weight"):
        if inputs.get(key) is not None:
            tensors.append((key, inputs[key]))
    tensors += [("gout", gout), ("loss", out), ("grad_input", gs[0])]
    if differentiable_target:
        tensors.append(("grad_target", gs[1]))
    w.case(name, params, tensors)


def loss_kwargs(reduction, **options):
    """The keyword arguments of a torch loss: the reduction and each option that is not None."""
    kw = {"reduction": reduction}
    kw.update((key, value) for key, value in options.items() if value is not None)
    return kw


# ---- cross_entropy and nll_loss -----------------------------------------------------------------


@fw.family("cross_entropy")
def make_cross_entropy(gen):
    w = Writer("cross_entropy")
    N, C = 4, 5

    def case(name, x, t, weight=None, ignore_index=None, label_smoothing=None):
        prob = t.dtype == torch.float64
        for red in REDUCTIONS:
            kw = loss_kwargs(red, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
            params = {"reduction": red, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
            loss_case(w, gen, "%s, %s" % (name, red), lambda a, b: F.cross_entropy(a, b, **kw), params,
                      {"input": x, "target": t, "weight": weight}, prob)

    x = randn(N, C, gen=gen, scale=2.0)
    t = labels(C, N, gen=gen)
    wt = rand(C, gen=gen, lo=0.2, hi=2.0)
    case("indices", x, t)
    case("indices with weight", x, t, weight=wt)
    t_ign = torch.tensor([1, -100, 4, -100], dtype=torch.int64)
    case("indices with ignore_index -100", x, t_ign)
    t_ign2 = torch.tensor([2, 0, 2, 3], dtype=torch.int64)
    case("indices with ignore_index 2 (a class)", x, t_ign2, ignore_index=2)
    case("indices with label_smoothing 0.1", x, t, label_smoothing=0.1)
    case("indices with label_smoothing 1", x, t, label_smoothing=1.0)
    case("indices with label_smoothing 0.2, weight, ignore_index", x, t_ign, weight=wt, label_smoothing=0.2)
    case("indices with label_smoothing 0.3, ignore_index 2", x, t_ign2, ignore_index=2, label_smoothing=0.3)

    p = probabilities(N, C, gen=gen)
    case("probabilities", x, p)
    case("probabilities with weight", x, p, weight=wt)
    case("probabilities with label_smoothing 0.15", x, p, label_smoothing=0.15)
    case("probabilities with label_smoothing 0.25 and weight", x, p, weight=wt, label_smoothing=0.25)
    case("probabilities not normalised", x, rand(N, C, gen=gen))

    xk = randn(2, C, 3, gen=gen, scale=2.0)
    tk = labels(C, 2, 3, gen=gen)
    tk[1, 1] = -100
    case("K-dim [2,5,3] indices", xk, labels(C, 2, 3, gen=gen))
    case("K-dim [2,5,3] indices with weight, ignore_index, label_smoothing 0.1", xk, tk, weight=wt,
         label_smoothing=0.1)
    case("K-dim [2,5,3] probabilities with weight", xk, probabilities(2, C, 3, gen=gen), weight=wt)
    x4 = randn(2, 3, 2, 2, gen=gen)
    case("K-dim [2,3,2,2] indices with label_smoothing 0.05", x4, labels(3, 2, 2, 2, gen=gen), label_smoothing=0.05)
    x1 = randn(C, gen=gen)
    case("unbatched [5] index", x1, torch.tensor(3, dtype=torch.int64))
    case("unbatched [5] probabilities with weight", x1, probabilities(C, gen=gen, dim=0), weight=wt)
    # Large logits, exact in float32 too (multiples of 1/4 near 1e4): a naive exp overflows.
    big = 1e4 + 0.25 * torch.randint(-40, 40, (N, C), generator=gen).to(torch.float64)
    big[0, 0] = -1e4
    case("large logits near 1e4", big, t, weight=wt, label_smoothing=0.1)
    return w


@fw.family("nll_loss")
def make_nll_loss(gen):
    w = Writer("nll_loss")
    N, C = 5, 4

    def case(name, x, t, weight=None, ignore_index=None):
        for red in REDUCTIONS:
            kw = loss_kwargs(red, weight=weight, ignore_index=ignore_index)
            params = {"reduction": red, "ignore_index": ignore_index}
            loss_case(w, gen, "%s, %s" % (name, red), lambda a, b: F.nll_loss(a, b, **kw), params,
                      {"input": x, "target": t, "weight": weight}, False)

    x = torch.log_softmax(randn(N, C, gen=gen, scale=2.0), 1)
    t = labels(C, N, gen=gen)
    wt = rand(C, gen=gen, lo=0.2, hi=2.0)
    t_ign = torch.tensor([0, -100, 3, 3, -100], dtype=torch.int64)
    case("plain", x, t)
    case("weight", x, t, weight=wt)
    case("ignore_index -100", x, t_ign)
    case("ignore_index 3 (a class)", x, t, ignore_index=3)
    case("weight and ignore_index", x, t_ign, weight=wt)
    case("input not normalised", randn(N, C, gen=gen), t, weight=wt)
    xk = torch.log_softmax(randn(2, C, 3, gen=gen), 1)
    tk = labels(C, 2, 3, gen=gen)
    tk[0, 2] = -100
    case("K-dim [2,4,3]", xk, labels(C, 2, 3, gen=gen))
    case("K-dim [2,4,3] weight and ignore_index", xk, tk, weight=wt)
    case("unbatched [4]", torch.log_softmax(randn(C, gen=gen), 0), torch.tensor(1, dtype=torch.int64), weight=wt)
    return w


# ---- regression ---------------------------------------------------------------------------------


def make_regression(op, fn, extra):
    def make(gen):
        w = Writer(op)
        for name, kw in extra:
            for shape in ((3, 4), (2, 3, 2)):
                x = randn(*shape, gen=gen)
                t = randn(*shape, gen=gen)
                for red in REDUCTIONS:
                    params = dict(kw, reduction=red)
                    loss_case(w, gen, "%s%s, %s" % (name, list(shape), red),
                              lambda a, b: fn(a, b, reduction=red, **kw), params, {"input": x, "target": t}, True)
        return w
    return make


make_mse_loss = fw.family("mse_loss")(make_regression("mse_loss", F.mse_loss, [("", {})]))
make_l1_loss = fw.family("l1_loss")(make_regression("l1_loss", F.l1_loss, [("", {})]))
make_smooth_l1_loss = fw.family("smooth_l1_loss")(make_regression("smooth_l1_loss", F.smooth_l1_loss,
                                      [("beta 1 ", {"beta": 1.0}), ("beta 0.5 ", {"beta": 0.5}),
                                       ("beta 2.5 ", {"beta": 2.5})]))


# ---- binary cross-entropy -----------------------------------------------------------------------


@fw.family("binary_cross_entropy")
def make_binary_cross_entropy(gen):
    w = Writer("binary_cross_entropy")
    N, C = 4, 3
    x = rand(N, C, gen=gen, lo=0.02, hi=0.98)
    soft = rand(N, C, gen=gen)
    hard = torch.randint(0, 2, (N, C), generator=gen).to(torch.float64)
    for name, t, weight in (("soft targets", soft, None), ("hard targets", hard, None),
                            ("weight [4,3]", soft, rand(N, C, gen=gen, lo=0.5, hi=2.0)),
                            ("weight [3] broadcast", hard, rand(C, gen=gen, lo=0.5, hi=2.0))):
        for red in REDUCTIONS:
            kw = {"reduction": red, "weight": weight}
            loss_case(w, gen, "%s, %s" % (name, red), lambda a, b: F.binary_cross_entropy(a, b, **kw),
                      {"reduction": red}, {"input": x, "target": t, "weight": weight}, True)
    return w


@fw.family("binary_cross_entropy_with_logits")
def make_binary_cross_entropy_with_logits(gen):
    w = Writer("binary_cross_entropy_with_logits")
    N, C = 4, 3
    x = randn(N, C, gen=gen, scale=3.0)
    x[0, 0] = 0.0
    t = rand(N, C, gen=gen)
    pw = rand(C, gen=gen, lo=0.5, hi=3.0)
    wt = rand(N, C, gen=gen, lo=0.5, hi=2.0)
    big = randn(N, C, gen=gen, scale=300.0)
    for name, xx, weight, pos_weight in (("plain", x, None, None), ("pos_weight [3]", x, None, pw),
                                         ("weight [4,3]", x, wt, None), ("weight and pos_weight", x, wt, pw),
                                         ("large logits with pos_weight", big, None, pw)):
        for red in REDUCTIONS:
            kw = {"reduction": red, "weight": weight, "pos_weight": pos_weight}
            loss_case(w, gen, "%s, %s" % (name, red), lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw),
                      {"reduction": red}, {"input": xx, "target": t, "weight": weight, "pos_weight": pos_weight},
                      True)
    return w


# ---- kl_div -------------------------------------------------------------------------------------


@fw.family("kl_div")
def make_kl_div(gen):
    w = Writer("kl_div")
    N, C = 3, 4
    x = torch.log_softmax(randn(N, C, gen=gen), 1)
    p = probabilities(N, C, gen=gen)
    p_zero = p.clone()
    p_zero[0, 1] = 0.0
    p_zero[2, 3] = 0.0
    logp = torch.log_softmax(randn(N, C, gen=gen), 1)
    x3 = torch.log_softmax(randn(2, 3, 2, gen=gen), 1)
    p3 = probabilities(2, 3, 2, gen=gen)
    for red in REDUCTIONS + ("batchmean",):
        for name, xx, t, log_target, diff_t in (("probabilities", x, p, False, True),
                                                ("probabilities with zeros", x, p_zero, False, False),
                                                ("log_target", x, logp, True, True),
                                                ("[2,3,2] probabilities", x3, p3, False, True),
                                                ("[2,3,2] log_target", x3, torch.log(p3), True, True)):
            loss_case(w, gen, "%s, %s" % (name, red),
                      lambda a, b: F.kl_div(a, b, reduction=red, log_target=log_target),
                      {"reduction": red, "log_target": log_target}, {"input": xx, "target": t}, diff_t)
    return w


def main():
    warnings.filterwarnings("ignore", message="reduction: 'mean' divides")  # kl_div's mean is meant
    return fw.run_seeded(__doc__, OUT_DIR, 4040, "tests/golden_nn/make_loss_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
