// Positional encodings.
//
// Sinusoidal table (Vaswani et al. 2017, section 3.5): with w_i = base^(-2i/d) =
// exp(-2i ln(base) / d), column 2i is sin(pos w_i) and column 2i+1 is cos(pos w_i). For a fixed
// offset k, PE(pos + k) is a rotation of each (sin, cos) pair of PE(pos) by the angle k w_i, a
// linear map independent of pos: the reason the paper gives for the choice.
//
// Additive encodings: [B, T, d] + table[start : start+T] ([T, d] broadcasts over B); for [T, B, d]
// the rows are viewed as [T, 1, d]. The gradient of the input is the upstream gradient itself;
// a learned table's rows get the upstream gradient summed over the batch (broadcasting undone by
// autograd).
//
// RoPE (Su et al. 2021), half layout: pair (i, i + d/2) is a 2-D vector rotated by pos theta_i.
// For q at position m and k at position n, R(m a)^T R(n a) = R((n - m) a), so every pair's
// contribution to q_m . k_n depends on m - n only. The rotation is composed from mul, add and cat,
// so autograd differentiates it; its Jacobian is the rotation's transpose (the inverse rotation).
#include "tapegrad/nn/attention/positional.h"

#include <cmath>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

void check_sizes(const char* who, std::int64_t d_model, std::int64_t max_len, double dropout) {
  TG_CHECK(d_model > 0, "{}: d_model must be positive, got {}", who, d_model);
  TG_CHECK(max_len > 0, "{}: max_len must be positive, got {}", who, max_len);
  TG_CHECK(dropout >= 0 && dropout <= 1, "{}: dropout must be in [0, 1], got {}", who, dropout);
}

/// x + table[start : start+T] (table [max_len, d]) for x [B, T, d], [T, B, d] or [T, d].
Tensor add_positions(const char* who, const Tensor& x, const Tensor& table, std::int64_t start, bool batch_first) {
  const std::int64_t max_len = table.size(0), d = table.size(1);
  TG_CHECK(x.dim() == 3 || x.dim() == 2, "{}: expected input {} or unbatched [T, d], got shape {}", who,
           batch_first ? "[B, T, d]" : "[T, B, d]", x.shape());
  TG_CHECK(x.size(-1) == d, "{}: the input's last dim is {} but d_model is {} (shape {})", who, x.size(-1), d,
           x.shape());
  Module::check_input_dtype(who, x, table);
  const std::int64_t T = x.dim() == 3 && batch_first ? x.size(1) : x.size(0);
  TG_CHECK(start >= 0, "{}: start position must be non-negative, got {}", who, start);
  TG_CHECK(start + T <= max_len,
           "{}: positions {}..{} of a sequence of length {} exceed max_len {}; build it with a larger max_len", who,
           start, start + T - 1, T, max_len);
  Tensor rows = table.narrow(0, start, T);                     // [T, d]
  if (x.dim() == 3 && !batch_first) rows = rows.unsqueeze(1);  // [T, 1, d]
  return x + rows;
}

}  // namespace

// ---- the additive encodings ------------------------------------------------------------------------

template <class Derived, class Options>
AdditivePositionalEncoding<Derived, Options>::AdditivePositionalEncoding(const char* type_name, Options options)
    : WithOptions<Derived, Options>(type_name, std::move(options)) {
  const Options& o = this->options_;
  check_sizes(type_name, o.d_model(), o.max_len(), o.dropout());
}

template <class Derived, class Options>
Tensor AdditivePositionalEncoding<Derived, Options>::forward(const Tensor& x, std::int64_t start) {
  const Options& o = this->options_;
  const Tensor out = add_positions(this->type_name().c_str(), x, table(), start, o.batch_first());
  return dropout(out, o.dropout(), this->is_training());
}

template class AdditivePositionalEncoding<SinusoidalPositionalEncoding, SinusoidalPositionalEncodingOptions>;
template class AdditivePositionalEncoding<LearnedPositionalEncoding, LearnedPositionalEncodingOptions>;

// ---- sinusoidal ------------------------------------------------------------------------------------

Tensor sinusoidal_table(std::int64_t max_len, std::int64_t d_model, double base) {
  TG_CHECK(max_len > 0 && d_model > 0, "sinusoidal_table: max_len and d_model must be positive, got {} and {}", max_len,
           d_model);
  TG_CHECK(base > 0, "sinusoidal_table: base must be positive, got {}", base);
  std::vector<double> pe(static_cast<std::size_t>(max_len * d_model));
  const double log_base = std::log(base);
  for (std::int64_t i = 0; 2 * i < d_model; ++i) {
    const double w = std::exp(static_cast<double>(2 * i) * (-log_base / static_cast<double>(d_model)));
    for (std::int64_t pos = 0; pos < max_len; ++pos) {
      const double angle = static_cast<double>(pos) * w;
      pe[pos * d_model + 2 * i] = std::sin(angle);
      if (2 * i + 1 < d_model) pe[pos * d_model + 2 * i + 1] = std::cos(angle);
    }
  }
  return from_vector(pe, {max_len, d_model});
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions options)
    : AdditivePositionalEncoding("SinusoidalPositionalEncoding", options) {
  TG_CHECK(options_.base() > 0, "SinusoidalPositionalEncoding: base must be positive, got {}", options_.base());
  reset();
}

void SinusoidalPositionalEncoding::reset() {
  pe = register_buffer("pe", sinusoidal_table(options_.max_len(), options_.d_model(), options_.base()).to(kFloat32));
}

