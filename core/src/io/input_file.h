#pragma once
// A regular file opened for reading, read with pread into memory the caller owns: loaders read
// and validate the header first, then read each tensor's bytes straight into its storage. Nothing
// is mapped, so a file that shrinks or is rewritten while it is read cannot raise SIGBUS: a short
// read is a tg::Error, and so is a change of size or modification time seen after the last read.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace tg::io {

class InputFile {
 public:
  /// Opens path without blocking (a FIFO with no writer would hang a plain open) and refuses
  /// anything that is not a regular file; op names the caller in error messages ("load_npy").
  InputFile(const std::string& path, const char* op);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  /// The size when the file was opened; the header is validated against it.
  std::uint64_t size() const { return size_; }
  /// Reads exactly n bytes at offset into dst; tg::Error if the file ends first (it shrank).
  void read(void* dst, std::size_t n, std::uint64_t offset) const;
  /// tg::Error if the file's size or modification time differ from those seen at open: it was
  /// rewritten in place while it was read, and the bytes read may mix two versions.
  void check_unchanged() const;

 private:
  std::string path_;
  const char* op_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  timespec mtime_{};
};

/// Reads ascending byte ranges of a file: small ranges come from a window read ahead with one
/// pread (a file of 200,000 tiny tensors would otherwise cost a system call each), large ones go
/// straight into the destination.
class SequentialReader {
 public:
  explicit SequentialReader(const InputFile& file) : file_(file) {}
  void read(void* dst, std::size_t n, std::uint64_t offset);

 private:
  const InputFile& file_;
  std::vector<char> window_;
  std::uint64_t window_begin_ = 0;
};

}  // namespace tg::io
