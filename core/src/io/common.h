#pragma once
// What the safetensors and npy readers share: a shape read from a file checked before any
// tensor is made from it, the bool-byte check, the little-endian assumption, and the name of a
// kind of file for messages.
#include <sys/stat.h>

#include <bit>
#include <cstdint>
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

/// "a directory", "a character device", ...: what a file that is not a regular one is, for messages.
inline const char* file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a special file";
}

}  // namespace tg::io