// ---- learned ---------------------------------------------------------------------------------------

LearnedPositionalEncoding::LearnedPositionalEncoding(LearnedPositionalEncodingOptions options)
    : AdditivePositionalEncoding("LearnedPositionalEncoding", options) {
  reset();
}

void LearnedPositionalEncoding::reset() {
  weight = register_parameter("weight", empty({options_.max_len(), options_.d_model()}));
  init::normal_(weight, 0.0, 1.0);
}

// ---- rotary ----------------------------------------------------------------------------------------

RotaryTables rotary_tables(std::int64_t T, std::int64_t dim, double base, std::int64_t start) {
  TG_CHECK(T >= 0 && start >= 0, "rotary_tables: length and start must be non-negative, got {} and {}", T, start);
  TG_CHECK(dim > 0 && dim % 2 == 0, "rotary_tables: dim must be even and positive (features rotate in pairs), got {}",
           dim);
  TG_CHECK(base > 0, "rotary_tables: base must be positive, got {}", base);
  const std::int64_t half = dim / 2;
  std::vector<double> c(static_cast<std::size_t>(T * dim)), s(c.size());
  for (std::int64_t i = 0; i < half; ++i) {
    // theta_i = base^(-2i/d), computed as 1 / base^(2i/d), the form the common implementations use.
    const double theta = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim));
    for (std::int64_t t = 0; t < T; ++t) {
      const double angle = static_cast<double>(start + t) * theta;
      c[t * dim + i] = c[t * dim + i + half] = std::cos(angle);
      s[t * dim + i] = s[t * dim + i + half] = std::sin(angle);
    }
  }
  return {from_vector(c, {T, dim}), from_vector(s, {T, dim})};
}

namespace functional {

Tensor rotate_half(const Tensor& x) {
  TG_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0, "rotate_half: the last dim must be even, got shape {}", x.shape());
  const std::int64_t half = x.size(-1) / 2;
  return cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

Tensor apply_rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  constexpr const char* who = "apply_rotary_embedding";
  TG_CHECK(x.defined() && cos.defined() && sin.defined(), "{}: x, cos and sin must be defined", who);
  TG_CHECK(is_floating(x.dtype()) && is_floating(cos.dtype()) && is_floating(sin.dtype()),
           "{}: x, cos and sin must be floating, got {}, {} and {}", who, dtype_name(x.dtype()),
           dtype_name(cos.dtype()), dtype_name(sin.dtype()));
  TG_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0,
           "{}: x's last dim must be even (features rotate in pairs i, i + d/2), got shape {}", who, x.shape());
  TG_CHECK(same_values(cos.shape(), sin.shape()), "{}: cos and sin must have one shape, got {} and {}", who,
           cos.shape(), sin.shape());
  bool fits = cos.dim() <= x.dim();  // cos broadcasts to x without enlarging it
  for (std::int64_t i = 1; fits && i <= cos.dim(); ++i) fits = cos.size(-i) == 1 || cos.size(-i) == x.size(-i);
  TG_CHECK(fits, "{}: cos and sin {} must broadcast to x {} (tables [T, d] for x [..., T, d])", who, cos.shape(),
           x.shape());
  return x * cos + rotate_half(x) * sin;
}

}  // namespace functional

RotaryEmbedding::RotaryEmbedding(RotaryEmbeddingOptions options) : WithOptions("RotaryEmbedding", options) {
  const auto& o = options_;
  TG_CHECK(o.dim() > 0 && o.dim() % 2 == 0,
           "RotaryEmbedding: dim must be even and positive (features rotate in pairs), got {}", o.dim());
  TG_CHECK(o.max_len() > 0, "RotaryEmbedding: max_len must be positive, got {}", o.max_len());
  TG_CHECK(o.base() > 0, "RotaryEmbedding: base must be positive, got {}", o.base());
  reset();
}

void RotaryEmbedding::reset() {
  RotaryTables t = rotary_tables(options_.max_len(), options_.dim(), options_.base());
  cos_cached_ = t.cos;
  sin_cached_ = t.sin;
}

Tensor RotaryEmbedding::forward(const Tensor& x, std::int64_t offset) {
  constexpr const char* who = "RotaryEmbedding";
  const std::int64_t dim = options_.dim(), max_len = options_.max_len();
  TG_CHECK(x.dim() >= 2, "{}: expected x [..., T, {}], got shape {}", who, dim, x.shape());
  TG_CHECK(x.size(-1) == dim, "{}: x's last dim is {} but dim is {} (shape {})", who, x.size(-1), dim, x.shape());
  TG_CHECK(is_floating(x.dtype()), "{}: expected float input, got {}", who, dtype_name(x.dtype()));
  const std::int64_t T = x.size(-2);
  TG_CHECK(offset >= 0, "{}: offset must be non-negative, got {}", who, offset);
  TG_CHECK(offset + T <= max_len,
           "{}: positions {}..{} of a sequence of length {} exceed max_len {}; build it with a larger max_len", who,
           offset, offset + T - 1, T, max_len);
  Tensor c = cos_cached_.narrow(0, offset, T), s = sin_cached_.narrow(0, offset, T);
  if (x.dtype() != c.dtype()) {
    c = c.to(x.dtype());
    s = s.to(x.dtype());
  }
  return functional::apply_rotary_embedding(x, c, s);
}

}  // namespace tg::nn
