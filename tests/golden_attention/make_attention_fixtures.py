#!/usr/bin/python3
"""Golden fixtures for tapegrad's attention modules (MultiheadAttention, TransformerEncoderLayer,
TransformerEncoder), computed with PyTorch modules holding the same weights.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_attention/make_attention_fixtures.py          # rewrites fixtures/*.txt
    /usr/bin/python3 tests/golden_attention/make_attention_fixtures.py --check  # exits 1 if they differ

Deterministic (fixed seeds, float64, one thread). tests/nn/test_attention.cpp reads the files
with the parser of tests/support/fixtures.h, so the file format is the one
described in tests/golden_modules/make_module_fixtures.py (whose Writer this script uses):
`case`, `param`, `names params|state`, `tensor` (float64), `index` (int64), `end`.

Keys of the tensors of a case:

    state.<k>           every state_dict entry (PyTorch's key k), before the forward
    query, key, value   MultiheadAttention inputs (a self-attention case, param self 1, stores only
                          query and passes that one tensor as query, key and value)
    src                 TransformerEncoderLayer / TransformerEncoder input
    key_padding_mask, attn_mask, src_mask, src_key_padding_mask
                        masks: an `index` tensor of 0/1 is a bool mask (1 = masked out), a
                          `tensor` is a float mask added to the scores
    output, weights     the outputs (weights: MultiheadAttention's attention weights)
    gout, gweights      fixed random upstream gradients
    grad.<x>            the gradient of L = (output*gout).sum() [+ (weights*gweights).sum()]
                          with respect to each float input and every parameter

Params of a case: the module options (embed_dim, num_heads, bias, batch_first, d_model, nhead,
dim_feedforward, gelu, layer_norm_eps, norm_first, num_layers, final_norm) and forward flags
(self, need_weights, average_attn_weights). A case with param forward_only 1 has no gout and
no gradients: "fully masked rows give zeros", whose fully masked query rows are NaN in PyTorch
1.13. tapegrad deliberately gives such a row zero attention weights and a zero attention output
(see docs/attention.md), so the expected values are PyTorch's with the NaN rows replaced by 0:
the weights' NaN rows by 0, and the output's NaN rows by out_proj(0) = out_proj.bias.

Modules run in eval mode (dropout off). Biases and LayerNorm weights, which PyTorch starts at 0
and 1, are set to random values so that they are tested; the layers of an encoder get different
random weights.
"""

import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "golden_modules"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
from make_module_fixtures import Writer  # noqa: E402
from fixture_writer import randn  # noqa: E402
import mha_cases  # noqa: E402
from mha_cases import record  # noqa: E402


def AttentionWriter(family):
    return Writer(family, "tests/golden_attention/make_attention_fixtures.py")


