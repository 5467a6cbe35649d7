#pragma once
/// Storage: one block of tensor memory, shared by every view of it, with the version counter
/// that in-place ops bump and autograd checks.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tg {

/// Raw memory from tapegrad's caching allocator: 64-byte aligned, uninitialised.
/// Blocks are kept per thread in size classes and reused, so the hot path does not call
/// malloc; the cache per thread is bounded (2 GiB). A block freed by another thread than the
/// one that allocated it (a batch made by a loader thread, dropped by the training thread) is
/// cached only while the freeing thread's cache holds under 64 MiB, else returned to the
/// system: a thread that only frees what others allocate does not pile up memory.
void* allocate_bytes(std::size_t nbytes);
/// Frees a block the calling thread allocated.
void free_bytes(void* ptr, std::size_t nbytes);
/// Frees a block that the thread with allocator_thread_id() == owner allocated.
void free_bytes(void* ptr, std::size_t nbytes, std::uint32_t owner);
/// The calling thread's number for the allocator (never 0, never reused).
std::uint32_t allocator_thread_id();
/// Returns every cached block of the calling thread to the system.
void empty_allocator_cache();

class Storage {
 public:
  explicit Storage(std::size_t nbytes)
      : data_(allocate_bytes(nbytes)), nbytes_(nbytes), owner_(allocator_thread_id()) {}
  ~Storage() { free_bytes(data_, nbytes_, owner_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

  /// Bumped by every in-place write; autograd compares it with the version it saved. Atomic:
  /// threads that share a tensor (the parameters of a model) record and check it concurrently.
  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  /// The in-place op that wrote last, for error messages.
  const char* last_writer() const { return last_writer_.load(std::memory_order_relaxed); }
  void bump_version(const char* op) {
    version_.fetch_add(1, std::memory_order_relaxed);
    last_writer_.store(op, std::memory_order_relaxed);
  }

 private:
  void* data_;
  std::size_t nbytes_;
  std::uint32_t owner_;  // the allocating thread's allocator_thread_id()
  std::atomic<std::uint64_t> version_{0};
  std::atomic<const char*> last_writer_{nullptr};
};

}  // namespace tg
