// AtomicFileWriter: write to a temporary file beside the target, fsync, rename over the target,
// fsync the folder. rename(2) within one file system is atomic, so a reader (or a crash) sees
// either the old file or the whole new one; the folder's fsync makes the rename itself durable.
#include "tapegrad/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tapegrad/core/error.h"

namespace tg {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// The process's umask, read without changing it (umask(2) can only set it, which would race
/// with other threads creating files); 022 where /proc is not available.
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  }
  return 022;
}

/// mkstemp makes the file 0600; the new file should get the permissions of the one it replaces,
/// or those of a file created with open(2) (0666 less the umask).
mode_t target_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  return 0666 & ~current_umask();
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  TG_CHECK(!path.empty() && path.back() != '/', "AtomicFileWriter: '{}' is not a file path", path);
  std::vector<char> name(path.begin(), path.end());
  for (char c : std::string(".tmp.XXXXXX")) name.push_back(c);
  name.push_back('\0');
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    fail("AtomicFileWriter: cannot create a temporary file in '{}' to write '{}': {}", folder_of(path), path,
         errno_text(err));
  }
  temp_path_ = name.data();
  if (::fchmod(fd_, target_mode(path)) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    fail("AtomicFileWriter: cannot set the permissions of '{}' (for '{}'): {}", temp_path_, path, errno_text(err));
  }
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  TG_CHECK(fd_ >= 0, "AtomicFileWriter: write to '{}' after commit or a failed commit", path_);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("AtomicFileWriter: writing '{}' (temporary file '{}') failed: {}", path_, temp_path_, errno_text(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  TG_CHECK(fd_ >= 0, "AtomicFileWriter: commit of '{}' after commit or a failed commit", path_);
  if (::fsync(fd_) != 0) fail("AtomicFileWriter: fsync of '{}' failed: {}", temp_path_, errno_text(errno));
  const int fd = fd_;
  fd_ = -1;
  // close() can report a deferred write error (NFS): the data is not safe then.
  if (::close(fd) != 0) fail("AtomicFileWriter: closing '{}' failed: {}", temp_path_, errno_text(errno));
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    fail("AtomicFileWriter: cannot rename '{}' to '{}': {}", temp_path_, path_, errno_text(errno));
  }
  committed_ = true;
  // The new file is in place; fsync the folder so that the rename survives a power loss.
  const std::string folder = folder_of(path_);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    fail("AtomicFileWriter: cannot open folder '{}' of '{}' to fsync it: {}", folder, path_, errno_text(errno));
  const int status = ::fsync(dir);
  const int err = errno;
  ::close(dir);
  // Some file systems do not support fsync on folders (EINVAL); the rename is done either way.
  if (status != 0 && err != EINVAL) {
    fail("AtomicFileWriter: fsync of folder '{}' after writing '{}' failed: {}", folder, path_, errno_text(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

}  // namespace tg
