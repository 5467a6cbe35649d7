// The caching allocator behind Storage.
//
// Every block is 64-byte aligned and its size is rounded up to a size class: powers of two
// from 256 B to 1 MiB, then eight classes per doubling (at most 12.5% waste). A freed block
// goes to the freeing thread's cache for its class and is handed out again by the next
// allocation of that class on that thread, so a training loop that allocates the same shapes
// every step stops calling malloc (and stops page-faulting fresh mmap'd memory) after its
// first step. The cache per thread is bounded; past the bound blocks go back to the system.
//
// A block freed by another thread than its allocator (Storage remembers which) fills the freeing
// thread's cache only up to a far lower bound: otherwise a thread that drops what a producer
// thread allocates (batches from a loader thread) would keep up to the full bound of blocks it
// never asked for, while the producer keeps calling malloc.
#include "tapegrad/core/detail/allocator.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "tapegrad/core/error.h"
#include "tapegrad/core/storage.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TG_ALLOCATOR_CACHE 0  // let the sanitizers see every malloc and free
#else
#define TG_ALLOCATOR_CACHE 1
#endif

namespace tg {
namespace {

constexpr std::size_t kMinClass = 256;
constexpr int kMinLog = 8;       // 256 B
constexpr int kPow2MaxLog = 20;  // 1 MiB
constexpr int kMaxLog = 34;      // blocks above 16 GiB are never cached
constexpr int kNumClasses = (kPow2MaxLog - kMinLog + 1) + (kMaxLog - kPow2MaxLog) * 8;
constexpr std::size_t kMaxCachedBytesPerThread = std::size_t{2} << 30;
constexpr std::size_t kMaxForeignCachedBytes = std::size_t{64} << 20;

std::atomic<std::uint32_t> g_next_thread_id{1};
thread_local std::uint32_t tl_thread_id = 0;  // 0 until the thread first allocates

int floor_log2(std::size_t n) { return 63 - __builtin_clzll(n); }

/// The size class of a request: its index and its rounded size. Index -1: not cached.
struct SizeClass {
  int index;
  std::size_t bytes;
};

SizeClass size_class(std::size_t n) {
  if (n <= kMinClass) return {0, kMinClass};
  const int log = floor_log2(n - 1) + 1;  // smallest power of two >= n
  if (log <= kPow2MaxLog) return {log - kMinLog, std::size_t{1} << log};
  if (log > kMaxLog) return {-1, (n + 63) & ~std::size_t{63}};
  const std::size_t step = (std::size_t{1} << (log - 1)) / 8;  // eighths of the lower power
  const std::size_t base = std::size_t{1} << (log - 1);
  const std::size_t sub = (n - base + step - 1) / step;  // 1..8
  return {(kPow2MaxLog - kMinLog + 1) + (log - 1 - kPow2MaxLog) * 8 + static_cast<int>(sub) - 1, base + sub * step};
}

void* system_alloc(std::size_t bytes) {
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) fail("allocate: out of memory allocating {} bytes", bytes);
  return p;
}

struct ThreadCache;
thread_local bool tl_cache_gone = false;  // trivially destructible: valid even at thread exit

struct ThreadCache {
  std::array<std::vector<void*>, kNumClasses> free_lists;
  std::size_t cached_bytes = 0;

  void release_all() {
    for (auto& list : free_lists) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    cached_bytes = 0;
  }
  ~ThreadCache() {
    release_all();
    tl_cache_gone = true;
  }
};

thread_local ThreadCache tl_cache;

}  // namespace

void* allocate_bytes(std::size_t nbytes) {
  const SizeClass c = size_class(nbytes == 0 ? 1 : nbytes);
  if (TG_ALLOCATOR_CACHE && c.index >= 0 && !tl_cache_gone) {
    auto& list = tl_cache.free_lists[c.index];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      tl_cache.cached_bytes -= c.bytes;
      return p;
    }
  }
  return system_alloc(c.bytes);
}

std::uint32_t allocator_thread_id() {
  if (tl_thread_id == 0) tl_thread_id = g_next_thread_id.fetch_add(1, std::memory_order_relaxed);
  return tl_thread_id;
}

namespace {
void free_with_limit(void* ptr, std::size_t nbytes, std::size_t limit) {
  if (ptr == nullptr) return;
  const SizeClass c = size_class(nbytes == 0 ? 1 : nbytes);
  if (TG_ALLOCATOR_CACHE && c.index >= 0 && !tl_cache_gone && tl_cache.cached_bytes + c.bytes <= limit) {
    tl_cache.free_lists[c.index].push_back(ptr);
    tl_cache.cached_bytes += c.bytes;
    return;
  }
  std::free(ptr);
}
}  // namespace

void free_bytes(void* ptr, std::size_t nbytes) { free_with_limit(ptr, nbytes, kMaxCachedBytesPerThread); }

void free_bytes(void* ptr, std::size_t nbytes, std::uint32_t owner) {
  free_with_limit(ptr, nbytes, owner == tl_thread_id ? kMaxCachedBytesPerThread : kMaxForeignCachedBytes);
}

void empty_allocator_cache() {
  if (!tl_cache_gone) tl_cache.release_all();
}

detail::AllocatorStats detail::allocator_stats() {
  AllocatorStats s;
  s.caching = TG_ALLOCATOR_CACHE != 0;
  s.cached_bytes = tl_cache_gone ? 0 : tl_cache.cached_bytes;
  s.cache_limit = kMaxCachedBytesPerThread;
  s.foreign_limit = kMaxForeignCachedBytes;
  return s;
}

}  // namespace tg
