#!/usr/bin/python3
"""Golden fixtures for MultiheadAttention's options (kdim/vdim, add_bias_kv, add_zero_attn) and
for TransformerDecoderLayer, TransformerDecoder and Transformer, computed with PyTorch modules
holding the same weights.

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_attention/make_transformer_fixtures.py          # rewrites fixtures/*.txt
    /usr/bin/python3 tests/golden_attention/make_transformer_fixtures.py --check  # exits 1 if they differ

Deterministic (fixed seeds, float64, one thread). tests/nn/attention/test_multihead_options.cpp
and tests/nn/attention/test_transformer_decoder.cpp read the files with tests/support/fixtures.h;
the format is tests/support/fixture_writer.py's: `case`, `param`, `names params|state`, `tensor`
(float64), `index` (int64), `end`.

Keys of the tensors of a case:

    state.<k>           every state_dict entry (PyTorch's key k), before the forward
    query, key, value   MultiheadAttention inputs (param self 1: only query, passed as all three)
    tgt, memory         TransformerDecoderLayer / TransformerDecoder inputs
    src, tgt            Transformer inputs
    key_padding_mask, attn_mask, tgt_mask, memory_mask, src_mask, tgt_key_padding_mask,
    memory_key_padding_mask, src_key_padding_mask
                        masks: an `index` tensor of 0/1 is a bool mask (1 = may not attend), a
                          `tensor` is a float mask added to the scores
    output, weights, gout, gweights, grad.<x>
                        as in make_attention_fixtures.py: the outputs, fixed random upstream
                          gradients, and the gradients of L with respect to each float input
                          and every parameter

Params of a case: the module options (embed_dim, num_heads, kdim, vdim, bias, add_bias_kv,
add_zero_attn, batch_first; d_model, nhead, dim_feedforward, gelu, layer_norm_eps, norm_first,
num_layers, final_norm, num_encoder_layers, num_decoder_layers) and forward flags (self,
need_weights, average_attn_weights). The case "default Transformer keys" of transformer.txt
holds only the state_dict keys of nn.Transformer() with its defaults.

Modules run in eval mode (dropout off). Every parameter gets fresh random values (LayerNorm
weights around 1), so that biases, norms and every layer of a stack are tested with values of
their own. No query row has all its keys masked (PyTorch 1.13 gives NaN there, tapegrad zero).
"""

import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
SCRIPT = "tests/golden_attention/make_transformer_fixtures.py"
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
from fixture_writer import randn  # noqa: E402
from mha_cases import bool_mask, padding, randomize  # noqa: E402
import mha_cases  # noqa: E402


# The sizes of the decoder-layer, decoder and Transformer cases: d_model, nhead, dim_feedforward,
# batch, target and source lengths.
D, H, FF, B, T, S = 8, 2, 16, 2, 4, 5


def writer(family):
    return fw.Writer(fw.golden_header(family, SCRIPT))


def causal_bool(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool), 1)


def record(w, name, params, module, float_inputs, masks, forward):
    """Runs forward(**float_inputs, **masks) -> [(key, tensor, gkey)] in eval mode; stores state,
    inputs, masks, outputs (all finite), upstream gradients and the gradients of
    sum((out * g).sum())."""
    module.eval()
    mha_cases.record(w, name, params, module, float_inputs, masks, forward, finite_outputs=True)


# ---- MultiheadAttention options ----------------------------------------------------------------------


