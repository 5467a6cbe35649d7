#!/usr/bin/python3
"""Golden fixtures for the parts of tapegrad's attention family that PyTorch lacks as modules:
positional encodings (sinusoidal, learned, rotary), FeatureGate, SEBlock, ChannelAttention,
SpatialAttention and CBAM. Each is written below as a small PyTorch reference with the
parameter names tapegrad uses, and run in float64 on random inputs and weights.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_attention/make_vision_attention_fixtures.py          # rewrites fixtures/*.txt
    /usr/bin/python3 tests/golden_attention/make_vision_attention_fixtures.py --check  # exits 1 if they differ

Deterministic (fixed seeds, float64, one thread). The tests in tests/nn/attention/ read the files
with tests/support/fixtures.h; the format is tests/support/fixture_writer.py's.

Keys of the tensors of a case:

    state.<k>           every state_dict entry of the module (tapegrad's key k), before the forward;
                          state.pe is the sinusoidal table [max_len, d_model]
    x                   the input
    cos, sin            the rotary tables [T, dim] of the positions used
    <out>               the outputs: output, and the weights each module can return: attention
                          (SE, channel, spatial), channel_attention and spatial_attention (CBAM),
                          gate (FeatureGate)
    g<out>              a fixed random upstream gradient for each output
    grad.<x>            the gradient of L = sum over the outputs of (<out> * g<out>).sum() with
                          respect to x and to every parameter (named as in state)

Params: the module options (d_model, max_len, batch_first, start, dim, base, offset, features,
bias, channels, reduction, kernel_size) and `module` (which module a case builds). Modules run in
eval mode (dropout off).

The references follow the definitions: the tutorial's sinusoidal table (exp of -2i ln(10000)/d),
RoPE in the half (GPT-NeoX / LLaMA) layout computed as a complex rotation of the pairs
(x_i + i x_{i+d/2}) e^{i pos theta_i}, SE and CBAM with nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d
for the pooled descriptors, as the common PyTorch implementations write them.
"""

import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
SCRIPT = "tests/golden_attention/make_vision_attention_fixtures.py"
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
from fixture_writer import randn  # noqa: E402


def Writer(family):
    return fw.Writer(fw.golden_header(family, SCRIPT), finite=True)


def randomize(module):
    """Random values for every parameter (biases too, which some defaults start at 0)."""
    with torch.no_grad():
        for _, p in module.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(randn(*p.shape) / math.sqrt(fan_in))


def record(w, name, params, module, x, forward, extra=()):
    """forward(x) -> [(key, tensor)]: in eval mode, stores state, x, the extra tensors, the outputs
    with their upstream gradients g<key>, and the gradients of x and every parameter."""
    module.eval()
    fw.record_module(w, name, params, module, {"x": x}, lambda x: [(k, out, "g" + k) for k, out in forward(x)],
                     extra)


# ---- positional encodings ----------------------------------------------------------------------------


def sinusoidal_table(max_len, d_model, base=10000.0):
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(base) / d_model))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])  # an odd d has one cosine fewer
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len, batch_first, base=10000.0):
        super().__init__()
        self.batch_first = batch_first
        self.register_buffer("pe", sinusoidal_table(max_len, d_model, base))

    def forward(self, x, start=0):
        if x.dim() == 3 and self.batch_first:
            return x + self.pe[start:start + x.shape[1]]
        if x.dim() == 3:
            return x + self.pe[start:start + x.shape[0]].unsqueeze(1)
        return x + self.pe[start:start + x.shape[0]]


class LearnedPositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.weight = nn.Parameter(torch.randn(max_len, d_model, dtype=torch.float64))

    def forward(self, x, start=0):
        T = x.shape[1] if x.dim() == 3 and self.batch_first else x.shape[0]
        positions = torch.arange(start, start + T)
        rows = nn.functional.embedding(positions, self.weight)
        return x + (rows.unsqueeze(1) if x.dim() == 3 and not self.batch_first else rows)


