// MultiheadAttention, computed in the [B, L, E] layout whatever batch_first says (the [L, B, E]
// layout is transposed on the way in and out, as views):
//
//   q, k, v = in-projections of query, key, value            [B, L, E], [B, S, E], [B, S, E]
//             (key [B, S, kdim] and value [B, S, vdim] through k_proj_weight, v_proj_weight)
//   add_bias_kv: k, v = cat(k, bias_k), cat(v, bias_v)       [B, S + 1, E]
//   split E into heads: [B, L, E] -> [B, L, H, D] -> [B, H, L, D]
//   add_zero_attn: k, v = cat(k, 0), cat(v, 0) per head      [B, H, S', D]
//   masks: attn_mask [L, S] or [B*H, L, S] -> [B, H, L, S]; key_padding_mask [B, S] -> [B, 1, 1, S],
//          each padded with one "may attend" column per appended key (PyTorch's F.pad(mask, (0, 1)))
//   o, w = scaled_dot_product_attention(q, k, v, mask)       [B, H, L, D], [B, H, L, S']
//          (without need_weights: o alone, from the fused kernel, no [B, H, L, S'] formed)
//   output = out_proj(o -> [B, L, H, D] -> [B, L, E])
//
// PyTorch orders the B*H rows of a 3-D attn_mask batch-major (row b*H + h), which is what
// viewing it as [B, H, L, S] gives. The appended bias_k and zero keys are the same for every
// query and never masked, so with either option no query row is fully masked.
#include "tapegrad/nn/attention/multihead.h"

#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/nn/functional.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

constexpr const char* kName = "MultiheadAttention";

/// A bool mask as PyTorch's additive float mask (0 where kept, -inf where masked out).
Tensor additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() != kBool) return mask;
  return masked_fill(zeros(mask.shape(), dtype), mask, -std::numeric_limits<double>::infinity());
}

void check_mask_dtype(const Tensor& mask, const char* what) {
  TG_CHECK(mask.dtype() == kBool || is_floating(mask.dtype()),
           "{}: {} must be bool (true = masked out) or floating (added to the scores), got {}", kName, what,
           dtype_name(mask.dtype()));
}

/// The mask with one more key (last dim) that every query may attend: false, or 0 added.
Tensor pad_key(const Tensor& mask) {
  std::vector<std::int64_t> shape = mask.shape().vec();
  shape.back() = 1;
  return cat({mask, zeros(shape, mask.dtype())}, -1);
}

/// [B, L, E] -> [B, H, L, D].
Tensor split_heads(const Tensor& x, std::int64_t H) {
  const std::int64_t B = x.size(0), L = x.size(1), E = x.size(2);
  return x.reshape({B, L, H, E / H}).permute({0, 2, 1, 3});
}

}  // namespace

MultiheadAttention::MultiheadAttention(MultiheadAttentionOptions options) : WithOptions(kName, options) {
  const auto& o = options_;
  TG_CHECK(o.embed_dim() > 0, "{}: embed_dim must be positive, got {}", kName, o.embed_dim());
  TG_CHECK(o.num_heads() > 0, "{}: num_heads must be positive, got {}", kName, o.num_heads());
  TG_CHECK(o.embed_dim() % o.num_heads() == 0, "{}: embed_dim {} is not divisible by num_heads {}", kName,
           o.embed_dim(), o.num_heads());
  TG_CHECK(o.dropout() >= 0 && o.dropout() < 1, "{}: dropout must be in [0, 1), got {}", kName, o.dropout());
  TG_CHECK(o.kdim() > 0 && o.vdim() > 0, "{}: kdim and vdim must be positive, got kdim {} and vdim {}", kName, o.kdim(),
           o.vdim());
  reset();
}