@fw.family("multihead_options")
def make_mha_options():
    w = writer("multihead_options")
    E, H, B, L, S = 8, 2, 2, 3, 4
    # name: (kdim, vdim, bias, add_bias_kv, add_zero_attn, batch_first, self, kpm kind, mask kind,
    #        average, unbatched, need_weights)
    cases = [
        ("kdim 5 and vdim 6, sequence first", 5, 6, True, False, False, False, False, None, None, True, False, True),
        ("kdim 5 and vdim 6, batch_first, weights per head, bool masks", 5, 6, True, False, False, True, False, "bool",
         "bool2", False, False, True),
        ("vdim 3 only, float 2-D attn_mask", 8, 3, True, False, False, False, False, None, "float2", True, False, True),
        ("kdim 4 and vdim 4, no bias, 3-D float attn_mask and bool key_padding_mask", 4, 4, False, False, False, False,
         False, "bool", "float3", True, False, True),
        ("kdim 5 and vdim 6, unbatched with masks", 5, 6, True, False, False, False, False, "bool", "bool2", True, True,
         True),
        ("add_bias_kv, self-attention, sequence first", 8, 8, True, True, False, False, True, None, None, True, False,
         True),
        ("add_bias_kv, batch_first, 3-D bool attn_mask and key_padding_mask, weights per head", 8, 8, True, True,
         False, True, False, "bool", "bool3", False, False, True),
        ("add_bias_kv without in-projection biases", 8, 8, False, True, False, False, False, "bool", "float2", True,
         False, True),
        ("add_zero_attn, float 2-D attn_mask and bool key_padding_mask", 8, 8, True, False, True, False, False, "bool",
         "float2", True, False, True),
        ("add_zero_attn, self-attention, batch_first, weights per head", 8, 8, True, False, True, True, True, None,
         "bool2", False, False, True),
        ("add_bias_kv and add_zero_attn with kdim 5 and vdim 6, batch_first, float 3-D attn_mask", 5, 6, True, True,
         True, True, False, "bool", "float3", False, False, True),
        ("add_bias_kv and add_zero_attn, float key_padding_mask", 8, 8, True, True, True, False, False, "float", None,
         True, False, True),
        ("add_bias_kv and add_zero_attn, unbatched with masks", 8, 8, True, True, True, True, False, "bool", "bool2",
         True, True, True),
        ("kdim 5, add_zero_attn, need_weights false", 5, 8, True, False, True, True, False, "bool", "bool2", True,
         False, False),
        ("add_zero_attn keeps a query whose keys are all masked finite", 8, 8, True, False, True, True, False, "all",
         "bool2", True, False, True),
        ("add_bias_kv keeps a query whose keys are all masked finite", 8, 8, True, True, False, False, False, "all",
         None, False, False, True),
    ]
    for (name, kdim, vdim, bias, add_bias_kv, add_zero_attn, batch_first, self_attn, kpm_kind, mask_kind, average,
         unbatched, need_weights) in cases:
        m = nn.MultiheadAttention(E, H, bias=bias, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn, kdim=kdim,
                                  vdim=vdim, batch_first=batch_first).double()
        randomize(m)
        inputs, masks = mha_cases.inputs_and_masks(E, H, B, L, S, self_attn, batch_first, unbatched, kpm_kind,
                                                   mask_kind, kdim, vdim)
        params = {"embed_dim": E, "num_heads": H, "kdim": kdim, "vdim": vdim, "bias": bias,
                  "add_bias_kv": add_bias_kv, "add_zero_attn": add_zero_attn, "batch_first": batch_first,
                  "self": self_attn, "need_weights": need_weights, "average_attn_weights": average}

        record(w, name, params, m, inputs, masks, mha_cases.forward_of(m, need_weights, average))
    return w


# ---- TransformerDecoderLayer, TransformerDecoder, Transformer ------------------------------------------


def layer_params(d, h, ff, gelu, eps, batch_first, norm_first):
    return {"d_model": d, "nhead": h, "dim_feedforward": ff, "gelu": gelu, "layer_norm_eps": eps,
            "batch_first": batch_first, "norm_first": norm_first}


def decoder_masks(kinds, B, T, S, unbatched=False):
    """The four decoder masks from their kinds: tgt_mask "causal" (bool) or "causal_float"
    (generate_square_subsequent_mask); memory_mask "bool" or "float"; padding True/False."""
    tgt_mask_kind, memory_mask_kind, padding_on = kinds
    tgt_mask = None
    if tgt_mask_kind == "causal":
        tgt_mask = causal_bool(T)
    elif tgt_mask_kind == "causal_float":
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(T).double()
    memory_mask = None
    if memory_mask_kind == "bool":
        memory_mask = bool_mask(T, S)
    elif memory_mask_kind == "float":
        memory_mask = randn(T, S)
    tgt_kpm = memory_kpm = None
    if padding_on:
        tgt_kpm = padding(B, T, [T, T - 1]) if not unbatched else padding(1, T, [T - 1])[0]
        memory_kpm = padding(B, S, [S - 2, S]) if not unbatched else padding(1, S, [S - 2])[0]
    return {"tgt_mask": tgt_mask, "memory_mask": memory_mask, "tgt_key_padding_mask": tgt_kpm,
            "memory_key_padding_mask": memory_kpm}


