#!/usr/bin/python3
"""Golden fixtures for tapegrad's PyTorch habits: indexing, index assignment and compound ops.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden/make_habits_fixtures.py          # rewrites tests/golden/fixtures/habits_*.txt
    /usr/bin/python3 tests/golden/make_habits_fixtures.py --check  # exits 1 if the committed files differ

Same file format and writer as tests/golden/make_fixtures.py (read by tests/golden/fixtures.h).
Every case is named by the Python expression it computes; tests/core/test_tensor_habits.cpp
writes the same expression in tapegrad's spelling next to the case name. Each case holds the
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


MAKERS = [
    ("habits_index", make_index),
    ("habits_index_put", make_index_put),
    ("habits_compound", make_compound),
]


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    def maker(i, make):
        return lambda: make(torch.Generator().manual_seed(31410 + i)).text_out()

    files = [(op + ".txt", maker(i, make)) for i, (op, make) in enumerate(MAKERS)]
    return fw.main(__doc__, OUT_DIR, files, "tests/golden/make_habits_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
