#pragma once
/// tg::AtomicFileWriter: replaces a file so that a crash at any point leaves either the old
/// file or the complete new one, never a half-written mix.
#include <cstddef>
#include <string>

namespace tg {

/// Writes a file so that a crash at any byte leaves the previous file intact: data goes to a
/// temporary file in the same folder (mkstemp, name derived from the target), commit() flushes,
/// fsyncs, renames over path and fsyncs the folder. Destroyed without commit(): temp removed.
///
/// A symbolic link is followed: the file it points to is replaced and the link stays a link. A
/// target that exists and is not a regular file (device, FIFO, socket, folder) is a tg::Error.
/// The temporary is named `<name>.tmp.XXXXXX` (a long name is cut and hashed to fit NAME_MAX) and
/// flock'ed while it is written; the constructor removes temporaries of this target's exact
/// pattern whose lock nobody holds (left by writers that were killed).
///
///   tg::AtomicFileWriter out("model.safetensors");
///   out.write(bytes.data(), bytes.size());
///   out.commit();  // until here, "model.safetensors" is the old file (or absent)
class AtomicFileWriter {
 public:
  /// Removes stale temporaries of the same target and creates the temporary file; tg::Error
  /// naming path and the system's reason on failure, or what the target is if not a file.
  explicit AtomicFileWriter(const std::string& path);
  /// Appends size bytes; errors (ENOSPC, EIO, ...) name the path.
  void write(const void* data, std::size_t size);
  /// Flushes and fsyncs the temporary file, renames it over path and fsyncs the folder.
  /// After a failed commit() the destructor still removes the temporary file.
  void commit();
  /// No-throw; removes the temporary file if commit() did not complete.
  ~AtomicFileWriter();

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  const std::string& path() const { return path_; }
  /// The file replaced: path with its symbolic links followed.
  const std::string& target() const { return target_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string target_;
  std::string temp_path_;
  int fd_ = -1;       // the temporary, for writing
  int lock_fd_ = -1;  // the temporary again, holding its flock until the rename
  bool committed_ = false;
};

}  // namespace tg
