#!/usr/bin/python3
"""Golden fixtures for tapegrad's nn modules (Linear ... LSTM, GRU and their cells), computed
with PyTorch modules holding the same weights.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_modules/make_module_fixtures.py          # rewrites fixtures/*.txt
    /usr/bin/python3 tests/golden_modules/make_module_fixtures.py --check  # exits 1 if they differ

The output is deterministic (fixed seeds, float64, one thread): re-running the script
reproduces the committed files byte for byte. tests/nn/test_golden_modules.cpp reads them through the
header-only loader tests/support/fixtures.h, so running the tests does not need
PyTorch.

File format (one file per module family, tests/golden_modules/fixtures/<family>.txt), line based:

    # comment                          (ignored, also blank lines)
    case <name>                        starts a case; the name is the rest of the line
    param <key> <number> ...           a module option or flag (in_features, bias 0|1, eps, ...)
    names <key> <word> ...             an ordered list of names: `params` (named_parameters()
                                         keys, in order) and `state` (state_dict() keys, in order)
    tensor <key> <ndim> <dim> ...      a float64 tensor; its numel values follow on the next
    <v> <v> ...                          lines, at most 6 per line, printed with %.17g
    index <key> <ndim> <dim> ...       an int64 tensor (indices, lengths, num_batches_tracked)
    end                                closes the case

Keys of the tensors of a case:

    state.<k>       every entry of the module's state_dict (PyTorch's key k), before the forward
    input, input1, input2, h0, c0      the inputs (h0/c0 only for cases with an initial state)
    lengths         int64 [B], for RNN cases run on packed sequences
    output, h_n, c_n                   the outputs (a cell's are h_n and c_n)
    gout, gh, gc    fixed random upstream gradients, of the shapes of output, h_n, c_n
    grad.<x>        the gradient of  L = (output*gout).sum() [+ (h_n*gh).sum() + (c_n*gc).sum()]
                      with respect to input x (input, input1, input2, h0, c0) and to every
                      parameter p (grad.<p>, with p a named_parameters() key)
    after.<k>       a state entry after the forward (batch norm in training: running_mean,
                      running_var, num_batches_tracked; embedding with max_norm: weight)

Parameters are PyTorch's default initialisation under a fixed seed, except where a default
would make the test weak (layer and batch norm weights and biases, running statistics, an
embedding's padding row): those are set to random values.
"""

import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
from fixture_writer import randn  # noqa: E402


def Writer(family, script="tests/golden_modules/make_module_fixtures.py"):
    return fw.Writer(fw.golden_header(family, script))


def randomize(module, *names):
    """Overwrites the named parameters or buffers with random values (variances positive)."""
    with torch.no_grad():
        for n in names:
            t = getattr(module, n)
            if n == "running_var":
                t.copy_(torch.rand(t.shape, dtype=torch.float64) + 0.5)
            else:
                t.copy_(randn(*t.shape))


def run_case(w, name, params, module, inputs, forward, after=()):
    """Records module's state, runs forward(module, **inputs) -> list of (key, output, gkey),
    and the gradients of sum((output * g).sum()) w.r.t. the float inputs and every parameter."""
    fw.record_module(w, name, params, module, inputs, lambda **leaves: forward(module, **leaves), after=after)


def single(module, input):
    return [("output", module(input), "gout")]


# ---- feed-forward modules ------------------------------------------------------------------------


@fw.family("linear")
def make_linear():
    w = Writer("linear")
    for name, i, o, bias, shape in [
        ("2-D input with bias", 4, 3, True, (5, 4)),
        ("2-D input without bias", 4, 3, False, (5, 4)),
        ("3-D input with bias", 5, 2, True, (2, 3, 5)),
        ("3-D input without bias", 3, 4, False, (2, 2, 3)),
        ("1-D input", 4, 3, True, (4,)),
    ]:
        m = nn.Linear(i, o, bias=bias).double()
        run_case(w, name, {"in_features": i, "out_features": o, "bias": bias}, m, {"input": randn(*shape)}, single)
    return w


@fw.family("bilinear")
def make_bilinear():
    w = Writer("bilinear")
    for name, i1, i2, o, bias, batch in [
        ("2-D inputs with bias", 3, 4, 2, True, (5,)),
        ("2-D inputs without bias", 2, 3, 4, False, (3,)),
        ("3-D inputs", 3, 2, 3, True, (2, 3)),
    ]:
        m = nn.Bilinear(i1, i2, o, bias=bias).double()
        inputs = {"input1": randn(*batch, i1), "input2": randn(*batch, i2)}
        run_case(w, name, {"in1_features": i1, "in2_features": i2, "out_features": o, "bias": bias}, m, inputs,
                 lambda m, input1, input2: [("output", m(input1, input2), "gout")])
    return w