def randomize_all(module):
    """Random values for every parameter whose PyTorch default is constant (biases, norm weights)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or ".norm" in "." + name or name.startswith("norm"):
                p.copy_(randn(*p.shape) * 0.5 + (1.0 if name.endswith("weight") else 0.0))


# ---- MultiheadAttention ---------------------------------------------------------------------------


@fw.family("multihead_attention")
def make_mha():
    w = AttentionWriter("multihead_attention")
    E, H, B, L, S = 8, 2, 2, 3, 4
    # (name, batch_first, self-attention, key padding, attn mask kind, average, bias, unbatched, need_weights)
    cases = [
        ("self-attention, sequence first", False, True, None, None, True, True, False, True),
        ("self-attention, batch_first", True, True, None, None, True, True, False, True),
        ("cross-attention, sequence first", False, False, None, None, True, True, False, True),
        ("cross-attention, batch_first, weights per head", True, False, None, None, False, True, False, True),
        ("key_padding_mask bool, sequence first", False, False, "bool", None, True, True, False, True),
        ("key_padding_mask bool, batch_first self-attention", True, True, "bool", None, True, True, False, True),
        ("attn_mask bool 2-D", False, False, None, "bool2", True, True, False, True),
        ("attn_mask float 2-D, batch_first", True, False, None, "float2", True, True, False, True),
        ("attn_mask bool 3-D with key_padding_mask", False, False, "bool", "bool3", False, True, False, True),
        ("attn_mask float 3-D with key_padding_mask, batch_first", True, True, "bool", "float3", True, True, False,
         True),
        ("attn_mask float 2-D with key_padding_mask", False, False, "bool", "float2", True, True, False, True),
        ("no bias", False, False, "bool", None, True, False, False, True),
        ("unbatched with masks", False, False, "bool", "bool2", True, True, True, True),
        ("need_weights false", True, False, "bool", "float2", True, True, False, False),
        ("key_padding_mask float, added to the scores", False, False, "float", None, True, True, False, True),
    ]
    for name, batch_first, self_attn, kpm_kind, mask_kind, average, bias, unbatched, need_weights in cases:
        m = nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first).double()
        randomize_all(m)
        m.eval()
        inputs, masks = mha_cases.inputs_and_masks(E, H, B, L, S, self_attn, batch_first, unbatched, kpm_kind,
                                                   mask_kind)
        params = {"embed_dim": E, "num_heads": H, "bias": bias, "batch_first": batch_first, "self": self_attn,
                  "need_weights": need_weights, "average_attn_weights": average}

        record(w, name, params, m, inputs, masks, mha_cases.forward_of(m, need_weights, average))

    # A batch whose keys are all padding, and a query row whose keys are all masked: NaN in PyTorch 1.13.
    m = nn.MultiheadAttention(E, H, batch_first=True).double()
    randomize_all(m)
    m.eval()
    kpm = torch.tensor([[True, True, True, True], [False, False, True, True]])
    mask = torch.zeros(S, S, dtype=torch.bool)
    mask[2, :2] = True  # with batch 1's padding of keys 2 and 3, query 2 of batch 1 sees nothing
    params = {"embed_dim": E, "num_heads": H, "bias": True, "batch_first": True, "self": True,
              "need_weights": True, "average_attn_weights": True}

    def forward_nan(query, key_padding_mask, attn_mask):
        out, wts = m(query, query, query, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
        # tapegrad's convention: a dead row attends to nothing (0), and out_proj(0) is its bias.
        out = torch.where(torch.isnan(out), m.out_proj.bias.expand_as(out), out)
        wts = torch.nan_to_num(wts, nan=0.0)
        return [("output", out, "gout"), ("weights", wts, "gweights")]

    record(w, "fully masked rows give zeros", params, m, {"query": randn(B, S, E)},
           {"key_padding_mask": kpm, "attn_mask": mask}, forward_nan, forward_only=True)
    return w


# ---- TransformerEncoderLayer and TransformerEncoder --------------------------------------------------


def layer_params(d, h, ff, gelu, eps, batch_first, norm_first):
    return {"d_model": d, "nhead": h, "dim_feedforward": ff, "gelu": gelu, "layer_norm_eps": eps,
            "batch_first": batch_first, "norm_first": norm_first}


@fw.family("transformer_encoder_layer")
def make_encoder_layer():
    w = AttentionWriter("transformer_encoder_layer")
    D, H, FF, B, L = 8, 2, 16, 2, 5
    # (name, gelu, norm_first, batch_first, padding mask, src_mask kind, eps, unbatched)
    cases = [
        ("relu, post-norm, sequence first", False, False, False, False, None, 1e-5, False),
        ("gelu, post-norm, batch_first", True, False, True, False, None, 1e-5, False),
        ("relu, norm_first, batch_first, padding mask", False, True, True, True, None, 1e-5, False),
        ("gelu, norm_first, sequence first, padding mask", True, True, False, True, None, 1e-5, False),
        ("relu, post-norm, padding mask and causal bool src_mask", False, False, True, True, "causal", 1e-5, False),
        ("gelu, post-norm, float src_mask, eps 1e-3", True, False, False, False, "float", 1e-3, False),
        ("relu, norm_first, unbatched with src_mask", False, True, False, False, "causal", 1e-5, True),
    ]
    for name, gelu, norm_first, batch_first, padding, mask_kind, eps, unbatched in cases:
        m = nn.TransformerEncoderLayer(D, H, dim_feedforward=FF, activation="gelu" if gelu else "relu",
                                       layer_norm_eps=eps, batch_first=batch_first, norm_first=norm_first).double()
        randomize_all(m)
        m.eval()
        src = randn(L, D) if unbatched else (randn(B, L, D) if batch_first else randn(L, B, D))
        kpm = None
        if padding:
            kpm = torch.zeros(B, L, dtype=torch.bool)
            kpm[1, 3:] = True  # the second sequence has 3 real steps
        mask = None
        if mask_kind == "causal":
            mask = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
        elif mask_kind == "float":
            mask = randn(L, L)

        def forward(src, src_mask=None, src_key_padding_mask=None):
            return [("output", m(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask), "gout")]

        record(w, name, layer_params(D, H, FF, gelu, eps, batch_first, norm_first), m, {"src": src},
               {"src_mask": mask, "src_key_padding_mask": kpm}, forward)
    return w


@fw.family("transformer_encoder")
def make_encoder():
    w = AttentionWriter("transformer_encoder")
    D, H, FF, B, L = 8, 2, 16, 2, 5
    # (name, gelu, norm_first, batch_first, final norm, padding mask, causal mask)
    cases = [
        ("2 layers, final norm, batch_first, padding mask", False, False, True, True, True, False),
        ("2 layers, final norm, sequence first, causal mask", True, False, False, True, False, True),
        ("2 layers, norm_first, final norm, padding and causal masks", False, True, True, True, True, True),
        ("2 layers, no final norm", True, False, True, False, False, False),
    ]
    for name, gelu, norm_first, batch_first, final_norm, padding, causal in cases:
        layer = nn.TransformerEncoderLayer(D, H, dim_feedforward=FF, activation="gelu" if gelu else "relu",
                                           batch_first=batch_first, norm_first=norm_first)
        m = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D) if final_norm else None).double()
        mha_cases.randomize(m)
        m.eval()
        src = randn(B, L, D) if batch_first else randn(L, B, D)
        kpm = None
        if padding:
            kpm = torch.zeros(B, L, dtype=torch.bool)
            kpm[0, 4:] = True
            kpm[1, 2:] = True
        mask = torch.triu(torch.ones(L, L, dtype=torch.bool), 1) if causal else None
        params = dict(layer_params(D, H, FF, gelu, 1e-5, batch_first, norm_first), num_layers=2, final_norm=final_norm)

        def forward(src, mask=None, src_key_padding_mask=None):
            return [("output", m(src, mask=mask, src_key_padding_mask=src_key_padding_mask), "gout")]

        record(w, name, params, m, {"src": src}, {"mask": mask, "src_key_padding_mask": kpm}, forward)
    return w


def main():
    return fw.run_makers(__doc__, OUT_DIR, fw.families(), 2000, "tests/golden_attention/make_attention_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
