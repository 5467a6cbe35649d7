// The mask convention and the masked softmax (see mask.h).
//
// The fully masked row. softmax over a row of -inf is 0/0 = NaN. A row is fully masked exactly
// when its mask row is all true (bool) or all -inf (floating), so it is found from the mask
// alone, by one reduction over the mask's last dim (the mask is often much smaller than the
// scores: [L, S] or [B, 1, 1, S]). Only when such a row exists do we pay more:
//
//   scores' = masked_fill(masked scores, dead, 0)      (a finite row: softmax stays finite)
//   weights = masked_fill(softmax(scores'), dead, 0)
//
// masked_fill passes no gradient where it writes, so a dead row sends exactly zero gradient to
// the scores (hence to q, k and the mask) and its zero weights send zero to v; a masked key in a
// live row has weight exp(-inf) = 0 exactly, and softmax's backward y (g - <g, y>) is 0 there.
#include "tapegrad/nn/attention/mask.h"

#include <cmath>
#include <limits>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/core/ops/softmax.h"

namespace tg::nn {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// mask broadcasts to target (trailing alignment, sizes equal or 1, no extra dims).
bool broadcasts_to(IntArrayRef mask, IntArrayRef target) {
  if (mask.size() > target.size()) return false;
  const std::size_t lead = target.size() - mask.size();
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 1 && mask[i] != target[lead + i]) return false;
  return true;
}

std::string layout_of(std::size_t dims) {
  if (dims == 3) return "[B, Tq, Tk]";
  if (dims == 4) return "[B, H, Tq, Tk]";
  return "[..., Tq, Tk]";
}

/// bool -> 0 / -inf in dtype; floating -> dtype.
Tensor additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() == kBool) return masked_fill(zeros(mask.shape(), dtype), mask, kNegInf);
  return mask.dtype() == dtype ? mask : mask.to(dtype);
}

}  // namespace

Tensor lengths_to_padding_mask(const Tensor& lengths, std::int64_t max_len) {
  constexpr const char* kOp = "lengths_to_padding_mask";
  TG_CHECK(max_len >= 1, "{}: max_len must be at least 1, got {}", kOp, max_len);
  TG_CHECK(lengths.dim() == 1 && lengths.dtype() == kInt64, "{}: lengths must be a 1-D int64 tensor [B], got {} {}",
           kOp, dtype_name(lengths.dtype()), lengths.shape());
  const std::vector<std::int64_t> v = lengths.contiguous().to_vector<std::int64_t>();
  for (std::size_t b = 0; b < v.size(); ++b)
    TG_CHECK(v[b] >= 1 && v[b] <= max_len, "{}: lengths must be in [1, T = {}], got lengths[{}] = {}", kOp, max_len, b,
             v[b]);
  // step t is padding when t >= length: arange(T) [1, T] >= lengths [B, 1]
  std::vector<std::int64_t> steps(static_cast<std::size_t>(max_len));
  for (std::int64_t t = 0; t < max_len; ++t) steps[static_cast<std::size_t>(t)] = t;
  const Tensor t = from_vector(steps, {1, max_len});
  return ge(t, lengths.reshape({static_cast<std::int64_t>(v.size()), 1}));
}

Tensor lengths_to_padding_mask(const std::vector<std::int64_t>& lengths, std::int64_t max_len) {
  return lengths_to_padding_mask(from_vector(lengths, {static_cast<std::int64_t>(lengths.size())}), max_len);
}

Tensor generate_square_subsequent_mask(std::int64_t sz, DType dtype) {
  TG_CHECK(sz >= 1, "generate_square_subsequent_mask: sz must be at least 1, got {}", sz);
  TG_CHECK(is_floating(dtype), "generate_square_subsequent_mask: dtype must be floating, got {}", dtype_name(dtype));
  return masked_fill(zeros({sz, sz}, dtype), gt(triu(ones({sz, sz}), 1), 0.0), kNegInf);
}

void check_attention_mask(const Tensor& mask, IntArrayRef scores_shape, std::string_view who, std::string_view what) {
  TG_CHECK(mask.dtype() == kBool || is_floating(mask.dtype()),
           "{}: {} must be bool (true = may not attend) or floating (added to the scores), got {}", who, what,
           dtype_name(mask.dtype()));
  TG_CHECK(broadcasts_to(mask.shape(), scores_shape),
           "{}: {} of shape {} does not broadcast to the attention scores' shape {} ({})", who, what, mask.shape(),
           scores_shape, layout_of(scores_shape.size()));
}

Tensor merge_masks(const Tensor& a, const Tensor& b, DType dtype) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  if (a.dtype() == kBool && b.dtype() == kBool) return add(a, b);  // bool + bool is a logical or
  return add(additive(a, dtype), additive(b, dtype));              // -inf + x = -inf
}

Tensor mask_for_heads(const Tensor& mask) { return mask.defined() && mask.dim() == 3 ? mask.unsqueeze(1) : mask; }

namespace functional {

Tensor masked_softmax(const Tensor& scores, const Tensor& mask) {
  if (!mask.defined()) return softmax(scores, -1);
  check_attention_mask(mask, scores.shape(), "masked_softmax");
  const Tensor m = mask.dim() == 0 ? mask.reshape({1}) : mask;
  Tensor masked, dead;  // dead: [..., 1], the rows of m whose keys are all masked
  if (m.dtype() == kBool) {
    masked = masked_fill(scores, m, kNegInf);
    dead = eq(sum(m, {-1}, true), static_cast<double>(m.size(-1)));
  } else {
    masked = add(scores, m.dtype() == scores.dtype() ? m : m.to(scores.dtype()));
    dead = eq(amax(m, {-1}, true), kNegInf);
  }
  if (sum(dead).item() == 0) return softmax(masked, -1);
  return masked_fill(softmax(masked_fill(masked, dead, 0.0), -1), dead, 0.0);
}

}  // namespace functional
}  // namespace tg::nn
