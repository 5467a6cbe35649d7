#pragma once
/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
/// JSON naming each tensor's dtype, shape and byte range, then the raw little-endian data.
/// Writes F32, F64, I64 and BOOL; reads those and F16/BF16 (converted to float32).
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                         // in the order of their data offsets
  std::map<std::string, std::string> metadata;  // the optional "__metadata__"
  /// The tensor called name, or an undefined Tensor when absent.
  Tensor find(const std::string& name) const;
};

/// Writes atomically (AtomicFileWriter). Tensors may be non-contiguous views; names unique and
/// non-empty, "__metadata__" not allowed as a tensor name (tg::Error otherwise).
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
/// The bytes save_safetensors would write.
std::string safetensors_bytes(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});
/// Reads and validates the header, then reads each tensor once into its own storage (pread;
/// only regular files). A file that shrinks or changes while it is read is a tg::Error.
SafetensorsFile load_safetensors(const std::string& path);
/// The same from memory; source names the origin in error messages.
SafetensorsFile parse_safetensors(const void* data, std::size_t size, const std::string& source);

}  // namespace tg