@fw.family("embedding")
def make_embedding():
    w = Writer("embedding")
    idx = torch.tensor([[1, 3, 3, 0], [7, 1, 1, 1], [2, 0, 5, 3]])
    for name, padding_idx, max_norm in [
        ("repeated indices", None, None),
        ("padding_idx 1 (its row gets no gradient)", 1, None),
        ("negative padding_idx -1 (row 7)", -1, None),
        ("max_norm 1.5 renormalises the rows looked up", None, 1.5),
    ]:
        m = nn.Embedding(8, 3, padding_idx=padding_idx, max_norm=max_norm).double()
        randomize(m, "weight")  # also makes the padding row non-zero: its lookups must still return it
        params = {"num_embeddings": 8, "embedding_dim": 3}
        if padding_idx is not None:
            params["padding_idx"] = padding_idx
        if max_norm is not None:
            params["max_norm"] = max_norm
        run_case(w, name, params, m, {"input": idx}, single, after=["weight"] if max_norm else [])
    return w


@fw.family("layer_norm")
def make_layer_norm():
    w = Writer("layer_norm")
    for name, shape, normalized, affine, eps in [
        ("normalized_shape of 1 dim on (2, 3, 5)", (2, 3, 5), [5], True, 1e-5),
        ("normalized_shape of 2 dims on (2, 3, 4, 5)", (2, 3, 4, 5), [4, 5], True, 1e-5),
        ("elementwise_affine false", (3, 6), [6], False, 1e-5),
        ("eps 0.1 and 2 dims", (4, 2, 3), [2, 3], True, 0.1),
    ]:
        m = nn.LayerNorm(normalized, eps=eps, elementwise_affine=affine).double()
        if affine:
            randomize(m, "weight", "bias")
        params = {"normalized_shape": normalized, "elementwise_affine": affine, "eps": eps}
        run_case(w, name, params, m, {"input": randn(*shape)}, single)
    return w


@fw.family("batch_norm")
def make_batch_norm():
    w = Writer("batch_norm")
    for name, dims, shape, train, kw in [
        ("BatchNorm1d on (N, C) train", 1, (6, 3), True, {}),
        ("BatchNorm1d on (N, C, L) train", 1, (4, 3, 5), True, {}),
        ("BatchNorm2d train", 2, (3, 2, 4, 3), True, {}),
        ("BatchNorm2d train momentum 0.25 eps 0.001", 2, (2, 3, 3, 3), True, {"momentum": 0.25, "eps": 1e-3}),
        ("BatchNorm1d train affine false", 1, (5, 4), True, {"affine": False}),
        ("BatchNorm1d on (N, C) eval", 1, (6, 3), False, {}),
        ("BatchNorm1d on (N, C, L) eval", 1, (4, 3, 5), False, {}),
        ("BatchNorm2d eval", 2, (3, 2, 4, 3), False, {}),
        ("BatchNorm2d eval track_running_stats false uses batch statistics", 2, (2, 3, 3, 2), False,
         {"track_running_stats": False}),
    ]:
        cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        c = shape[1]
        m = cls(c, **kw).double()
        if m.affine:
            randomize(m, "weight", "bias")
        if m.track_running_stats:
            randomize(m, "running_mean", "running_var")
            m.num_batches_tracked.fill_(3)
        m.train(train)
        params = {"dims": dims, "num_features": c, "training": train, "eps": m.eps, "momentum": m.momentum,
                  "affine": m.affine, "track_running_stats": m.track_running_stats}
        after = ["running_mean", "running_var", "num_batches_tracked"] if m.track_running_stats else []
        run_case(w, name, params, m, {"input": randn(*shape)}, single, after=after)
    return w


@fw.family("conv2d")
def make_conv2d():
    w = Writer("conv2d")
    for name, shape, o, k, kw in [
        ("3x3 padding 1", (2, 3, 5, 5), 4, 3, {"padding": 1}),
        ("stride 2 padding (1, 0) kernel (3, 2)", (2, 2, 7, 6), 3, (3, 2), {"stride": 2, "padding": (1, 0)}),
        ("groups 2 dilation 2 no bias", (1, 4, 7, 7), 6, 3, {"groups": 2, "dilation": 2, "bias": False}),
        ("stride (1, 2) groups 3 (depthwise)", (2, 3, 5, 6), 3, 2, {"stride": (1, 2), "groups": 3}),
    ]:
        m = nn.Conv2d(shape[1], o, k, **kw).double()
        pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]  # noqa: E731
        params = {"in_channels": shape[1], "out_channels": o, "kernel_size": pair(k),
                  "stride": pair(kw.get("stride", 1)), "padding": pair(kw.get("padding", 0)),
                  "dilation": pair(kw.get("dilation", 1)), "groups": kw.get("groups", 1), "bias": kw.get("bias", True)}
        run_case(w, name, params, m, {"input": randn(*shape)}, single)
    return w


