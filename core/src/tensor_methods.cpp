// The method forms of the ops (x.chunk(3, -1), x.flatten(), x.var(-1), ...): each forwards to
// the free function of the same name in ops.h, which holds the checks and the math.
#include "tapegrad/core/ops.h"
#include "tapegrad/core/tensor.h"

namespace tg {

namespace detail {
void throw_dims_index(const char* what, std::int64_t index, IntArrayRef dims) {
  const auto n = static_cast<std::int64_t>(dims.size());
  if (n == 0)
    throw Error(
        fmt::format("{}()[{}]: index {} is out of range: a 0-d tensor has no dims ({} [])", what, index, index, what));
  throw Error(
      fmt::format("{}()[{}]: index {} is out of range for a tensor of {} dims ({} {}); valid indices are {} to {}",
                  what, index, index, n, what, dims, -n, n - 1));
}
}  // namespace detail

// ---- shape family ----
Tensor Tensor::expand_as(const Tensor& other) const { return tg::expand_as(*this, other); }
Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  return tg::flatten(*this, start_dim, end_dim);
}
Tensor Tensor::unflatten(std::int64_t d, IntArrayRef sizes) const { return tg::unflatten(*this, d, sizes); }
Tensor Tensor::narrow(std::int64_t d, std::int64_t start, std::int64_t length) const {
  return tg::narrow(*this, d, start, length);
}
std::vector<Tensor> Tensor::chunk(std::int64_t chunks, std::int64_t d) const { return tg::chunk(*this, chunks, d); }
std::vector<Tensor> Tensor::split_size_(std::int64_t split_size, std::int64_t d) const {
  return tg::split(*this, split_size, d);
}
std::vector<Tensor> Tensor::split(IntArrayRef sizes, std::int64_t d) const { return tg::split(*this, sizes, d); }
Tensor Tensor::repeat(IntArrayRef repeats) const { return tg::repeat(*this, repeats); }
Tensor Tensor::flip(IntArrayRef dims) const { return tg::flip(*this, dims); }

// ---- index family ----
Tensor Tensor::index_select(std::int64_t d, const Tensor& index) const { return tg::index_select(*this, d, index); }
Tensor Tensor::gather(std::int64_t d, const Tensor& index) const { return tg::gather(*this, d, index); }
Tensor Tensor::scatter_add(std::int64_t d, const Tensor& index, const Tensor& src) const {
  return tg::scatter_add(*this, d, index, src);
}
Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return tg::masked_fill(*this, mask, value); }
Tensor Tensor::where(const Tensor& condition, const Tensor& other) const { return tg::where(condition, *this, other); }
Tensor Tensor::where(const Tensor& condition, double other) const { return tg::where(condition, *this, other); }
Tensor Tensor::tril(std::int64_t diagonal) const { return tg::tril(*this, diagonal); }
Tensor Tensor::triu(std::int64_t diagonal) const { return tg::triu(*this, diagonal); }
ValuesIndices Tensor::topk(std::int64_t k, std::int64_t d, bool largest, bool sorted) const {
  return tg::topk(*this, k, d, largest, sorted);
}
Tensor Tensor::cumsum(std::int64_t d) const { return tg::cumsum(*this, d); }

// ---- elementwise ----
Tensor Tensor::add(double o) const { return tg::add(*this, o); }
Tensor Tensor::sub(double o) const { return tg::sub(*this, o); }
Tensor Tensor::mul(double o) const { return tg::mul(*this, o); }
Tensor Tensor::div(double o) const { return tg::div(*this, o); }
Tensor Tensor::log1p() const { return tg::log1p(*this); }
Tensor Tensor::expm1() const { return tg::expm1(*this); }
Tensor Tensor::erf() const { return tg::erf(*this); }
Tensor Tensor::sign() const { return tg::sign(*this); }
Tensor Tensor::reciprocal() const { return tg::reciprocal(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const { return tg::clamp(*this, min, max); }
Tensor Tensor::clamp_min(double min) const { return tg::clamp(*this, min, std::nullopt); }
Tensor Tensor::clamp_max(double max) const { return tg::clamp(*this, std::nullopt, max); }
Tensor Tensor::maximum(const Tensor& o) const { return tg::maximum(*this, o); }
Tensor Tensor::minimum(const Tensor& o) const { return tg::minimum(*this, o); }

// ---- reductions ----
Tensor Tensor::max() const { return tg::amax(*this); }
Tensor Tensor::min() const { return tg::amin(*this); }
Tensor Tensor::max(const Tensor& other) const { return tg::maximum(*this, other); }
Tensor Tensor::min(const Tensor& other) const { return tg::minimum(*this, other); }
Tensor Tensor::var(IntArrayRef dims, bool unbiased, bool keepdim) const {
  return tg::var(*this, dims, unbiased, keepdim);
}
Tensor Tensor::std(IntArrayRef dims, bool unbiased, bool keepdim) const {
  return tg::std(*this, dims, unbiased, keepdim);
}
Tensor Tensor::norm(double p, IntArrayRef dims, bool keepdim) const { return tg::norm(*this, p, dims, keepdim); }
Tensor Tensor::logsumexp(IntArrayRef dims, bool keepdim) const { return tg::logsumexp(*this, dims, keepdim); }
Tensor Tensor::sum_to_size(IntArrayRef shape) const { return tg::sum_to_size(*this, shape); }

// ---- in place ----
const Tensor& Tensor::relu_() const { return tg::relu_(*this); }
const Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) const {
  return tg::clamp_(*this, min, max);
}
const Tensor& Tensor::masked_fill_(const Tensor& mask, double value) const {
  return tg::masked_fill_(*this, mask, value);
}

}  // namespace tg
