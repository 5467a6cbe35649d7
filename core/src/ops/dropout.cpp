// The dropout family: inverted dropout as a composition (a mask from the generator, one mul), so
// its gradient is the mul's: the mask again.
#include "tapegrad/core/ops/dropout.h"

#include "ops/pointwise.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/elementwise.h"

namespace tg {

using detail::unary_floating;

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  TG_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, zeros_like(x));
  // The mask holds 0 or 1 / (1 - p), so that the expected value of each element is unchanged.
  const Tensor u = rand(x.shape(), is_floating(x.dtype()) ? x.dtype() : kFloat32, generator);
  const Tensor mask = unary_floating(u, "dropout", [p](auto v) {
    using T = decltype(v);
    return v < static_cast<T>(p) ? T(0) : static_cast<T>(1 / (1 - p));
  });
  return mul(x, mask);
}

}  // namespace tg
