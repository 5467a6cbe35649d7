#pragma once
// What the safetensors and npy readers share: a shape read from a file checked before any
// tensor is made from it, bytes copied into a fresh tensor, and the little-endian assumption.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/shape.h"

namespace tg::io {

// Tensor data in both formats is little-endian; tapegrad copies it as is.
static_assert(std::endian::native == std::endian::little, "tapegrad's file formats assume a little-endian host");

/// The element count of a shape read from a file, or a description of why it cannot be a tensor
/// shape: more than kMaxDims dims, or a product of extents beyond int64 (also counting zeros
/// as ones, since the row-major strides are such products).
inline std::string shape_problem(IntArrayRef shape, std::int64_t* numel) {
  if (shape.size() > static_cast<std::size_t>(kMaxDims)) {
    return fmt::format("{} dimensions (tapegrad supports at most {})", shape.size(), kMaxDims);
  }
  std::int64_t n = 1, strides = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return fmt::format("negative extent {} in shape {}", d, shape);
    if (__builtin_mul_overflow(n, d, &n) || __builtin_mul_overflow(strides, d == 0 ? 1 : d, &strides)) {
      return fmt::format("shape {} has more elements than fit in int64 (overflow)", shape);
    }
  }
  *numel = n;
  return {};
}

/// Index of the first byte that is neither 0 nor 1 (n when all are): a bool tensor holding
/// another byte would be undefined behaviour to read.
inline std::size_t first_invalid_bool(const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] > 1) return i;
  }
  return n;
}

/// A new contiguous tensor holding a copy of nbytes bytes (numel * itemsize, checked by the caller).
inline Tensor tensor_from_bytes(IntArrayRef shape, DType dtype, const void* src, std::size_t nbytes) {
  Tensor t = empty(shape, dtype);
  if (nbytes > 0) std::memcpy(t.data_ptr(), src, nbytes);
  return t;
}

}  // namespace tg::io
