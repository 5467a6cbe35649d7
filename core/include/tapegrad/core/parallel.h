#pragma once
/// One thread budget for everything tapegrad runs in parallel.
#include <cstdint>
#include <functional>

namespace tg {

/// Sets how many threads tapegrad's parallel loops may use (TBB's limit for the process).
/// OpenBLAS is kept single-threaded: matrix products are split into blocks that run as TBB
/// tasks, so there is one pool and never two fighting over the cores. The split depends on the
/// shapes only, so results are bit-identical whatever the thread count. Defaults to the
/// hardware's concurrency.
void set_num_threads(int n);
int get_num_threads();

/// Runs fn(begin, end) over chunks of [0, n) on tapegrad's threads; ranges of at most `grain`
/// elements run on the calling thread. For layers above core (optim) that need a parallel loop
/// without touching TBB themselves. fn must not depend on how [0, n) is cut.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace tg
