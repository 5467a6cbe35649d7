#pragma once
// The bytes of a file, read-only: mmap'd for a regular file (the pages are read once, by the
// copy into tensor storage), read into memory otherwise (pipes, /dev/stdin). The mapping is
// released by the destructor, so every error path that unwinds past it unmaps.
#include <cstddef>
#include <string>
#include <vector>

namespace tg::io {

class MappedFile {
 public:
  /// op names the caller in error messages ("load_safetensors").
  MappedFile(const std::string& path, const char* op);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const void* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const void* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  std::vector<char> buffer_;  // the bytes of a file that cannot be mapped
};

}  // namespace tg::io
