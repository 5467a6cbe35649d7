// AtomicFileWriter: write to a temporary file beside the target, fsync, rename over the target,
// fsync the folder. rename(2) within one file system is atomic, so a reader (or a crash) sees
// either the old file or the whole new one; the folder's fsync makes the rename itself durable.
//
// The target is the file a path names after following its symbolic links: the link stays a link
// and the file it points to is replaced. A target that exists and is not a regular file (a
// device, a FIFO, a socket, a folder) is refused: renaming over /dev/null would replace it.
//
// Temporary files are named <stem>.tmp.XXXXXX, where the stem is the target's name, or for a
// name too long to take the suffix within NAME_MAX, its first bytes and a hash of the whole.
// Each writer holds an exclusive flock on its temporary file until it renames or removes it; the
// kernel drops the lock when the process dies, even by SIGKILL. So a temporary of this exact
// pattern whose lock can be taken belongs to a dead writer, and the next save to the same target
// removes it.
#include "tapegrad/core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "io/common.h"
#include "tapegrad/core/error.h"

namespace tg {
namespace {

constexpr char kTempInfix[] = ".tmp.";
constexpr std::size_t kRandomChars = 6;  // mkstemp's XXXXXX
constexpr std::size_t kTempSuffixSize = sizeof kTempInfix - 1 + kRandomChars;

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

std::string errno_text(int err) { return std::strerror(err); }

/// The file that path names once its symbolic links are followed (path itself when it is not a
/// link, or when it does not exist: the save creates it). A relative link is resolved against
/// the folder of the link.
std::string resolve_links(const std::string& path) {
  std::string p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    TG_CHECK(hops < 40, "AtomicFileWriter: '{}': too many levels of symbolic links (a loop?)", path);
    std::vector<char> buffer(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : PATH_MAX) + 1);
    const ssize_t n = ::readlink(p.c_str(), buffer.data(), buffer.size());
    if (n < 0) fail("AtomicFileWriter: cannot read the symbolic link '{}': {}", p, errno_text(errno));
    TG_CHECK(static_cast<std::size_t>(n) < buffer.size(), "AtomicFileWriter: the symbolic link '{}' changed", p);
    std::string link(buffer.data(), static_cast<std::size_t>(n));
    p = link.front() == '/' || p.find('/') == std::string::npos ? link : folder_of(p) + "/" + link;
  }
}

/// Why target cannot be replaced ("'/dev/null' is a character device, not a regular file"), or
/// "" when it is absent or a regular file.
std::string not_replaceable(const std::string& target, const std::string& path) {
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return {};
  const std::string link = target == path ? "" : fmt::format(" (where the symbolic link '{}' points)", path);
  return fmt::format("'{}'{} is {}, not a regular file", target, link, io::file_kind(st.st_mode));
}

/// 64-bit FNV-1a: a short, stable stand-in for a name too long to be part of a temporary's name.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

/// The part of a temporary's name before ".tmp.XXXXXX": the target's name when the whole fits in
/// the folder's NAME_MAX, else the name's first bytes, '~' and 16 hex digits of its hash.
std::string temp_stem(const std::string& folder, const std::string& name) {
  long name_max = ::pathconf(folder.c_str(), _PC_NAME_MAX);
  if (name_max < 64) name_max = NAME_MAX;  // unknown, or too short to be real
  const std::size_t room = static_cast<std::size_t>(name_max) - kTempSuffixSize;
  if (name.size() <= room) return name;
  return fmt::format("{}~{:016x}", name.substr(0, room - 17), fnv1a(name));
}

