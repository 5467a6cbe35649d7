// One thread budget: TBB's. OpenBLAS is pinned to one thread and matmul runs its blocks as TBB
// tasks, so there is one pool and the thread count never changes a result.
#include "tapegrad/core/parallel.h"

#include <tbb/global_control.h>
#include <tbb/info.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "kernels/parallel.h"
#include "tapegrad/core/error.h"

namespace tg {
namespace {
std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
std::atomic<int> g_threads{0};
}  // namespace

void set_num_threads(int n) {
  TG_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got {}", n);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_control.reset();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
  g_threads = n;  // OpenBLAS stays single-threaded: matmul splits its work over TBB (ops/matmul.cpp)
}

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  kernels::parallel_for(n, grain, fn);
}

int get_num_threads() {
  if (g_threads > 0) return g_threads;
  return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace tg
