"""What the MultiheadAttention golden cases of make_attention_fixtures.py and
make_transformer_fixtures.py share: fresh random parameters, random masks, a case's inputs and
masks drawn in one fixed order, and the forward that records output and weights. Drawn from torch's
global generator, which fixture_writer.run_makers seeds per file."""

import torch

import fixture_writer as fw
from fixture_writer import randn


def randomize(module):
    """Fresh random values for every parameter: weights ~ N(0, 1/fan_in), vectors ~ N(0, 0.25),
    LayerNorm weights around 1 (so that the layers of a stack differ)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.5 if p.dim() == 1 else 1.0 / p.shape[-1] ** 0.5
            is_norm_weight = ".norm" in "." + name and name.endswith("weight")
            p.copy_(randn(*p.shape) * scale + (1.0 if is_norm_weight else 0.0))


def bool_mask(*shape, p=0.3):
    """Random bool mask (True = may not attend); key 0 stays open so no row is fully masked."""
    m = torch.rand(*shape) < p
    m[..., 0] = False
    return m


def padding(B, n, lengths):
    """Key padding mask [B, n]: True after each sequence's length."""
    return torch.arange(n)[None, :] >= torch.tensor(lengths)[:, None]


def inputs_and_masks(E, H, B, L, S, self_attn, batch_first, unbatched, kpm_kind, mask_kind, kdim=None, vdim=None):
    """A case's float inputs {"query"[, "key", "value"]} and masks {"key_padding_mask", "attn_mask"}
    (None where the case has none). kpm_kind: None, "bool", "float" or "all" (batch entry 1 fully
    padded); mask_kind: None, "bool2", "float2", "bool3" or "float3" (per head)."""
    Lq = S if self_attn else L

    def seq(n, d):
        if unbatched:
            return randn(n, d)
        return randn(B, n, d) if batch_first else randn(n, B, d)

    if self_attn:
        inputs = {"query": seq(Lq, E)}
    else:
        inputs = {"query": seq(Lq, E), "key": seq(S, kdim or E), "value": seq(S, vdim or E)}
    kpm = None
    if kpm_kind == "float":
        kpm = randn(B, S)
    elif kpm_kind == "all":
        kpm = padding(B, S, [3, 0])
    elif kpm_kind:
        kpm = bool_mask(S) if unbatched else bool_mask(B, S)
    mask = None
    if mask_kind == "bool2":
        mask = bool_mask(Lq, S)
    elif mask_kind == "float2":
        mask = randn(Lq, S)
    elif mask_kind == "bool3":
        mask = bool_mask((1 if unbatched else B) * H, Lq, S)
    elif mask_kind == "float3":
        mask = randn((1 if unbatched else B) * H, Lq, S)
    return inputs, {"key_padding_mask": kpm, "attn_mask": mask}


def forward_of(m, need_weights, average):
    """The recorded forward of MultiheadAttention m: [("output", out, "gout")] and, with
    need_weights, ("weights", weights, "gweights"); key and value default to the query."""

    def forward(query, key=None, value=None, key_padding_mask=None, attn_mask=None):
        if key is None:
            key = value = query
        out, wts = m(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                     attn_mask=attn_mask, average_attn_weights=average)
        res = [("output", out, "gout")]
        if need_weights:
            res.append(("weights", wts, "gweights"))
        return res

    return forward


def record(w, name, params, module, float_inputs, masks, forward, **options):
    """Runs forward(**float_inputs, **masks) -> [(key, tensor, gkey)] and stores the case through
    fw.record_module (options: forward_only, finite_outputs): state, inputs, the masks that are not
    None, outputs, upstream gradients and the gradients of sum((out * g).sum())."""
    stored = [(k, fw.store_mask(v)) for k, v in masks.items() if v is not None]
    fw.record_module(w, name, params, module, float_inputs, lambda **leaves: forward(**leaves, **masks), stored,
                     **options)