@fw.family("positional_encoding")
def make_positional():
    w = Writer("positional encodings (sinusoidal, learned)")
    # (name, kind, d_model, max_len, batch_first, start, shape of x)
    cases = [
        ("sinusoidal, d_model 8, batch_first", "sinusoidal", 8, 12, True, 0, (2, 5, 8)),
        ("sinusoidal, odd d_model 7, sequence first, from position 3", "sinusoidal", 7, 10, False, 3, (4, 2, 7)),
        ("sinusoidal, unbatched, the whole table", "sinusoidal", 6, 6, True, 0, (6, 6)),
        ("sinusoidal, d_model 16, far positions", "sinusoidal", 16, 60, True, 50, (1, 10, 16)),
        ("learned, batch_first", "learned", 6, 9, True, 0, (2, 4, 6)),
        ("learned, sequence first, from position 2", "learned", 5, 8, False, 2, (3, 2, 5)),
    ]
    for name, kind, d, max_len, batch_first, start, shape in cases:
        if kind == "sinusoidal":
            m = SinusoidalPositionalEncoding(d, max_len, batch_first)  # its table is state.pe
        else:
            m = LearnedPositionalEncoding(max_len, d, batch_first)
        params = {"module": kind, "d_model": d, "max_len": max_len, "batch_first": batch_first, "start": start}
        record(w, name, params, m, randn(*shape), lambda x, m=m, start=start: [("output", m(x, start))])
    return w