@fw.family("transformer_decoder_layer")
def make_decoder_layer():
    w = writer("transformer_decoder_layer")
    # (name, gelu, norm_first, batch_first, (tgt_mask, memory_mask, padding), eps, unbatched)
    cases = [
        ("relu, post-norm, sequence first, no masks", False, False, False, (None, None, False), 1e-5, False),
        ("relu, post-norm, sequence first, causal bool tgt_mask", False, False, False, ("causal", None, False), 1e-5,
         False),
        ("gelu, post-norm, batch_first, causal tgt_mask and both padding masks", True, False, True,
         ("causal", None, True), 1e-5, False),
        ("relu, norm_first, batch_first, float causal tgt_mask and bool memory_mask", False, True, True,
         ("causal_float", "bool", False), 1e-5, False),
        ("gelu, norm_first, sequence first, float memory_mask and padding masks, eps 1e-3", True, True, False,
         ("causal", "float", True), 1e-3, False),
        ("relu, post-norm, unbatched with every mask", False, False, False, ("causal", "bool", True), 1e-5, True),
    ]
    for name, gelu, norm_first, batch_first, kinds, eps, unbatched in cases:
        m = nn.TransformerDecoderLayer(D, H, dim_feedforward=FF, activation="gelu" if gelu else "relu",
                                       layer_norm_eps=eps, batch_first=batch_first, norm_first=norm_first).double()
        randomize(m)

        def seq(n):
            if unbatched:
                return randn(n, D)
            return randn(B, n, D) if batch_first else randn(n, B, D)

        def forward(tgt, memory, **masks):
            return [("output", m(tgt, memory, **masks), "gout")]

        record(w, name, layer_params(D, H, FF, gelu, eps, batch_first, norm_first), m,
               {"tgt": seq(T), "memory": seq(S)}, decoder_masks(kinds, B, T, S, unbatched), forward)
    return w


@fw.family("transformer_decoder")
def make_decoder():
    w = writer("transformer_decoder")
    # (name, gelu, norm_first, batch_first, final norm, (tgt_mask, memory_mask, padding))
    cases = [
        ("2 layers, final norm, sequence first, causal tgt_mask", False, False, False, True, ("causal", None, False)),
        ("2 layers, final norm, batch_first, every mask", True, False, True, True, ("causal", "bool", True)),
        ("2 layers, norm_first, final norm, float masks and padding", False, True, False, True,
         ("causal_float", "float", True)),
        ("2 layers, no final norm, batch_first", True, False, True, False, ("causal", None, True)),
    ]
    for name, gelu, norm_first, batch_first, final_norm, kinds in cases:
        layer = nn.TransformerDecoderLayer(D, H, dim_feedforward=FF, activation="gelu" if gelu else "relu",
                                           batch_first=batch_first, norm_first=norm_first)
        m = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(D) if final_norm else None).double()
        randomize(m)

        def seq(n):
            return randn(B, n, D) if batch_first else randn(n, B, D)

        def forward(tgt, memory, **masks):
            return [("output", m(tgt, memory, **masks), "gout")]

        params = dict(layer_params(D, H, FF, gelu, 1e-5, batch_first, norm_first), num_layers=2, final_norm=final_norm)
        record(w, name, params, m, {"tgt": seq(T), "memory": seq(S)}, decoder_masks(kinds, B, T, S), forward)
    return w


@fw.family("transformer")
def make_transformer():
    w = writer("transformer")
    # (name, gelu, norm_first, batch_first, src_mask, (tgt_mask, memory_mask, padding))
    cases = [
        ("2 + 2 layers, post-norm, sequence first, causal tgt_mask", False, False, False, False,
         ("causal_float", None, False)),
        ("2 + 2 layers, post-norm, batch_first, padding of src, tgt and memory", False, False, True, False,
         ("causal", None, True)),
        ("2 + 2 layers, norm_first, gelu, batch_first, every mask", True, True, True, True,
         ("causal_float", "bool", True)),
        ("2 + 2 layers, norm_first, sequence first, float src_mask and memory_mask", False, True, False, True,
         (None, "float", False)),
    ]
    for name, gelu, norm_first, batch_first, with_src_mask, kinds in cases:
        m = nn.Transformer(D, H, 2, 2, FF, activation="gelu" if gelu else "relu", batch_first=batch_first,
                           norm_first=norm_first).double()
        randomize(m)

        def seq(n):
            return randn(B, n, D) if batch_first else randn(n, B, D)

        masks = decoder_masks(kinds, B, T, S)
        masks["src_mask"] = randn(S, S) if with_src_mask else None
        # The decoder's memory is the encoder's output: its padding is the source's.
        masks["src_key_padding_mask"] = masks["memory_key_padding_mask"]

        def forward(src, tgt, **masks):
            return [("output", m(src, tgt, **masks), "gout")]

        params = dict(layer_params(D, H, FF, gelu, 1e-5, batch_first, norm_first), num_encoder_layers=2,
                      num_decoder_layers=2)
        record(w, name, params, m, {"src": seq(S), "tgt": seq(T)}, masks, forward)

    # PyTorch's defaults (d_model 512, nhead 8, 6 + 6 layers, dim_feedforward 2048): the keys only.
    keys = list(nn.Transformer().state_dict().keys())
    w.case("default Transformer keys", {"d_model": 512, "nhead": 8}, [], names={"state": keys})
    return w


def main():
    return fw.run_makers(__doc__, OUT_DIR, fw.families(), 3000, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
