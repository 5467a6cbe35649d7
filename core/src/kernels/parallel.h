#pragma once
// Parallel loops for kernels. Work below the grain runs on the calling thread; above it, TBB
// splits [0, n) into chunks (TBB's thread count is the one set_num_threads gives).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstdint>

#include "tapegrad/core/parallel.h"

// ThreadSanitizer does not see how TBB hands a task to a worker and joins it (libtbb is not
// instrumented), so without help every parallel_for looks like a race: the caller's writes (the
// loop's closure on its stack, the inputs) against a worker's reads, and a worker's writes of
// the output against the caller's reads after the join. .ci/tsan.supp drops such reports, but
// TSan still builds each one before dropping it, which made a test of big parallel ops run for
// over ten minutes. TG_TSAN_RELEASE/ACQUIRE state the two happens-before edges that TBB
// guarantees (start of the loop -> each chunk, each chunk -> end of the loop), so there is no
// report to build. They compile to nothing outside ThreadSanitizer.
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define TG_TSAN_RELEASE(addr) __tsan_release(addr)
#define TG_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define TG_TSAN_RELEASE(addr) static_cast<void>(addr)
#define TG_TSAN_ACQUIRE(addr) static_cast<void>(addr)
#endif

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
  char edge = 0;  // the address TSan's happens-before edges hang on
  TG_TSAN_RELEASE(&edge);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, grain), [&](const tbb::blocked_range<std::int64_t>& r) {
    TG_TSAN_ACQUIRE(&edge);
    f(r.begin(), r.end());
    TG_TSAN_RELEASE(&edge);
  });
  TG_TSAN_ACQUIRE(&edge);
}

}  // namespace tg::kernels
