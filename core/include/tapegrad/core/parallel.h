#pragma once
/// One thread budget for TBB and OpenBLAS.
namespace tg {

/// Sets how many threads TBB loops and OpenBLAS may use (both at once: never two pools
/// fighting for the cores). Defaults to the hardware's concurrency.
void set_num_threads(int n);
int get_num_threads();

}  // namespace tg