def rotary_tables(T, dim, base, offset):
    """cos and sin [T, dim]: angle (offset + t) theta_i in columns i and i + dim/2."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    t = torch.arange(offset, offset + T, dtype=torch.float64)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotary_complex(x, base, offset):
    """The half layout as a complex product: z_i = x_i + i x_{i+d/2}, times e^{i pos theta_i}."""
    d = x.shape[-1]
    T = x.shape[-2]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = torch.arange(offset, offset + T, dtype=torch.float64).unsqueeze(1) * theta
    z = torch.complex(x[..., : d // 2], x[..., d // 2:]) * torch.polar(torch.ones_like(angle), angle)
    return torch.cat([z.real, z.imag], dim=-1)


@fw.family("rotary_embedding")
def make_rotary():
    w = Writer("rotary position embedding (half layout)")
    # (name, dim, base, offset, max_len, shape of x)
    cases = [
        ("queries [B, H, T, d], dim 8, from position 0", 8, 10000.0, 0, 16, (2, 3, 5, 8)),
        ("keys [B, T, d], dim 6, base 500, from position 4", 6, 500.0, 4, 16, (2, 5, 6)),
        ("one step at position 37, dim 4", 4, 10000.0, 37, 64, (3, 1, 4)),
    ]
    for name, dim, base, offset, max_len, shape in cases:
        T = shape[-2]
        cos, sin = rotary_tables(T, dim, base, offset)
        params = {"dim": dim, "base": base, "offset": offset, "max_len": max_len}
        record(w, name, params, nn.Module(), randn(*shape),
               lambda x, base=base, offset=offset: [("output", rotary_complex(x, base, offset))],
               [("cos", cos), ("sin", sin)])
    return w


# ---- FeatureGate -------------------------------------------------------------------------------------


class FeatureGate(nn.Module):
    def __init__(self, features, bias=True):
        super().__init__()
        self.gate = nn.Linear(features, features, bias=bias).double()

    def forward(self, x):
        g = torch.sigmoid(self.gate(x))
        return x * g, g


@fw.family("feature_gate")
def make_feature_gate():
    w = Writer("FeatureGate (x * sigmoid(W x + b))")
    cases = [
        ("one step per batch item [B, F]", 5, True, (3, 5)),
        ("[B, T, F] gated step by step", 4, True, (2, 3, 4)),
        ("no bias", 6, False, (2, 6)),
    ]
    for name, F, bias, shape in cases:
        m = FeatureGate(F, bias)
        randomize(m)
        out = lambda x, m=m: list(zip(("output", "gate"), m(x)))  # noqa: E731
        record(w, name, {"features": F, "bias": bias}, m, randn(*shape) * 2, out)
    return w


# ---- channel and spatial attention -------------------------------------------------------------------


class SEBlock(nn.Module):
    def __init__(self, channels, reduction, bias=True):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        hidden = channels // reduction
        self.fc = nn.Sequential(nn.Linear(channels, hidden, bias=bias), nn.ReLU(),
                                nn.Linear(hidden, channels, bias=bias), nn.Sigmoid()).double()

    def forward(self, x):
        b, c = x.shape[:2]
        s = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * s.expand_as(x), s


class ChannelAttention(nn.Module):
    def __init__(self, channels, reduction, bias=True):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Linear(channels, hidden, bias=bias), nn.ReLU(),
                                 nn.Linear(hidden, channels, bias=bias)).double()

    def forward(self, x):
        b, c = x.shape[:2]
        a = torch.sigmoid(self.mlp(self.avg_pool(x).view(b, c)) + self.mlp(self.max_pool(x).view(b, c)))
        a = a.view(b, c, 1, 1)
        return x * a, a


class SpatialAttention(nn.Module):
    def __init__(self, kernel_size, bias=False):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias).double()

    def forward(self, x):
        maps = torch.cat([torch.mean(x, dim=1, keepdim=True), torch.max(x, dim=1, keepdim=True)[0]], dim=1)
        a = torch.sigmoid(self.conv(maps))
        return x * a, a


class CBAM(nn.Module):
    def __init__(self, channels, reduction, kernel_size):
        super().__init__()
        self.channel_attention = ChannelAttention(channels, reduction)
        self.spatial_attention = SpatialAttention(kernel_size)

    def forward(self, x):
        y, ca = self.channel_attention(x)
        z, sa = self.spatial_attention(y)
        return z, ca, sa


@fw.family("vision_attention")
def make_vision():
    w = Writer("SEBlock, ChannelAttention, SpatialAttention, CBAM")
    # (name, module, options, shape of x)
    cases = [
        ("SEBlock, 8 channels, reduction 4", "se", dict(channels=8, reduction=4, bias=True), (2, 8, 3, 4)),
        ("SEBlock without biases, 6 channels, reduction 2", "se", dict(channels=6, reduction=2, bias=False),
         (3, 6, 2, 2)),
        ("SEBlock, reduction equal to the channel count", "se", dict(channels=4, reduction=4, bias=True),
         (2, 4, 3, 3)),
        ("ChannelAttention, 8 channels, reduction 2", "channel", dict(channels=8, reduction=2, bias=True),
         (2, 8, 4, 3)),
        ("ChannelAttention without biases, 6 channels, reduction 3", "channel",
         dict(channels=6, reduction=3, bias=False), (2, 6, 3, 3)),
        ("SpatialAttention, kernel 7", "spatial", dict(kernel_size=7, bias=False), (2, 3, 5, 6)),
        ("SpatialAttention, kernel 3 with bias", "spatial", dict(kernel_size=3, bias=True), (2, 4, 4, 4)),
        ("CBAM, 8 channels, reduction 4, kernel 3", "cbam", dict(channels=8, reduction=4, kernel_size=3),
         (2, 8, 4, 5)),
        ("CBAM, 16 channels, defaults reduction 16 and kernel 7", "cbam",
         dict(channels=16, reduction=16, kernel_size=7), (1, 16, 6, 6)),
    ]
    for name, kind, opts, shape in cases:
        if kind == "se":
            m = SEBlock(**opts)
        elif kind == "channel":
            m = ChannelAttention(**opts)
        elif kind == "spatial":
            m = SpatialAttention(**opts)
        else:
            m = CBAM(**opts)
        randomize(m)
        keys = ("output", "channel_attention", "spatial_attention") if kind == "cbam" else ("output", "attention")
        out = lambda x, m=m, keys=keys: list(zip(keys, m(x)))  # noqa: E731
        record(w, name, dict(module=kind, **opts), m, randn(*shape), out)
    return w


def main():
    return fw.run_makers(__doc__, OUT_DIR, fw.families(), 3000, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
