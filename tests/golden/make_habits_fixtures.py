#!/usr/bin/python3
"""Golden fixtures for tapegrad's PyTorch habits: indexing, index assignment, compound ops,
in-place ops on views, index_put_ with accumulate, and the habit modules (Softmax and
LogSoftmax with the implicit dim, AdaptiveMaxPool2d, Upsample, Unflatten, Sequential).

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden/make_habits_fixtures.py          # rewrites tests/golden/fixtures/habits_*.txt
    /usr/bin/python3 tests/golden/make_habits_fixtures.py --check  # exits 1 if the committed files differ

Same file format and writer as tests/golden/make_fixtures.py (read by tests/golden/fixtures.h).
Every case is named by the Python expression it computes; tests/core/test_tensor_habits.cpp,
tests/core/test_inplace_views.cpp (habits_inplace) and tests/nn/test_pytorch_habits.cpp
(habits_modules) write the same expression in tapegrad's spelling next to the case name. Each case holds the
inputs, the upstream gradient `gout`, the forward `output` and the gradients of
(output * gout).sum() with respect to each input (`grad_<input>`). Bool masks are stored as
float64 0/1 tensors (`mask`).
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from make_fixtures import OUT_DIR  # noqa: E402
import fixture_writer as fw  # noqa: E402  (the shared fixture format)


def HabitsWriter(op):
    return fw.Writer(fw.golden_header(op, "tests/golden/make_habits_fixtures.py"), write_none=True)


def randn(*shape, gen):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def record(w, gen, name, out, inputs):
    """inputs: list of (key, leaf tensor or None for a non-differentiable input such as a mask)."""
    gout = randn(*out.shape, gen=gen)
    leaves = [t for _, t in inputs if t is not None and t.requires_grad]
    grads = torch.autograd.grad((out * gout).sum(), leaves, allow_unused=True)
    tensors = [(k, t) for k, t in inputs]
    tensors += [("gout", gout), ("output", out)]
    it = iter(grads)
    for k, t in inputs:
        if t is not None and t.requires_grad:
            g = next(it)
            if g is not None:  # an input the case does not use has no gradient (and no line)
                tensors.append(("grad_" + k, g))
    w.case(name, {}, tensors)


MASK_3x4 = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=torch.bool)
MASK_4x5 = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [1, 1, 0, 0, 1]], dtype=torch.bool)


@fw.family("habits_index")
def make_index(gen):
    w = HabitsWriter("habits_index")
    reads = [
        ("x[1]", lambda x: x[1]),
        ("x[-1]", lambda x: x[-1]),
        ("x[:, 1:-1:2]", lambda x: x[:, 1:-1:2]),
        ("x[None, ..., 0]", lambda x: x[None, ..., 0]),
        ("x[..., ::2]", lambda x: x[..., ::2]),
        ("x[-2:, :, 1:100]", lambda x: x[-2:, :, 1:100]),
        ("x[1, :, [4, 0, 4]]", lambda x: x[1, :, [4, 0, 4]]),
        ("x[[0, 2], :, [1, 3]]", lambda x: x[[0, 2], :, [1, 3]]),
        ("x[:, [[0, 1], [2, 0]], [1, 3]]", lambda x: x[:, [[0, 1], [2, 0]], [1, 3]]),
        ("x[[2, -1, 0]]", lambda x: x[[2, -1, 0]]),
        ("x[None, [0, 2]]", lambda x: x[None, [0, 2]]),
        ("x[mask_3x4]", lambda x: x[MASK_3x4]),
        ("x[:, mask_4x5]", lambda x: x[:, MASK_4x5]),
    ]
    for name, fn in reads:
        x = randn(3, 4, 5, gen=gen).requires_grad_()
        record(w, gen, name, fn(x), [("x", x)])
    return w


@fw.family("habits_index_put")
def make_index_put(gen):
    w = HabitsWriter("habits_index_put")
    # y = x * 1 is an intermediate (a leaf that requires grad refuses in-place writes), then
    # y[...] = v; gradients flow to x (zero where overwritten) and to v (summed over broadcast).
    writes = [
        ("y[1] = v", (4, 5), lambda y, v: y.__setitem__(1, v)),
        ("y[:, 1:3] = v", (2, 5), lambda y, v: y.__setitem__((slice(None), slice(1, 3)), v)),
        ("y[..., 0] = 0.5", None, lambda y, v: y.__setitem__((Ellipsis, 0), 0.5)),
        ("y[[0, 2], :, [1, 3]] = v", (2, 4), lambda y, v: y.__setitem__(([0, 2], slice(None), [1, 3]), v)),
        ("y[mask_3x4] = v", (5,), lambda y, v: y.__setitem__(MASK_3x4, v)),
        ("y[:, [3, 0]] = v", (3, 2, 5), lambda y, v: y.__setitem__((slice(None), [3, 0]), v)),
        ("y[1, [0, 2], 1:4] = v", (1, 3), lambda y, v: y.__setitem__((1, [0, 2], slice(1, 4)), v)),
    ]
    for name, vshape, fn in writes:
        x = randn(3, 4, 5, gen=gen).requires_grad_()
        v = randn(*vshape, gen=gen).requires_grad_() if vshape is not None else None
        y = x * 1
        fn(y, v)
        record(w, gen, name, y, [("x", x)] + ([("v", v)] if v is not None else []))
    return w


@fw.family("habits_compound")
def make_compound(gen):
    w = HabitsWriter("habits_compound")

    def case(name, fn, b_shape=(3, 4)):
        a = randn(3, 4, gen=gen).requires_grad_()
        b = randn(*b_shape, gen=gen).requires_grad_()
        c = (torch.rand(*b_shape, generator=gen, dtype=torch.float64) + 0.5).requires_grad_()
        y = a * 2  # an intermediate: in-place ops on it are recorded
        fn(y, b, c)
        record(w, gen, name, y, [("a", a), ("b", b), ("c", c)])

    def iadd(y, b, c):
        y += b

    def isub(y, b, c):
        y -= b

    def imul(y, b, c):
        y *= b

    def idiv(y, b, c):
        y /= c

    def scalars(y, b, c):
        y += 2
        y -= 0.5
        y *= 3
        y /= 4

    def chain(y, b, c):
        y *= b
        y += c
        y /= c
        y -= b

    case("y += b", iadd)
    case("y -= b", isub)
    case("y *= b", imul)
    case("y /= c", idiv)
    case("y += 2; y -= 0.5; y *= 3; y /= 4", scalars)
    case("y *= b; y += c; y /= c; y -= b", chain)
    case("y += b (b of shape [4])", iadd, (4,))
    case("y /= c (c of shape [4])", idiv, (4,))
    return w


MASK_3x2 = torch.tensor([[1, 0], [0, 1], [1, 1]], dtype=torch.bool)


@fw.family("habits_inplace")
def make_inplace(gen):
    """In-place ops on views of an intermediate (y = x * 1, or zeros), and index_put_ with
    accumulate. Each case gives y (or `out` when the name says out = ...) and the gradients of
    (output * gout).sum()."""
    w = HabitsWriter("habits_inplace")

    def case(name, fn, shapes, x_shape=(3, 4)):
        x = randn(*x_shape, gen=gen).requires_grad_()
        args = {}
        for k, shape in shapes.items():
            t = randn(*shape, gen=gen)
            if k.startswith("c"):  # a divisor: away from zero
                t = t.abs() + 0.5
            args[k] = t.requires_grad_()
        y = x * 1
        out = fn(y, **args)  # an in-place op returns its view; the case compares the base y
        record(w, gen, name, out if "out =" in name else y, [("x", x)] + list(args.items()))

    def issue(y):  # the example of issue 10
        y.transpose(0, 1).mul_(2)
        y[0].relu_()

    def view_of_view(y, w):
        v = y[1:]
        v[0].add_(w)

    def compound(y, w, c):
        y[0] += w
        y[:, 1] -= c
        y[2] /= c[2]
        y[1:, 2:] *= 3

    def copy_fill(y, w):
        y[1].copy_(w)
        y[:, 0].fill_(3)
        y[2].zero_()

    def base_then_view(y, w):
        v = y[0]
        y.mul_(2)
        return v * w

    def view_then_base(y, w):
        v = y[:, 1:3]
        v.mul_(w)
        y.add_(1)
        return torch.cat([y.flatten(), v.flatten()])

    case("y.transpose(0, 1).mul_(2); y[0].relu_()", issue, {})
    case("y[:, 1].mul_(w)", lambda y, w: y[:, 1].mul_(w), {"w": (3,)})
    case("v = y[1:]; v[0].add_(w)", view_of_view, {"w": (4,)})
    case("y.t()[1:3].leaky_relu_(0.2)", lambda y: torch.nn.functional.leaky_relu_(y.t()[1:3], 0.2), {})
    case("y[:, ::2].masked_fill_(mask_3x2, 0.5)", lambda y: y[:, ::2].masked_fill_(MASK_3x2, 0.5), {})
    case("y[1:, 1:3].clamp_(-0.5, 0.5)", lambda y: y[1:, 1:3].clamp_(-0.5, 0.5), {})
    case("y[0] += w; y[:, 1] -= c; y[2] /= c[2]; y[1:, 2:] *= 3", compound, {"w": (4,), "c": (3,)})
    case("y[1].copy_(w); y[:, 0].fill_(3); y[2].zero_()", copy_fill, {"w": (4,)})
    case("y.view(-1)[::5].mul_(w)", lambda y, w: y.view(-1)[::5].mul_(w), {"w": (3,)})
    case("y.permute(2, 0, 1)[1].sub_(w)", lambda y, w: y.permute(2, 0, 1)[1].sub_(w), {"w": (2, 3)}, (2, 3, 4))
    case("y[1][[0, 2]] = w", lambda y, w: y[1].__setitem__([0, 2], w), {"w": (2,)})
    case("v = y[0]; y.mul_(2); out = v * w", base_then_view, {"w": (4,)})
    case("v = y[:, 1:3]; v.mul_(w); y.add_(1); out = cat(y, v)", view_then_base, {"w": (2,)})

    # A base that does not require grad: the in-place ops on its views give it a history.
    a = randn(4, gen=gen).requires_grad_()
    b = randn(3, gen=gen).requires_grad_()
    y = torch.zeros(3, 4, dtype=torch.float64)
    y[1].copy_(a)
    y[:, 2].mul_(b)
    record(w, gen, "y = zeros(3, 4); y[1].copy_(a); y[:, 2].mul_(b)", y, [("a", a), ("b", b)])

    # index_put_ with accumulate: repeated indices add up, forward and backward.
    rows = torch.tensor([0, 2, 0])
    cols = torch.tensor([1, 3, 1])
    case("y.index_put_((rows,), w, accumulate=True)",
         lambda y, w: y.index_put_((rows,), w, accumulate=True), {"w": (3, 4)})
    case("y.index_put_((rows, cols), w, accumulate=True)",
         lambda y, w: y.index_put_((rows, cols), w, accumulate=True), {"w": (3,)})
    case("y.index_put_((rows, cols), 1.5, accumulate=True)",
         lambda y: y.index_put_((rows, cols), torch.tensor(1.5, dtype=torch.float64), accumulate=True), {})
    case("y[1:].index_put_((rows // 2, cols), w, accumulate=True)",
         lambda y, w: y[1:].index_put_((rows // 2, cols), w, accumulate=True), {"w": (3,)})
    return w


@fw.family("habits_modules")
def make_modules(gen):
    """The habit modules: each case gives the module's output for x and the gradients of
    (output * gout).sum() for x and for the module's parameters (named by state-dict key)."""
    import collections
    import warnings

    nn = torch.nn
    w = HabitsWriter("habits_modules")

    def case(name, module, x_shape, params=True):
        x = randn(*x_shape, gen=gen).requires_grad_()
        module = module.double()
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(randn(*p.shape, gen=gen))
        with warnings.catch_warnings():  # the implicit softmax dim warns
            warnings.simplefilter("ignore")
            out = module(x)
        record(w, gen, name, out, [("x", x)] + list(module.named_parameters()))

    case("nn.Softmax()(x), x of shape [2, 3, 4]", nn.Softmax(), (2, 3, 4))
    case("nn.Softmax()(x), x of shape [3, 4]", nn.Softmax(), (3, 4))
    case("nn.LogSoftmax()(x), x of shape [2, 3, 4, 2]", nn.LogSoftmax(), (2, 3, 4, 2))
    case("nn.LogSoftmax()(x), x of shape [5]", nn.LogSoftmax(), (5,))
    case("nn.AdaptiveMaxPool2d((3, 2))(x)", nn.AdaptiveMaxPool2d((3, 2)), (2, 3, 7, 5))
    case("nn.AdaptiveMaxPool2d((4, 4))(x)", nn.AdaptiveMaxPool2d((4, 4)), (1, 2, 9, 6))
    case("nn.Upsample(scale_factor=2)(x)", nn.Upsample(scale_factor=2), (1, 2, 3, 4))
    case("nn.Upsample(size=(5, 7))(x)", nn.Upsample(size=(5, 7)), (1, 2, 3, 4))
    case("nn.Upsample(scale_factor=1.5)(x)", nn.Upsample(scale_factor=1.5), (2, 1, 3, 5))
    case("nn.Upsample(scale_factor=2, mode='bilinear')(x)", nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4))
    case("nn.Upsample(size=(5, 7), mode='bilinear')(x)", nn.Upsample(size=(5, 7), mode="bilinear"), (1, 2, 3, 4))
    case("nn.Upsample(size=(5, 7), mode='bilinear', align_corners=True)(x)",
         nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), (1, 2, 3, 4))
    case("nn.Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)(x)",
         nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True), (2, 1, 3, 5))
    case("nn.Unflatten(1, (3, -1))(x)", nn.Unflatten(1, (3, -1)), (2, 12))
    case("nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))(x)",
         nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), (5, 4))
    named = collections.OrderedDict([("fc1", nn.Linear(4, 3)), ("act", nn.Tanh()), ("fc2", nn.Linear(3, 2))])
    case("nn.Sequential(OrderedDict(fc1=nn.Linear(4, 3), act=nn.Tanh(), fc2=nn.Linear(3, 2)))(x)",
         nn.Sequential(named), (5, 4))
    return w


def main():
    return fw.run_seeded(__doc__, OUT_DIR, 31410, "tests/golden/make_habits_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
