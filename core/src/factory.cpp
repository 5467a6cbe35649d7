// Factories: constant fills, ranges, identity, random draws and tensors from C++ values.
#include "tapegrad/core/factory.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <numbers>

#include "kernels/parallel.h"
#include "random_detail.h"
#include "tensor_detail.h"

namespace tg {

std::uint64_t detail::reserve_counters(Generator*& gen, std::uint64_t n) {
  static std::mutex mutex;
  if (gen != nullptr) return gen->advance(n);
  gen = &default_generator();
  std::lock_guard<std::mutex> lock(mutex);
  return gen->advance(n);
}

namespace {

Tensor finish(Tensor t, const Options& o) {
  if (o.requires_grad()) t.requires_grad_(true);
  return t;
}

std::uint64_t reserve(Generator*& gen, std::uint64_t n) { return detail::reserve_counters(gen, n); }

constexpr double kTwoPow53 = 9007199254740992.0;

/// A uniform double in [0, 1) from 53 bits.
double uniform01(std::uint64_t bits) { return static_cast<double>(bits >> 11) / kTwoPow53; }

/// A zero-filled tensor; op names the factory in errors.
Tensor zeros_for(IntArrayRef shape, DType dtype, const char* op) {
  Tensor t = detail::new_empty(shape, dtype, op);
  std::memset(t.data_ptr(), 0, static_cast<std::size_t>(t.numel()) * itemsize(dtype));
  return t;
}

Tensor full_for(IntArrayRef shape, double value, const Options& o, const char* op) {
  Tensor t = detail::new_empty(shape, o.dtype(), op);
  t.fill_(value);
  return finish(t, o);
}

}  // namespace

Tensor empty(IntArrayRef shape, Options o) { return finish(detail::new_empty(shape, o.dtype(), "empty"), o); }

Tensor zeros(IntArrayRef shape, Options o) { return finish(zeros_for(shape, o.dtype(), "zeros"), o); }

Tensor ones(IntArrayRef shape, Options o) { return full_for(shape, 1.0, o, "ones"); }

Tensor full(IntArrayRef shape, double value, Options o) { return full_for(shape, value, o, "full"); }

Tensor arange(std::int64_t end, Options o) { return arange(0.0, static_cast<double>(end), 1.0, o); }

Tensor arange(double start, double end, double step, Options o) {
  TG_CHECK(!std::isnan(start) && !std::isnan(end) && !std::isnan(step),
           "arange: start, end and step must not be NaN, got {}, {} and {}", start, end, step);
  TG_CHECK(step != 0, "arange: step must be nonzero");
  TG_CHECK((end - start) / step >= 0 || start == end, "arange: the range from {} to {} cannot be reached with step {}",
           start, end, step);
  // The count as a double first: an infinite or huge range must not reach the int64 conversion.
  const double count = start == end ? 0.0 : std::ceil((end - start) / step);
  constexpr double kTwoPow63 = 9223372036854775808.0;
  TG_CHECK(count < kTwoPow63, "arange: the range from {} to {} with step {} has {} elements, more than 2^63-1", start,
           end, step, count);
  const auto n = static_cast<std::int64_t>(count);
  if (o.dtype() == kInt64 && n > 0) {
    const double last = start + static_cast<double>(n - 1) * step;
    TG_CHECK(start >= -kTwoPow63 && start < kTwoPow63 && last >= -kTwoPow63 && last < kTwoPow63,
             "arange: the values from {} to {} do not fit in int64", start, last);
  }
  Tensor t = detail::new_empty({n}, o.dtype(), "arange");
  dispatch(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return finish(t, o);
}

Tensor eye(std::int64_t n, std::int64_t m, Options o) {
  if (m < 0) m = n;
  TG_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  Tensor t = zeros_for({n, m}, o.dtype(), "eye");
  dispatch(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return finish(t, o);
}

Tensor randn(IntArrayRef shape, Options o, Generator* gen) {
  TG_CHECK(is_floating(o.dtype()), "randn: expected a floating dtype, got {}", dtype_name(o.dtype()));
  Tensor t = detail::new_empty(shape, o.dtype(), "randn");
  const std::int64_t n = t.numel(), pairs = (n + 1) / 2;
  const std::uint64_t base = reserve(gen, static_cast<std::uint64_t>(2 * pairs));
  dispatch_floating(o.dtype(), "randn", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    // Box-Muller on the pair of uniforms at counters (2j, 2j + 1).
    kernels::parallel_for(pairs, 4096, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; ++j) {
        const double u1 = 1.0 - uniform01(gen->bits(base + 2 * j));  // (0, 1]
        const double u2 = uniform01(gen->bits(base + 2 * j + 1));
        const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
        p[2 * j] = static_cast<T>(r * std::cos(theta));
        if (2 * j + 1 < n) p[2 * j + 1] = static_cast<T>(r * std::sin(theta));
      }
    });
  });
  return finish(t, o);
}

