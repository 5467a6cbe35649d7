#pragma once
/// One thread budget for everything tapegrad runs in parallel.
namespace tg {

/// Sets how many threads tapegrad's parallel loops may use (TBB's limit for the process).
/// OpenBLAS is kept single-threaded: matrix products are split into blocks that run as TBB
/// tasks, so there is one pool and never two fighting over the cores. The split depends on the
/// shapes only, so results are bit-identical whatever the thread count. Defaults to the
/// hardware's concurrency.
void set_num_threads(int n);
int get_num_threads();

}  // namespace tg
