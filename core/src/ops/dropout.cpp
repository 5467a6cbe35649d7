// The dropout family: inverted dropout. Element i of x is dropped when the uniform that tg::rand
// makes from the generator's counter base + i is below p, so that dropout equals the composition
// mul(x, mask), mask = rand < p ? 0 : 1 / (1 - p), from the same generator state (the fused
// attention's dropout, ops/attention.cpp, draws the same way). Its gradient is the mul's: the
// mask again.
//
// One pass draws, compares and multiplies, with the compare done on the integer the uniform is
// made of. float: u = k 2^-24 with k = bits >> 40 (k < 2^24 is exact in a float, and so is the
// product by a power of two), so u < P (P = float(p)) <=> k < P 2^24 over the reals, and for an
// integer k, k < X <=> k < ceil(X): the threshold is t = ceil(P 2^24), exact in double (P 2^24
// is P's bits with the exponent moved; t <= 2^24). double: u = k 2^-53 with k = bits >> 11 and
// t = ceil(p 2^53) in the same way. So the integer compare drops exactly the elements the float
// compare drops, for every value of the hash.
#include "tapegrad/core/ops/dropout.h"

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/parallel.h"
#include "ops/pointwise.h"
#include "random_detail.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

/// x * z with z = 0 (dropped: k < t) or keep, and z itself into mask (when not null).
template <typename T>
void dropout_kernel(const T* __restrict x, T* __restrict out, T* __restrict mask, std::int64_t n, const Generator& gen,
                    std::uint64_t base, double p) {
  constexpr int kShift = std::is_same_v<T, float> ? 40 : 11;                        // 64 - the uniform's 24 or 53 bits
  const double units = std::is_same_v<T, float> ? 16777216.0 : 9007199254740992.0;  // 2^24, 2^53
  const auto t = static_cast<std::uint64_t>(std::ceil(static_cast<double>(static_cast<T>(p)) * units));
  const T keep = static_cast<T>(1 / (1 - p));
  kernels::parallel_for(n, 8192, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T z = (gen.bits(base + static_cast<std::uint64_t>(i)) >> kShift) < t ? T(0) : keep;
      out[i] = x[i] * z;
      if (mask != nullptr) mask[i] = z;
    }
  });
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  TG_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, zeros_like(x));
  if (!is_floating(x.dtype())) {
    // The composition: a float32 mask, and mul's type promotion.
    const Tensor u = rand(x.shape(), kFloat32, generator);
    const Tensor mask = detail::unary_floating(u, "dropout", [p](auto v) {
      using T = decltype(v);
      return v < static_cast<T>(p) ? T(0) : static_cast<T>(1 / (1 - p));
    });
    return mul(x, mask);
  }
  const std::uint64_t base = detail::reserve_counters(generator, static_cast<std::uint64_t>(x.numel()));
  const Tensor xc = detail::as_contiguous(x);
  Tensor out = detail::new_empty(x.shape(), x.dtype());
  const bool needs = autograd::needs_grad(x);
  Tensor mask = needs ? detail::new_empty(x.shape(), x.dtype()) : Tensor();
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dropout_kernel<T>(xc.data<T>(), out.data<T>(), needs ? mask.data<T>() : nullptr, x.numel(), *generator, base, p);
  });
  if (needs)
    autograd::record("dropout", out, {&x},
                     [sm = SavedTensor::input(mask)](BackwardContext& c) { c.set(0, mul(c.grad(), c.unpack(sm))); });
  return out;
}

}  // namespace tg