bool is_temp_name(const std::string& entry, const std::string& stem) {
  if (entry.size() != stem.size() + kTempSuffixSize || entry.compare(0, stem.size(), stem) != 0) return false;
  if (entry.compare(stem.size(), sizeof kTempInfix - 1, kTempInfix) != 0) return false;
  for (std::size_t i = entry.size() - kRandomChars; i < entry.size(); ++i) {
    const char c = entry[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

/// Removes the temporaries of dead writers to the same target: files in folder named exactly
/// <stem>.tmp.XXXXXX, regular, owned by this user, whose flock nobody holds. Best effort: a file
/// that cannot be opened or locked (a live writer, a file system without flock) stays.
void remove_stale_temporaries(const std::string& folder, const std::string& stem) {
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  DIR* listing = ::fdopendir(dir);
  if (listing == nullptr) {
    ::close(dir);
    return;
  }
  std::vector<std::string> candidates;
  while (const dirent* entry = ::readdir(listing)) {
    if (is_temp_name(entry->d_name, stem)) candidates.emplace_back(entry->d_name);
  }
  for (const std::string& name : candidates) {
    const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {
    }, now{};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_dev == st.st_dev && now.st_ino == st.st_ino) {
      ::unlinkat(dir, name.c_str(), 0);
    }
    ::close(fd);  // releases the lock
  }
  ::closedir(listing);  // closes dir
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

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  TG_CHECK(!path.empty() && path.back() != '/', "AtomicFileWriter: '{}' is not a file path", path);
  target_ = resolve_links(path);
  // A folder in the target's place is left for commit() to refuse (the rename fails).
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    const std::string problem = not_replaceable(target_, path);
    TG_CHECK(problem.empty(), "AtomicFileWriter: cannot save '{}': {} (only a regular file is replaced)", path,
             problem);
  }
  const std::string folder = folder_of(target_);
  const std::string stem = temp_stem(folder, name_of(target_));
  remove_stale_temporaries(folder, stem);

  // The lock, held on a second descriptor so that it outlives the writing one until the rename,
  // tells later saves that this temporary is being written. A cleaner may take the lock of a
  // file made a moment ago, before this writer locked it, and remove it: then start again.
  const std::string prefix = target_.substr(0, target_.find_last_of('/') + 1) + stem + kTempInfix;
  for (int attempt = 0; fd_ < 0; ++attempt) {
    std::string name = prefix + std::string(kRandomChars, 'X');
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      fail("AtomicFileWriter: cannot create a temporary file in '{}' to write '{}': {}", folder, path, errno_text(err));
    }
    const int lock = ::open(name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    // No lock where the file system has none (the file is then never taken for stale).
    const bool lost = lock < 0 || (::flock(lock, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK);
    struct stat mine {};
    if (lost || ::fstat(fd, &mine) != 0 || mine.st_nlink == 0) {
      ::unlink(name.c_str());  // if a cleaner has not already
      if (lock >= 0) ::close(lock);
      ::close(fd);
      TG_CHECK(attempt < 100, "AtomicFileWriter: cannot keep a temporary file in '{}' to write '{}'", folder, path);
      continue;
    }
    fd_ = fd;
    lock_fd_ = lock;
    temp_path_ = name;
  }
  if (::fchmod(fd_, target_mode(target_)) != 0) {
    const int err = errno;
    ::close(fd_);
    ::unlink(temp_path_.c_str());
    ::close(lock_fd_);
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
  // The target may have changed since the constructor; rename(2) would replace a device node.
  const std::string problem = not_replaceable(target_, path_);
  TG_CHECK(problem.empty(), "AtomicFileWriter: cannot rename '{}' over the target: {}", temp_path_, problem);
  if (::rename(temp_path_.c_str(), target_.c_str()) != 0) {
    fail("AtomicFileWriter: cannot rename '{}' to '{}': {}", temp_path_, target_, errno_text(errno));
  }
  committed_ = true;
  ::close(lock_fd_);
  lock_fd_ = -1;
  // The new file is in place; fsync the folder so that the rename survives a power loss.
  const std::string folder = folder_of(target_);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    fail("AtomicFileWriter: cannot open folder '{}' of '{}' to fsync it: {}", folder, target_, errno_text(errno));
  const int status = ::fsync(dir);
  const int err = errno;
  ::close(dir);
  // Some file systems do not support fsync on folders (EINVAL); the rename is done either way.
  if (status != 0 && err != EINVAL) {
    fail("AtomicFileWriter: fsync of folder '{}' after writing '{}' failed: {}", folder, target_, errno_text(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());  // before the lock goes
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace tg
