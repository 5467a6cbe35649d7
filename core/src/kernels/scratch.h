#pragma once
// Scratch memory for kernels (im2col columns, partial sums) from the caching allocator behind
// Storage: uninitialised, 64-byte aligned, and the same block again on the next call of the same
// size on the same thread, so a training step does not zero-fill or page-fault fresh memory for
// its temporaries the way a std::vector<T>(n) per call does.
#include <cstdint>

#include "tapegrad/core/storage.h"

namespace tg::kernels {

template <typename T>
class Scratch {
 public:
  explicit Scratch(std::int64_t n) : storage_(static_cast<std::size_t>(n > 0 ? n : 0) * sizeof(T)) {}
  T* data() const { return static_cast<T*>(storage_.data()); }

 private:
  Storage storage_;
};

}  // namespace tg::kernels
