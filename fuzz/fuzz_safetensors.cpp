// libFuzzer target: parse_safetensors on arbitrary bytes. A tg::Error is the expected answer to a
// malformed file; anything else (another exception, a sanitizer report, a crash) is a bug.
// A file that parses must survive a round trip: written again and re-read, the same tensors.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tapegrad/core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::SafetensorsFile file;
  try {
    file = tg::parse_safetensors(data, size, "fuzz input");
  } catch (const tg::Error&) {
    return 0;
  }
  const std::string bytes = tg::safetensors_bytes(file.tensors, file.metadata);
  const tg::SafetensorsFile again = tg::parse_safetensors(bytes.data(), bytes.size(), "round trip");
  if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata) __builtin_trap();
  for (std::size_t i = 0; i < file.tensors.size(); ++i) {
    const tg::Tensor& a = file.tensors[i].second;
    const tg::Tensor& b = again.tensors[i].second;
    const std::size_t n = static_cast<std::size_t>(a.numel()) * tg::itemsize(a.dtype());
    if (again.tensors[i].first != file.tensors[i].first || a.dtype() != b.dtype() || !(a.shape() == b.shape()) ||
        (n > 0 && std::memcmp(a.data_ptr(), b.data_ptr(), n) != 0)) {
      __builtin_trap();
    }
  }
  return 0;
}
