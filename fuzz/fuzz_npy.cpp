// libFuzzer target: parse_npy on arbitrary bytes. A tg::Error is the expected answer to a
// malformed file; anything else (another exception, a sanitizer report, a crash) is a bug.
#include <cstddef>
#include <cstdint>

#include "tapegrad/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tg::Tensor t = tg::parse_npy(data, size, "fuzz input");
    // Read every byte of the result, so that a wrong size shows up under ASan.
    const auto* p = static_cast<const unsigned char*>(t.data_ptr());
    unsigned sum = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(t.numel()) * tg::itemsize(t.dtype()); ++i) sum += p[i];
    if (t.dtype() == tg::kBool && sum > static_cast<unsigned>(t.numel())) __builtin_trap();  // bools are 0 or 1
  } catch (const tg::Error&) {
  }
  return 0;
}
