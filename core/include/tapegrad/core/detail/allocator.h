#pragma once
/// What the caching allocator (core/src/allocator.cpp) holds for the calling thread: for tests
/// and for diagnosing memory growth, not a stable API.
#include <cstddef>

namespace tg::detail {

struct AllocatorStats {
  bool caching = false;           // false in sanitizer builds: every block goes to the system
  std::size_t cached_bytes = 0;   // free blocks this thread's cache holds
  std::size_t cache_limit = 0;    // bound on cached_bytes
  std::size_t foreign_limit = 0;  // blocks freed by another thread than their allocator's are
                                  // cached only while cached_bytes stays within this
};

/// The calling thread's cache.
AllocatorStats allocator_stats();

}  // namespace tg::detail
