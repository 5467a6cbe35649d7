#!/usr/bin/python3
"""Golden fixtures for tapegrad's attention score functions and the modules built on them
(Attention, AttentionPooling, SelfAttention), which PyTorch 1.13 does not have: this script holds
a small PyTorch reference of each, with the same parameter names as tapegrad's state_dict, and
records its outputs and gradients in float64.

How to run (needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_attention/make_score_fixtures.py          # rewrites fixtures/
    /usr/bin/python3 tests/golden_attention/make_score_fixtures.py --check  # exits 1 if they differ

Deterministic (fixed seeds, float64, one thread). Read by tests/nn/attention/test_attention_golden.cpp
through tests/support/fixtures.h; the format is tests/support/fixture_writer.py's.

The references:

    dot         q k^T                        scaled_dot  (q / sqrt(d)) k^T
    general     (q W) k^T, W [dq, dk]        additive    v(tanh(W_q(q)[:, :, None] + W_k(k)[:, None]))
    cosine      F.cosine_similarity(q[:, :, None], k[:, None], dim=-1, eps) / temperature
    masks       bool true = may not attend, floating added; a row whose keys are all masked gets
                zero weights (tapegrad's convention; PyTorch's plain softmax would give NaN), here
                computed as softmax of that row set to 0, then the row zeroed, so that the
                reference's gradients are those of tapegrad's definition
    Attention   weights = masked_softmax(score(q, k)), output = weights values
    AttentionPooling  M = tanh(h); query: a learned vector `query` [H], or query_mlp(mean of h over
                the real steps) or query_mlp(h at the last real step), query_mlp =
                Sequential(Linear(H, m), Tanh, Linear(m, H)); alpha = masked_softmax(M q);
                context = sum_t alpha_t h_t
    SelfAttention  q_proj, k_proj, v_proj, out_proj (project on) or none (off); heads
                [B, T, E] -> [B, T, H, d] -> [B, H, T, d]; per-head score; heads joined; weights
                averaged over heads unless average 0

Keys of a case: state.<k> (every state_dict entry), the inputs (q, k, query, keys, values, h, x),
masks (`index` 0/1 = bool mask, `tensor` = float mask), lengths (`index`), output/weights (or
context/alpha), gout/gweights (fixed upstream gradients) and grad.<x> for every float input and
every parameter, of L = sum(output * gout) + sum(weights * gweights). Params: kind, score, sizes
and options of the case (see each maker).
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
SCRIPT = "tests/golden_attention/make_score_fixtures.py"
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
from fixture_writer import randn  # noqa: E402


def masked_softmax(scores, mask):
    if mask is None:
        return torch.softmax(scores, -1)
    if mask.dtype == torch.bool:
        s = scores.masked_fill(mask, -math.inf)
        dead = mask.all(-1, keepdim=True)
    else:
        s = scores + mask
        dead = (mask == -math.inf).all(-1, keepdim=True)
    return torch.softmax(s.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)


# ---- the score functions ----------------------------------------------------------------------------


class Dot(nn.Module):
    def forward(self, q, k):
        return q @ k.transpose(-2, -1)


class ScaledDot(nn.Module):
    def forward(self, q, k):
        return (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)


class General(nn.Module):
    def __init__(self, dq, dk):
        super().__init__()
        self.weight = nn.Parameter(randn(dq, dk) / math.sqrt(dk))

    def forward(self, q, k):
        return (q @ self.weight) @ k.transpose(-2, -1)


class Additive(nn.Module):
    def __init__(self, dq, dk, hidden):
        super().__init__()
        self.W_q = nn.Linear(dq, hidden).double()
        self.W_k = nn.Linear(dk, hidden, bias=False).double()
        self.v = nn.Linear(hidden, 1, bias=False).double()

    def forward(self, q, k):
        return self.v(torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))).squeeze(-1)


class Cosine(nn.Module):
    def __init__(self, temperature):
        super().__init__()
        self.temperature = temperature

    def forward(self, q, k):
        return F.cosine_similarity(q.unsqueeze(-2), k.unsqueeze(-3), dim=-1, eps=1e-8) / self.temperature


def make_score(name, dq, dk, hidden=None, temperature=1.0):
    if name == "dot":
        return Dot()
    if name == "scaled_dot":
        return ScaledDot()
    if name == "general":
        return General(dq, dk)
    if name == "additive":
        return Additive(dq, dk, hidden or dk)
    return Cosine(temperature)


# ---- the modules ------------------------------------------------------------------------------------


class Attention(nn.Module):
    def __init__(self, score):
        super().__init__()
        self.score = score

    def forward(self, query, keys, values, mask=None):
        w = masked_softmax(self.score(query, keys), mask)
        return w @ values, w


class AttentionPooling(nn.Module):
    def __init__(self, hidden, query, mlp_hidden):
        super().__init__()
        self.kind = query
        if query == "learned":
            self.query = nn.Parameter(randn(hidden) / math.sqrt(hidden))
        else:
            self.query_mlp = nn.Sequential(nn.Linear(hidden, mlp_hidden), nn.Tanh(),
                                           nn.Linear(mlp_hidden, hidden)).double()

    def forward(self, h, mask=None):
        B, T, H = h.shape
        M = torch.tanh(h)
        if self.kind == "learned":
            scores = M @ self.query
        else:
            keep = torch.ones(B, T, dtype=h.dtype)
            if mask is not None:
                keep = keep.masked_fill(mask if mask.dtype == torch.bool else mask == -math.inf, 0.0)
            count = keep.sum(1, keepdim=True)
            if self.kind == "mean":
                summary = (h * keep.unsqueeze(-1)).sum(1) / count.clamp(min=1.0)
            else:
                last = (count - 1).clamp(min=0).long()
                summary = h.gather(1, last.view(B, 1, 1).expand(B, 1, H)).squeeze(1)
            q = self.query_mlp(summary)
            scores = (M @ q.unsqueeze(-1)).squeeze(-1)
        alpha = masked_softmax(scores, mask)
        return (alpha.unsqueeze(1) @ h).squeeze(1), alpha


class SelfAttention(nn.Module):
    def __init__(self, E, H, project, score):
        super().__init__()
        self.E, self.H, self.project = E, H, project
        if project:
            self.q_proj = nn.Linear(E, E).double()
            self.k_proj = nn.Linear(E, E).double()
            self.v_proj = nn.Linear(E, E).double()
            self.out_proj = nn.Linear(E, E).double()
        self.score = score

    def forward(self, x, attn_mask=None, key_padding_mask=None, average=True):
        B, T, E = x.shape
        H, d = self.H, E // self.H

        def heads(t):
            return t.view(B, T, H, d).transpose(1, 2)

        q, k, v = (self.q_proj(x), self.k_proj(x), self.v_proj(x)) if self.project else (x, x, x)
        mask = attn_mask
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        if key_padding_mask is not None:
            kpm = key_padding_mask.view(B, 1, 1, T)
            mask = kpm if mask is None else mask | kpm
        w = masked_softmax(self.score(heads(q), heads(k)), mask)
        out = (w @ heads(v)).transpose(1, 2).reshape(B, T, E)
        if self.project:
            out = self.out_proj(out)
        return out, (w.mean(1) if average else w)


# ---- recording ------------------------------------------------------------------------------------


def record(w, name, params, module, inputs, extras, forward):
    """inputs: float leaves (gradients recorded, all finite); extras: masks and lengths (stored as
    they are). forward(**leaves) -> [(key, tensor, gkey)]."""
    stored = [(k, fw.store_mask(v)) for k, v in extras.items() if v is not None]
    fw.record_module(w, name, params, module, inputs, forward, stored, finite_grads=True)


def writer(family):
    return fw.Writer(fw.golden_header(family + " (PyTorch reference in the script)", SCRIPT))


@fw.family("attention_scores")
def make_scores():
    w = writer("attention_scores")
    B, Tq, Tk = 2, 3, 5
    # (name, dq, dk, hidden, temperature)
    cases = [("dot", 4, 4, 0, 1.0), ("scaled_dot", 4, 4, 0, 1.0), ("general", 4, 3, 0, 1.0),
             ("additive", 4, 3, 6, 1.0), ("cosine", 4, 4, 0, 0.5)]
    for name, dq, dk, hidden, temp in cases:
        m = make_score(name, dq, dk, hidden, temp)
        params = {"score": name, "dq": dq, "dk": dk, "hidden": hidden, "temperature": temp}
        record(w, name, params, m, {"q": randn(B, Tq, dq), "k": randn(B, Tk, dk)}, {},
               lambda q, k: [("output", m(q, k), "gout")])
    return w


@fw.family("attention_modules")
def make_attention():
    w = writer("attention_modules")
    B, Tq, Tk, dv = 2, 3, 5, 2
    # (name, score, dq, dk, mask kind)
    cases = [("scaled_dot, no mask", "scaled_dot", 4, 4, None),
             ("dot, key padding bool mask", "dot", 4, 4, "padding"),
             ("general, float mask", "general", 4, 3, "float"),
             ("additive, bool mask with a fully masked row", "additive", 4, 3, "dead"),
             ("cosine, no mask", "cosine", 4, 4, None)]
    for name, score, dq, dk, kind in cases:
        m = Attention(make_score(score, dq, dk))
        mask = None
        if kind == "padding":
            mask = torch.zeros(B, 1, Tk, dtype=torch.bool)
            mask[1, 0, 3:] = True
        elif kind == "float":
            mask = randn(Tq, Tk)
        elif kind == "dead":
            mask = torch.rand(B, Tq, Tk) < 0.3
            mask[..., 0] = False
            mask[1, 2, :] = True
        params = {"kind": "attention", "score": score, "dq": dq, "dk": dk}
        inputs = {"query": randn(B, Tq, dq), "keys": randn(B, Tk, dk), "values": randn(B, Tk, dv)}

        def forward(query, keys, values):
            out, wts = m(query, keys, values, mask)
            return [("output", out, "gout"), ("weights", wts, "gweights")]

        record(w, "Attention " + name, params, m, inputs, {"mask": mask}, forward)

    # AttentionPooling: (name, query, mask kind)
    H, T = 4, 5
    pool_cases = [("learned query, no mask", "learned", None),
                  ("learned query, lengths", "learned", "lengths"),
                  ("mean query, bool padding mask with an empty sequence", "mean", "empty"),
                  ("last query, lengths", "last", "lengths"),
                  ("last query, float padding mask", "last", "float")]
    for name, query, kind in pool_cases:
        m = AttentionPooling(H, query, 3)
        lengths, mask = None, None
        if kind == "lengths":
            lengths = torch.tensor([5, 3, 1])
            mask = torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1)
        elif kind == "empty":
            mask = torch.zeros(3, T, dtype=torch.bool)
            mask[1, 2:] = True
            mask[2, :] = True
        elif kind == "float":
            mask = torch.zeros(3, T, dtype=torch.float64)
            mask[1, 4:] = -math.inf
            mask[2, 2:] = -math.inf
        params = {"kind": "pooling", "hidden": H, "query": query, "mlp_hidden": 3,
                  "with_lengths": kind == "lengths"}

        def forward_pool(h):
            c, a = m(h, mask)
            return [("context", c, "gcontext"), ("alpha", a, "galpha")]

        extras = {"lengths": lengths} if kind == "lengths" else {"mask": mask}
        record(w, "AttentionPooling " + name, params, m, {"h": randn(3, T, H)}, extras, forward_pool)

    # SelfAttention: (name, project, heads, score, mask kind, average)
    E, T, B = 4, 4, 2
    sa_cases = [("projections, 1 head", True, 1, "scaled_dot", None, True),
                ("projections, 2 heads, key padding", True, 2, "scaled_dot", "padding", True),
                ("projections, 2 heads, general score, causal, weights per head", True, 2, "general", "causal", False),
                ("no projections, 1 head", False, 1, "scaled_dot", None, True),
                ("no projections, 2 heads, additive score, causal and key padding", False, 2, "additive", "both",
                 False)]
    for name, project, heads, score, kind, average in sa_cases:
        d = E // heads
        m = SelfAttention(E, heads, project, make_score(score, d, d))
        attn_mask = kpm = None
        if kind in ("causal", "both"):
            attn_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        if kind in ("padding", "both"):
            kpm = torch.zeros(B, T, dtype=torch.bool)
            kpm[1, 2:] = True
        params = {"kind": "self", "embed_dim": E, "num_heads": heads, "project": project, "score": score,
                  "average": average}

        def forward_sa(x):
            out, wts = m(x, attn_mask, kpm, average)
            return [("output", out, "gout"), ("weights", wts, "gweights")]

        record(w, "SelfAttention " + name, params, m, {"x": randn(B, T, E)},
               {"attn_mask": attn_mask, "key_padding_mask": kpm}, forward_sa)
    return w


def main():
    return fw.run_makers(__doc__, OUT_DIR, fw.families(), 3000, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
