#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tapegrad/core/error.h"

namespace tg::io {
namespace {

/// Closes a file descriptor on every path out of the constructor.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

MappedFile::MappedFile(const std::string& path, const char* op) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open '{}': {}", op, path, std::strerror(errno));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("{}: cannot stat '{}': {}", op, path, std::strerror(errno));
  TG_CHECK(!S_ISDIR(st.st_mode), "{}: '{}' is a directory, not a file", op, path);
  if (S_ISREG(st.st_mode)) {
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;  // mmap cannot map 0 bytes; an empty file is simply empty
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail("{}: cannot mmap '{}' ({} bytes): {}", op, path, size_, std::strerror(errno));
    ::madvise(p, size_, MADV_SEQUENTIAL);  // a hint only; its failure changes nothing
    data_ = p;
    mapped_ = true;
    return;
  }
  // Not a regular file: read it to the end.
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: reading '{}' failed: {}", op, path, std::strerror(errno));
    }
    if (n == 0) break;
    buffer_.insert(buffer_.end(), chunk, chunk + n);
  }
  data_ = buffer_.data();
  size_ = buffer_.size();
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(const_cast<void*>(data_), size_);
}

}  // namespace tg::io