@fw.family("sequential")
def make_sequential():
    w = Writer("sequential")
    m = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    run_case(w, "Linear-ReLU-Linear", {}, m, {"input": randn(6, 4)}, single)
    return w


# ---- recurrent modules ---------------------------------------------------------------------------

T, B, I, H = 5, 3, 4, 3
LENGTHS = [3, 5, 1]  # unsorted, one full and one of a single step


def rnn_forward(lstm, batch_first, with_state, with_lengths):
    def forward(m, input, h0=None, c0=None, lengths=None):
        state = None
        if with_state:
            state = (h0, c0) if lstm else h0
        if with_lengths:
            packed = pack_padded_sequence(input, lengths, batch_first=batch_first, enforce_sorted=False)
            out, hn = m(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=input.shape[1 if batch_first else 0])
        else:
            out, hn = m(input, state)
        outs = [("output", out, "gout")]
        if lstm:
            outs += [("h_n", hn[0], "gh"), ("c_n", hn[1], "gc")]
        else:
            outs += [("h_n", hn, "gh")]
        return outs
    return forward


def rnn_case(w, lstm, name, layers, bidirectional, batch_first, with_state, with_lengths, bias=True, unbatched=False):
    cls = nn.LSTM if lstm else nn.GRU
    m = cls(I, H, num_layers=layers, bias=bias, batch_first=batch_first, dropout=0.0,
            bidirectional=bidirectional).double()
    D = 2 if bidirectional else 1
    if unbatched:
        x = randn(T, I)
        state_shape = (layers * D, H)
    else:
        x = randn(B, T, I) if batch_first else randn(T, B, I)
        state_shape = (layers * D, B, H)
    inputs = {"input": x}
    if with_state:
        inputs["h0"] = randn(*state_shape)
        if lstm:
            inputs["c0"] = randn(*state_shape)
    if with_lengths:
        inputs["lengths"] = torch.tensor(LENGTHS, dtype=torch.int64)
    params = {"input_size": I, "hidden_size": H, "num_layers": layers, "bidirectional": bidirectional,
              "batch_first": batch_first, "bias": bias}
    run_case(w, name, params, m, inputs, rnn_forward(lstm, batch_first, with_state, with_lengths))


# decorators apply bottom-up: the family nearest the def is registered (and seeded) first
@fw.family("gru", False)
@fw.family("lstm", True)
def make_rnn(lstm):
    w = Writer("lstm" if lstm else "gru")
    for layers in (1, 2):
        for bidirectional in (False, True):
            for batch_first in (False, True):
                for with_state in (False, True):
                    for with_lengths in (False, True):
                        name = "%d layer%s %s batch_first %s, %s, %s" % (
                            layers, "s" if layers > 1 else "", "bidirectional" if bidirectional else "unidirectional",
                            "true" if batch_first else "false",
                            "initial state" if with_state else "zero state",
                            "lengths %s" % " ".join(map(str, LENGTHS)) if with_lengths else "full length")
                        rnn_case(w, lstm, name, layers, bidirectional, batch_first, with_state, with_lengths)
    rnn_case(w, lstm, "2 layers bidirectional no bias, initial state", 2, True, False, True, False, bias=False)
    rnn_case(w, lstm, "unbatched 2 layers bidirectional, initial state", 2, True, False, True, False, unbatched=True)
    rnn_case(w, lstm, "unbatched 1 layer, zero state", 1, False, False, False, False, unbatched=True)
    return w


# decorators apply bottom-up: the family nearest the def is registered (and seeded) first
@fw.family("gru_cell", False)
@fw.family("lstm_cell", True)
def make_cell(lstm):
    w = Writer("lstm_cell" if lstm else "gru_cell")
    for name, bias, with_state, batched in [
        ("with state", True, True, True),
        ("without state", True, False, True),
        ("no bias with state", False, True, True),
        ("unbatched with state", True, True, False),
    ]:
        m = (nn.LSTMCell if lstm else nn.GRUCell)(I, H, bias=bias).double()
        lead = (B,) if batched else ()
        inputs = {"input": randn(*lead, I)}
        if with_state:
            inputs["h0"] = randn(*lead, H)
            if lstm:
                inputs["c0"] = randn(*lead, H)

        def forward(m, input, h0=None, c0=None):
            if lstm:
                h, c = m(input, (h0, c0) if with_state else None)
                return [("h_n", h, "gh"), ("c_n", c, "gc")]
            return [("h_n", m(input, h0), "gh")]

        run_case(w, name, {"input_size": I, "hidden_size": H, "bias": bias}, m, inputs, forward)
    return w


# ---- driver --------------------------------------------------------------------------------------

def main():
    return fw.run_makers(__doc__, OUT_DIR, fw.families(), 1000, "tests/golden_modules/make_module_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
