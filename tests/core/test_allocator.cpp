// The caching allocator's bounds (core/src/allocator.cpp): a thread keeps the blocks it
// allocated and frees (up to 2 GiB), but blocks that another thread allocated fill its cache
// only up to 64 MiB; the rest go back to the system. In sanitizer builds nothing is cached.
#include <cstddef>
#include <thread>
#include <vector>

#include "helpers.h"
#include "tapegrad/core/detail/allocator.h"
#include "tapegrad/tapegrad.h"

using namespace tg;

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr int kBlocks = 48;                            // 48 blocks of 4 MiB: 192 MiB
const std::vector<std::int64_t> kBlockShape{1 << 20};  // float32: exactly a 4 MiB size class

}  // namespace

TEST_CASE("a thread that frees tensors another thread allocated caches at most 64 MiB of them", "[allocator]") {
  std::vector<Tensor> made;
  std::thread producer([&] {
    for (int i = 0; i < kBlocks; ++i) made.push_back(tg::empty(kBlockShape));
  });
  producer.join();
  detail::AllocatorStats stats;
  std::thread consumer([&] {
    made.clear();  // the last handles: the storage is freed on this thread
    stats = detail::allocator_stats();
    empty_allocator_cache();
  });
  consumer.join();
  CHECK(stats.foreign_limit == 64 * kMiB);
  CHECK(stats.cached_bytes == (stats.caching ? 64 * kMiB : 0));  // not the 192 MiB freed
}

TEST_CASE("a thread caches the blocks it allocated and frees itself beyond the foreign bound", "[allocator]") {
  // Catch's assertions are not thread-safe: the worker records, the test thread checks.
  detail::AllocatorStats freed, reused, emptied;
  std::thread worker([&] {
    {
      std::vector<Tensor> own;
      for (int i = 0; i < kBlocks; ++i) own.push_back(tg::empty(kBlockShape));
    }
    freed = detail::allocator_stats();
    {
      std::vector<Tensor> again;  // taken from the cache, not allocated anew
      for (int i = 0; i < kBlocks; ++i) again.push_back(tg::empty(kBlockShape));
      reused = detail::allocator_stats();
    }
    empty_allocator_cache();
    emptied = detail::allocator_stats();
  });
  worker.join();
  CHECK(freed.cache_limit == 2048 * kMiB);
  CHECK(freed.cached_bytes == (freed.caching ? kBlocks * 4 * kMiB : 0));
  CHECK(reused.cached_bytes == 0);
  CHECK(emptied.cached_bytes == 0);
}