void MultiheadAttention::reset() {
  const auto& o = options_;
  const std::int64_t E = o.embed_dim();
  // Registered in PyTorch's order, which is the state_dict's: the projection weights, in_proj_bias,
  // bias_k, bias_v (own parameters), then out_proj's.
  in_proj_weight = q_proj_weight = k_proj_weight = v_proj_weight = in_proj_bias = bias_k = bias_v = Tensor();
  if (qkv_same_embed_dim()) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({E, E}));
    k_proj_weight = register_parameter("k_proj_weight", empty({E, o.kdim()}));
    v_proj_weight = register_parameter("v_proj_weight", empty({E, o.vdim()}));
  }
  if (o.bias()) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * E}));
  // PyTorch builds out_proj (Linear's default init) first, then runs _reset_parameters:
  // xavier_uniform_ on the projection weights, zeros for both biases, xavier_normal_ on bias_k/v.
  out_proj = register_module("out_proj", std::make_shared<Linear>(LinearOptions(E, E).bias(o.bias())));
  if (o.add_bias_kv()) {
    bias_k = register_parameter("bias_k", empty({1, 1, E}));
    bias_v = register_parameter("bias_v", empty({1, 1, E}));
  }
  for (const Tensor* w : {&in_proj_weight, &q_proj_weight, &k_proj_weight, &v_proj_weight})
    if (w->defined()) init::xavier_uniform_(*w);
  if (out_proj->bias.defined()) {
    NoGradGuard guard;
    out_proj->bias.zero_();
  }
  if (o.add_bias_kv()) {
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
}

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const Tensor& key_padding_mask, bool need_weights,
                                                     const Tensor& attn_mask, bool average_attn_weights) {
  const std::int64_t E = options_.embed_dim(), H = options_.num_heads();
  const bool packed = qkv_same_embed_dim();
  const Tensor& some_weight = packed ? in_proj_weight : q_proj_weight;
  TG_CHECK(query.dim() == 3 || query.dim() == 2,
           "{}: expected a 3-D query ({}) or a 2-D unbatched one [L, E], got shape {}", kName,
           options_.batch_first() ? "[B, L, E], batch_first" : "[L, B, E]", query.shape());
  TG_CHECK(key.dim() == query.dim() && value.dim() == query.dim(),
           "{}: key and value must have as many dims as query ({}), got shapes {} and {}", kName, query.dim(),
           key.shape(), value.shape());
  for (const Tensor* x : {&query, &key, &value}) check_input_dtype(kName, *x, some_weight);
  TG_CHECK(query.size(-1) == E, "{}: expected query with embed_dim {} in its last dim, got {} (shape {})", kName, E,
           query.size(-1), query.shape());
  const std::int64_t kdim = options_.kdim(), vdim = options_.vdim();
  TG_CHECK(key.size(-1) == kdim, "{}: expected key with {} {} in its last dim, got {} (shape {})", kName,
           kdim == E ? "embed_dim" : "kdim", kdim, key.size(-1), key.shape());
  TG_CHECK(value.size(-1) == vdim, "{}: expected value with {} {} in its last dim, got {} (shape {})", kName,
           vdim == E ? "embed_dim" : "vdim", vdim, value.size(-1), value.shape());
  // The sequence and batch dims must agree (the feature dims differ when kdim != vdim).
  bool same_positions = true;
  for (std::int64_t d = 0; d + 1 < key.dim(); ++d) same_positions = same_positions && key.size(d) == value.size(d);
  TG_CHECK(same_positions, "{}: key shape {} does not match value shape {} in its sequence and batch dims", kName,
           key.shape(), value.shape());

  // Everything in [B, L, E].
  const bool batched = query.dim() == 3;
  auto to_blE = [&](const Tensor& x) {
    if (!batched) return x.unsqueeze(0);
    return options_.batch_first() ? x : x.transpose(0, 1);
  };
  const Tensor q_in = to_blE(query), k_in = to_blE(key), v_in = to_blE(value);
  const std::int64_t B = q_in.size(0), L = q_in.size(1), S = k_in.size(1);
  TG_CHECK(k_in.size(0) == B, "{}: query and key have different batch sizes, {} and {} (shapes {} and {})", kName, B,
           k_in.size(0), query.shape(), key.shape());

  // In-projection: one GEMM when query, key and value are the same tensor (self-attention).
  Tensor q, k, v;
  if (!packed) {
    std::vector<Tensor> b(3);
    if (in_proj_bias.defined()) b = chunk(in_proj_bias, 3, 0);
    q = functional::linear(q_in, q_proj_weight, b[0]);
    k = functional::linear(k_in, k_proj_weight, b[1]);
    v = functional::linear(v_in, v_proj_weight, b[2]);
  } else if (query.impl() == key.impl() && key.impl() == value.impl()) {
    const auto qkv = chunk(functional::linear(q_in, in_proj_weight, in_proj_bias), 3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    const auto w = chunk(in_proj_weight, 3, 0);
    std::vector<Tensor> b(3);
    if (in_proj_bias.defined()) b = chunk(in_proj_bias, 3, 0);
    q = functional::linear(q_in, w[0], b[0]);
    k = functional::linear(k_in, w[1], b[1]);
    v = functional::linear(v_in, w[2], b[2]);
  }

  // Masks, as [B, H, L, S] or shapes that broadcast to it; checked against the S keys given.
  Tensor mask, kpm4;
  if (attn_mask.defined()) {
    check_mask_dtype(attn_mask, "attn_mask");
    if (attn_mask.dim() == 2) {
      TG_CHECK(same_values(attn_mask.shape(), {L, S}), "{}: the 2-D attn_mask has shape {}, expected [L, S] = [{}, {}]",
               kName, attn_mask.shape(), L, S);
      mask = attn_mask;
    } else if (attn_mask.dim() == 3) {
      TG_CHECK(same_values(attn_mask.shape(), {B * H, L, S}),
               "{}: the 3-D attn_mask has shape {}, expected [B * num_heads, L, S] = [{}, {}, {}]", kName,
               attn_mask.shape(), B * H, L, S);
      mask = attn_mask.reshape({B, H, L, S});
    } else {
      fail("{}: attn_mask must be 2-D [L, S] or 3-D [B * num_heads, L, S], got {}-D (shape {})", kName, attn_mask.dim(),
           attn_mask.shape());
    }
  }
  if (key_padding_mask.defined()) {
    check_mask_dtype(key_padding_mask, "key_padding_mask");
    const Tensor kpm = batched ? key_padding_mask : key_padding_mask.unsqueeze(0);
    TG_CHECK(kpm.dim() == 2 && same_values(kpm.shape(), {B, S}), "{}: key_padding_mask has shape {}, expected {} = {}",
             kName, key_padding_mask.shape(), batched ? "[B, S]" : "[S]",
             batched ? shape_str(DimVec{B, S}) : shape_str(DimVec{S}));
    kpm4 = kpm.reshape({B, 1, 1, S});
  }

  // The appended keys: bias_k / bias_v (one position, the same for every batch entry), then one
  // zero key and value per head; each pads the masks with a column that may be attended.
  std::int64_t appended = 0;
  if (options_.add_bias_kv()) {
    k = cat({k, bias_k.expand({B, 1, E})}, 1);
    v = cat({v, bias_v.expand({B, 1, E})}, 1);
    ++appended;
  }
  Tensor qh = split_heads(q, H), kh = split_heads(k, H), vh = split_heads(v, H);
  if (options_.add_zero_attn()) {
    const Tensor zero = zeros({B, H, 1, head_dim()}, kh.dtype());
    kh = cat({kh, zero}, 2);
    vh = cat({vh, zero}, 2);
    ++appended;
  }
  for (std::int64_t i = 0; i < appended; ++i) {
    if (mask.defined()) mask = pad_key(mask);
    if (kpm4.defined()) kpm4 = pad_key(kpm4);
  }
  // Both masks: PyTorch merges them into one additive float mask.
  if (kpm4.defined()) mask = mask.defined() ? add(additive(mask, q.dtype()), additive(kpm4, q.dtype())) : kpm4;

  const double p = is_training() ? options_.dropout() : 0.0;
  // Without weights (need_weights false, as the Transformer layers ask), the fused kernel: no
  // [B, H, L, S] matrix is formed.
  Tensor o, w;
  if (need_weights) {
    auto ow = functional::scaled_dot_product_attention_with_weights(qh, kh, vh, mask, p);
    o = ow.output;
    w = ow.weights;
  } else {
    o = functional::scaled_dot_product_attention(qh, kh, vh, mask, p);
  }
  Tensor out = out_proj->forward(o.permute({0, 2, 1, 3}).reshape({B, L, E}));
  if (!batched) out = out.squeeze(0);
  else if (!options_.batch_first()) out = out.transpose(0, 1);

  if (!need_weights) return {out, Tensor()};
  if (average_attn_weights) w = div(sum(w, {1}), static_cast<double>(H));  // PyTorch: sum over heads / num_heads
  if (!batched) w = w.squeeze(0);
  return {out, w};
}

}  // namespace tg::nn
