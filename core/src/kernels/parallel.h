#pragma once
// Parallel loops for kernels. Work below the grain runs on the calling thread; above it, TBB
// splits [0, n) into chunks (TBB's thread count is the one set_num_threads gives).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstdint>

#include "tapegrad/core/parallel.h"

namespace tg::kernels {

/// Elements per task for memory-bound elementwise loops.
inline constexpr std::int64_t kGrain = 32768;

template <typename F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain || get_num_threads() == 1) {
    f(std::int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<std::int64_t>& r) { f(r.begin(), r.end()); });
}

}  // namespace tg::kernels
