#pragma once
/// Storage: one block of tensor memory, shared by every view of it, with the version counter
/// that in-place ops bump and autograd checks.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tg {

/// Raw memory from tapegrad's caching allocator: 64-byte aligned, uninitialised.
/// Blocks are kept per thread in size classes and reused, so the hot path does not call
/// malloc; the cache per thread is bounded.
void* allocate_bytes(std::size_t nbytes);
void free_bytes(void* ptr, std::size_t nbytes);
/// Returns every cached block of the calling thread to the system.
void empty_allocator_cache();

class Storage {
 public:
  explicit Storage(std::size_t nbytes) : data_(allocate_bytes(nbytes)), nbytes_(nbytes) {}
  ~Storage() { free_bytes(data_, nbytes_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

  /// Bumped by every in-place write; autograd compares it with the version it saved.
  std::uint64_t version() const { return version_; }
  /// The in-place op that wrote last, for error messages.
  const char* last_writer() const { return last_writer_; }
  void bump_version(const char* op) {
    ++version_;
    last_writer_ = op;
  }

 private:
  void* data_;
  std::size_t nbytes_;
  std::uint64_t version_ = 0;
  const char* last_writer_ = nullptr;
};

}  // namespace tg
