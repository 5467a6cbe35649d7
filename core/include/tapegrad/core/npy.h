#pragma once
/// NumPy's .npy format: magic "\x93NUMPY", version, a Python dict literal header
/// ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }) and the raw C-order data.
/// Reads and writes '<f4', '<f8', '<i8' and '|b1' (float32, float64, int64, bool).
#include <cstddef>
#include <string>

#include "tapegrad/core/tensor.h"

namespace tg {

/// Writes atomically, in format version 1.0 unless the header needs 2.0; the bytes equal
/// numpy.save's. t may be a non-contiguous view.
void save_npy(const std::string& path, const Tensor& t);
/// Reads versions 1.0, 2.0 and 3.0, validated (pread into the tensor's storage; only regular
/// files). A file that shrinks or changes while it is read is a tg::Error.
Tensor load_npy(const std::string& path);
/// The same from memory; source names the origin in error messages.
Tensor parse_npy(const void* data, std::size_t size, const std::string& source);

}  // namespace tg
