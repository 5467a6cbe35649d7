// AtomicFileWriter: the target is the old file until commit(), the whole new one after it, and
// no temporary file outlives the writer.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "golden_io/io_helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using tg_io_test::read_bytes;
using tg_io_test::TempDir;
using tg_io_test::write_bytes;

TEST_CASE("AtomicFileWriter commit replaces the file", "[io][atomic]") {
  TempDir dir;
  const std::string path = (dir / "model.bin").string();
  write_bytes(path, "old contents");
  {
    tg::AtomicFileWriter out(path);
    CHECK(out.temp_path().rfind(path, 0) == 0);  // named after the target, in its folder
    CHECK(std::filesystem::exists(out.temp_path()));
    out.write("new ", 4);
    out.write("contents", 8);
    CHECK(read_bytes(path) == "old contents");  // not yet
    out.commit();
    CHECK(read_bytes(path) == "new contents");
    CHECK_FALSE(std::filesystem::exists(out.temp_path()));
    CHECK_TG_ERROR(out.write("x", 1), Contains("after commit") && Contains("model.bin"));
  }
  CHECK(read_bytes(path) == "new contents");
  CHECK(dir.entries() == std::vector<std::string>{"model.bin"});
}

TEST_CASE("AtomicFileWriter without commit leaves the old file and no temporary", "[io][atomic]") {
  TempDir dir;
  const std::string path = (dir / "model.bin").string();
  write_bytes(path, "old contents");
  std::string temp;
  {
    tg::AtomicFileWriter out(path);
    temp = out.temp_path();
    out.write("half a mod", 10);
  }  // as if an exception unwound past it
  CHECK(read_bytes(path) == "old contents");
  CHECK_FALSE(std::filesystem::exists(temp));
  CHECK(dir.entries() == std::vector<std::string>{"model.bin"});

  { tg::AtomicFileWriter out((dir / "fresh.bin").string()); }
  CHECK(dir.entries() == std::vector<std::string>{"model.bin"});  // nothing appears uncommitted
}

TEST_CASE("AtomicFileWriter keeps the permissions of the file it replaces", "[io][atomic]") {
  TempDir dir;
  const std::string path = (dir / "a.bin").string();
  write_bytes(path, "old");
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  tg::AtomicFileWriter out(path);
  out.write("new", 3);
  out.commit();
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  const std::string fresh = (dir / "b.bin").string();
  tg::AtomicFileWriter out2(fresh);
  out2.commit();
  REQUIRE(::stat(fresh.c_str(), &st) == 0);
  const mode_t mask = ::umask(022);
  ::umask(mask);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));  // as open(2) would create it, not mkstemp's 0600
}

TEST_CASE("AtomicFileWriter names the path when its folder is not writable", "[io][atomic]") {
  TempDir dir;
  const std::string missing = (dir / "no_such_folder" / "m.bin").string();
  CHECK_TG_ERROR(tg::AtomicFileWriter{missing},
                 Contains("m.bin") && Contains("no_such_folder") && Contains("No such file or directory"));
  write_bytes(dir / "file", "x");
  CHECK_TG_ERROR(tg::AtomicFileWriter{(dir / "file" / "m.bin").string()}, Contains("Not a directory"));
  CHECK_TG_ERROR(tg::AtomicFileWriter{""}, Contains("is not a file path"));
  if (::geteuid() != 0) {  // root writes anywhere
    const auto locked = dir / "locked";
    std::filesystem::create_directory(locked);
    std::filesystem::permissions(locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    CHECK_TG_ERROR(tg::AtomicFileWriter{(locked / "m.bin").string()},
                   Contains("locked/m.bin") && Contains("Permission denied"));
  }
  if (std::filesystem::exists("/proc/self")) {  // not writable even for root
    CHECK_TG_ERROR(tg::AtomicFileWriter{"/proc/tapegrad_test.bin"}, Contains("/proc/tapegrad_test.bin"));
  }
  // A folder in the target's place: the rename fails, the temporary is removed.
  std::filesystem::create_directory(dir / "taken");
  write_bytes(dir / "taken" / "inside", "x");
  {
    tg::AtomicFileWriter out((dir / "taken").string());
    out.write("data", 4);
    CHECK_THROWS_WITH(out.commit(), Contains("cannot rename") && Contains("taken"));  // once: commit is not retried
  }
  CHECK(dir.entries() == std::vector<std::string>{"file", "taken"});
}