Tensor rand(IntArrayRef shape, Options o, Generator* gen) {
  TG_CHECK(is_floating(o.dtype()), "rand: expected a floating dtype, got {}", dtype_name(o.dtype()));
  Tensor t = detail::new_empty(shape, o.dtype(), "rand");
  const std::int64_t n = t.numel();
  const std::uint64_t base = reserve(gen, static_cast<std::uint64_t>(n));
  dispatch_floating(o.dtype(), "rand", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    kernels::parallel_for(n, 8192, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        if constexpr (std::is_same_v<T, float>)
          p[i] = static_cast<float>(gen->bits(base + i) >> 40) * (1.0f / 16777216.0f);  // 24 bits: [0, 1)
        else p[i] = uniform01(gen->bits(base + i));
      }
    });
  });
  return finish(t, o);
}

Tensor randint(std::int64_t low, std::int64_t high, IntArrayRef shape, Options o, Generator* gen) {
  TG_CHECK(low < high, "randint: expected low < high, got low={} and high={}", low, high);
  Tensor t = detail::new_empty(shape, kInt64, "randint");
  const std::int64_t n = t.numel();
  const std::uint64_t base = reserve(gen, static_cast<std::uint64_t>(n));
  // high - low in unsigned arithmetic: the full int64 range (2^64 - 1) does not fit in int64.
  const auto range = static_cast<unsigned __int128>(static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low));
  std::int64_t* p = t.data<std::int64_t>();
  kernels::parallel_for(n, 8192, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i)
      // multiply-shift; the sum in uint64 (modulo 2^64, then to int64 as C++20 defines it) cannot
      // overflow where low + offset in int64 would for the full range.
      p[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(low) +
                                       static_cast<std::uint64_t>((range * gen->bits(base + i)) >> 64));
  });
  return finish(detail::convert(t, o.dtype()), o);
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype()); }
Tensor randn_like(const Tensor& t, Generator* g) { return randn(t.shape(), t.dtype(), g); }
Tensor rand_like(const Tensor& t, Generator* g) { return rand(t.shape(), t.dtype(), g); }

Tensor scalar_tensor(double value, Options o) { return full_for({}, value, o, "scalar_tensor"); }

namespace {
template <typename T>
Tensor from_values(const std::vector<T>& values, IntArrayRef shape, Options o, const char* op = "from_vector") {
  const std::int64_t n = checked_numel(shape, op);
  TG_CHECK(values.size() == static_cast<std::uint64_t>(n), "{}: {} values cannot fill shape {} ({} elements)", op,
           values.size(), shape, n);
  Tensor t = detail::new_empty(shape, dtype_of<T>, op);
  T* p = static_cast<T*>(t.data_ptr());
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return finish(detail::convert(t, o.dtype()), o);
}

void collect(const NestedList& list, std::size_t depth, DimVec& shape, std::vector<double>& values) {
  if (list.is_scalar()) {
    TG_CHECK(depth == shape.size(), "tensor: the nested list is ragged (a number at depth {}, expected depth {})",
             depth, shape.size());
    values.push_back(list.value());
    return;
  }
  const auto n = static_cast<std::int64_t>(list.items().size());
  if (depth == shape.size()) {
    TG_CHECK(values.empty(), "tensor: the nested list is ragged (a list at depth {} where numbers were found)", depth);
    shape.push_back(n);
  } else {
    TG_CHECK(shape[depth] == n, "tensor: the nested list is ragged (a list of {} items at depth {}, expected {})", n,
             depth, shape[depth]);
  }
  for (const NestedList& item : list.items()) collect(item, depth + 1, shape, values);
}
}  // namespace

Tensor from_vector(const std::vector<float>& v, IntArrayRef shape, Options o) { return from_values(v, shape, o); }
Tensor from_vector(const std::vector<double>& v, IntArrayRef shape, Options o) { return from_values(v, shape, o); }
Tensor from_vector(const std::vector<std::int64_t>& v, IntArrayRef shape, Options o) {
  return from_values(v, shape, o);
}
Tensor from_vector(const std::vector<bool>& v, IntArrayRef shape, Options o) {
  const std::int64_t n = checked_numel(shape, "from_vector");
  TG_CHECK(v.size() == static_cast<std::uint64_t>(n), "from_vector: {} values cannot fill shape {} ({} elements)",
           v.size(), shape, n);
  Tensor t = detail::new_empty(shape, kBool, "from_vector");
  bool* p = t.data<bool>();
  for (std::size_t i = 0; i < v.size(); ++i) p[i] = v[i];
  return finish(detail::convert(t, o.dtype()), o);
}

Tensor tensor(const NestedList& values, Options o) {
  DimVec shape;
  std::vector<double> flat;
  collect(values, 0, shape, flat);
  return from_values(flat, shape, o, "tensor");
}

}  // namespace tg
