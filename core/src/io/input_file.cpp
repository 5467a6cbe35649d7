#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/common.h"
#include "tapegrad/core/error.h"

namespace tg::io {

InputFile::InputFile(const std::string& path, const char* op) : path_(path), op_(op) {
  // stat first: opening a device can have effects of its own (a tape rewinds), so what is not a
  // regular file is refused before it is opened. fstat below settles it for the file opened.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    TG_CHECK(S_ISREG(st.st_mode), "{}: '{}' is {}, not a regular file", op, path, file_kind(st.st_mode));
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) fail("{}: cannot open '{}': {}", op, path, std::strerror(errno));
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fail("{}: cannot stat '{}': {}", op, path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail("{}: '{}' is {}, not a regular file", op, path, file_kind(st.st_mode));
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  mtime_ = st.st_mtim;
}

InputFile::~InputFile() { ::close(fd_); }

void InputFile::read(void* dst, std::size_t n, std::uint64_t offset) const {
  char* p = static_cast<char*>(dst);
  std::uint64_t at = offset;
  std::size_t left = n;
  while (left > 0) {
    const ssize_t got = ::pread(fd_, p, left, static_cast<off_t>(at));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("{}: reading bytes [{}, {}) of '{}' failed: {}", op_, offset, offset + n, path_, std::strerror(errno));
    }
    TG_CHECK(got > 0,
             "{}: '{}' ended at byte {} while bytes [{}, {}) were read ({} bytes when it was opened): the file was "
             "truncated or rewritten while it was loaded",
             op_, path_, at, offset, offset + n, size_);
    p += got;
    at += static_cast<std::uint64_t>(got);
    left -= static_cast<std::size_t>(got);
  }
}

void InputFile::check_unchanged() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("{}: cannot stat '{}': {}", op_, path_, std::strerror(errno));
  TG_CHECK(static_cast<std::uint64_t>(st.st_size) == size_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
               st.st_mtim.tv_nsec == mtime_.tv_nsec,
           "{}: '{}' was modified while it was loaded (size {} -> {} bytes or a new modification time); the data "
           "read may mix two versions of the file",
           op_, path_, size_, st.st_size);
}

void SequentialReader::read(void* dst, std::size_t n, std::uint64_t offset) {
  constexpr std::size_t kWindow = 1 << 20;  // ranges below a quarter of it are served from it
  if (n >= kWindow / 4) {
    file_.read(dst, n, offset);
    return;
  }
  if (offset < window_begin_ || offset + n > window_begin_ + window_.size()) {
    window_begin_ = offset;
    window_.resize(static_cast<std::size_t>(
        std::clamp<std::uint64_t>(file_.size() > offset ? file_.size() - offset : 0, n, kWindow)));
    file_.read(window_.data(), window_.size(), offset);
  }
  if (n > 0) std::memcpy(dst, window_.data() + (offset - window_begin_), n);
}

}  // namespace tg::io
