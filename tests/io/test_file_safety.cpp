// What saves and loads do with files that are not what they seem: symbolic links, device nodes,
// FIFOs, sockets and folders, names of 255 characters, the temporaries of killed saves, and a
// file rewritten by another thread while it is loaded.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "golden_io/io_helpers.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_io_test::read_bytes;
using tg_io_test::same_bits;
using tg_io_test::TempDir;
using tg_io_test::write_bytes;
namespace fs = std::filesystem;

namespace {

/// A FIFO at path, with nobody at either end.
void make_fifo(const fs::path& path) { REQUIRE(::mkfifo(path.c_str(), 0644) == 0); }

/// A listening Unix socket at path (the node stays when the descriptor is closed).
void make_socket(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(path.string().size() < sizeof address.sun_path);
  std::strcpy(address.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  ::close(fd);
}

std::vector<std::string> entries_of(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Every way tapegrad loads a file, by name.
std::vector<std::pair<std::string, std::function<void(const std::string&)>>> loaders() {
  return {
      {"load_npy", [](const std::string& p) { tg::load_npy(p); }},
      {"load_safetensors", [](const std::string& p) { tg::load_safetensors(p); }},
      {"load_checkpoint", [](const std::string& p) { tg::load_checkpoint(p); }},
      {"load_state_dict", [](const std::string& p) { tg::load_state_dict(p); }},
      {"tg::load",
       [](const std::string& p) {
    tg::nn::Linear model(2, 3);
    tg::load(model, p);
       }},
      };
}

/// Every way tapegrad saves a file, by name.
std::vector<std::pair<std::string, std::function<void(const std::string&)>>> savers() {
  return {
      {"save_npy",
       [](const std::string& p) {
    tg::save_npy(p, tg::ones({2, 3}));
       }},
      {"save_safetensors",
       [](const std::string& p) {
    tg::save_safetensors(p, {{"w", tg::ones({2})}});
       }},
      {"save_checkpoint",
       [](const std::string& p) {
    tg::Checkpoint ck;
    ck.model.insert("w", tg::ones({2}));
    tg::save_checkpoint(ck, p);
       }},
      {"tg::save", [](const std::string& p) { tg::save(tg::nn::Linear(2, 3), p); }},
      };
}

pid_t spawn_checkpoint_writer(const std::string& path) {
  std::string args[] = {TAPEGRAD_CHECKPOINT_WRITER, path, "1", "0", std::to_string(1 << 22)};  // 16 MiB, forever
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0);
  return pid;
}

/// Rewrites path with bytes in place (truncate, then 64 KiB writes, then a pause of 1 ms) until
/// stopped: what a careless writer does to a file another process is loading.
class Rewriter {
 public:
  Rewriter(std::string path, std::string bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Rewriter() {
    stop_ = true;
    thread_.join();
  }
  long long rewrites() const { return rewrites_; }

 private:
  void run() {
    while (!stop_) {
      const int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd < 0) continue;
      for (std::size_t at = 0; at < bytes_.size();) {  // whole, so that the file is right when stopped
        const ssize_t n = ::write(fd, bytes_.data() + at, std::min<std::size_t>(1 << 16, bytes_.size() - at));
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
        std::this_thread::yield();
      }
      ::close(fd);
      ++rewrites_;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // loads in between see a whole file
    }
  }

  std::string path_, bytes_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> rewrites_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a save through a symbolic link replaces the file it points to, and the link stays a link", "[io][atomic]") {
  TempDir dir;
  fs::create_directory(dir / "sub");
  const Tensor a = tg::arange(6, tg::kFloat32), b = tg::full({2, 2}, 7.0);

  // latest.npy -> run10.npy, relative to the link's folder.
  tg::save_npy((dir / "run10.npy").string(), a);
  fs::create_symlink("run10.npy", dir / "latest.npy");
  tg::save_npy((dir / "latest.npy").string(), b);
  CHECK(fs::is_symlink(dir / "latest.npy"));
  CHECK(fs::read_symlink(dir / "latest.npy") == "run10.npy");
  CHECK(same_bits(tg::load_npy((dir / "run10.npy").string()), b));

  // A chain of links, the last one relative to a subfolder: first -> sub/second -> third.
  tg::save_npy((dir / "sub" / "third.npy").string(), a);
  fs::create_symlink("third.npy", dir / "sub" / "second.npy");
  fs::create_symlink("sub/second.npy", dir / "first.npy");
  {
    tg::AtomicFileWriter out((dir / "first.npy").string());
    CHECK(out.target() == (dir / "sub" / "third.npy").string());
    CHECK(fs::path(out.temp_path()).parent_path() == dir / "sub");  // beside the file it replaces
  }
  tg::save_npy((dir / "first.npy").string(), b);
  CHECK(fs::is_symlink(dir / "first.npy"));
  CHECK(fs::is_symlink(dir / "sub" / "second.npy"));
  CHECK(same_bits(tg::load_npy((dir / "sub" / "third.npy").string()), b));

  // An absolute link, and a dangling one: the save creates the file it names.
  fs::create_symlink(dir / "run10.npy", dir / "absolute.npy");
  tg::save_npy((dir / "absolute.npy").string(), a);
  CHECK(fs::is_symlink(dir / "absolute.npy"));
  CHECK(same_bits(tg::load_npy((dir / "run10.npy").string()), a));
  fs::create_symlink("run11.safetensors", dir / "next.safetensors");
  tg::save_safetensors((dir / "next.safetensors").string(), {{"w", b}});
  CHECK(fs::is_symlink(dir / "next.safetensors"));
  CHECK(same_bits(tg::load_safetensors((dir / "run11.safetensors").string()).find("w"), b));

  // Every saver follows links the same way.
  for (const auto& [name, save] : savers()) {
    INFO(name);
    const fs::path file = dir / ("target." + name), link = dir / ("link." + name);
    fs::create_symlink(file.filename(), link);
    save(link.string());
    CHECK(fs::is_symlink(link));
    CHECK(fs::is_regular_file(file));
  }
  // No temporary is left anywhere.
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("a save refuses a device node, FIFO, socket or folder in the target's place, naming it", "[io][atomic]") {
  TempDir dir;
  make_fifo(dir / "pipe");
  make_socket(dir / "socket");
  fs::create_directory(dir / "folder");
  write_bytes(dir / "folder" / "inside", "x");
  fs::create_symlink("/dev/null", dir / "null.npy");  // a link to a device: the device is the target
  const bool root = ::geteuid() == 0;
  if (root) REQUIRE(::mknod((dir / "devnull").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);

  for (const auto& [name, save] : savers()) {
    INFO(name);
    CHECK_TG_ERROR(save((dir / "pipe").string()), Contains("pipe") && Contains("is a FIFO (named pipe)"));
    CHECK_TG_ERROR(save((dir / "socket").string()), Contains("socket") && Contains("is a socket"));
    CHECK_TG_ERROR(save((dir / "folder").string()), Contains("folder") && Contains("is a directory"));
    CHECK_TG_ERROR(save((dir / "null.npy").string()),
                   Contains("'/dev/null'") && Contains("null.npy") && Contains("is a character device"));
    if (root) CHECK_TG_ERROR(save((dir / "devnull").string()), Contains("devnull") && Contains("character device"));
  }
  // Each is still what it was, and no temporary is left.
  struct stat st {};
  CHECK((::lstat((dir / "pipe").c_str(), &st) == 0 && S_ISFIFO(st.st_mode)));
  CHECK((::lstat((dir / "socket").c_str(), &st) == 0 && S_ISSOCK(st.st_mode)));
  CHECK(entries_of(dir / "folder") == std::vector<std::string>{"inside"});
  CHECK(fs::is_symlink(dir / "null.npy"));
  CHECK((::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)));
  if (root) CHECK((::lstat((dir / "devnull").c_str(), &st) == 0 && S_ISCHR(st.st_mode)));
  std::vector<std::string> expected = {"folder", "null.npy", "pipe", "socket"};
  if (root) expected.insert(expected.begin(), "devnull");
  CHECK(entries_of(dir.path()) == expected);
}

TEST_CASE("a file name of 255 characters saves, its temporary name fitting NAME_MAX", "[io][atomic]") {
  TempDir dir;
  const std::string name = std::string(251, 'w') + ".npy";  // NAME_MAX on Linux file systems
  const std::string path = (dir / name).string();
  const Tensor t = tg::arange(5, tg::kFloat64);
  tg::save_npy(path, t);
  CHECK(same_bits(tg::load_npy(path), t));
  tg::save_npy(path, t * 2);  // and replaces it
  CHECK(same_bits(tg::load_npy(path), t * 2));
  {
    tg::AtomicFileWriter out(path);
    const std::string temp = fs::path(out.temp_path()).filename().string();
    CHECK(temp.size() <= 255);
    CHECK(fs::path(out.temp_path()).parent_path() == dir.path());
  }
  const std::string st_path = (dir / (std::string(243, 's') + ".safetensors")).string();  // 255 too
  tg::save_safetensors(st_path, {{"t", t}});
  CHECK(same_bits(tg::load_safetensors(st_path).find("t"), t));
  CHECK(entries_of(dir.path()).size() == 2);
}

TEST_CASE("every loader refuses a device, FIFO, socket or folder without reading it or waiting", "[io]") {
  TempDir dir;
  make_fifo(dir / "pipe");  // no writer: a blocking open would wait forever
  make_socket(dir / "socket");
  fs::create_directory(dir / "folder");
  fs::create_symlink(dir / "pipe", dir / "link_to_pipe");
  std::vector<std::pair<std::string, std::string>> cases = {{(dir / "pipe").string(), "is a FIFO (named pipe)"},
                                                            {(dir / "link_to_pipe").string(), "FIFO"},
                                                            {(dir / "socket").string(), "is a socket"},
                                                            {(dir / "folder").string(), "is a directory"}};
  if (fs::exists("/dev/zero")) cases.emplace_back("/dev/zero", "is a character device");  // endless zeros
  for (const auto& [name, load] : loaders()) {
    for (const auto& [path, kind] : cases) {
      INFO(name << " of " << path);
      CHECK_TG_ERROR(load(path), Contains(path) && Contains(kind) && Contains("not a regular file"));
    }
  }
  // A link to a regular file is read as the file.
  tg::save_npy((dir / "real.npy").string(), tg::ones({3}));
  fs::create_symlink("real.npy", dir / "link.npy");
  CHECK(same_bits(tg::load_npy((dir / "link.npy").string()), tg::ones({3})));
}

TEST_CASE("a file truncated and rewritten while it is loaded gives the right tensors or a tg::Error, never a signal",
          "[io][threads]") {
  TempDir dir;
  const Tensor w = tg::arange(1 << 19, tg::kFloat32), b = tg::arange(1000, tg::kInt64);  // 2 MiB
  const std::string st_path = (dir / "model.safetensors").string(), npy_path = (dir / "w.npy").string();
  tg::save_safetensors(st_path, {{"w", w}, {"b", b}});
  tg::save_npy(npy_path, w);
  constexpr int kLoads = 150;

  // A load that throws anything but a tg::Error, or dies of a signal, fails the test.
  int loaded = 0, refused = 0;
  {
    Rewriter rewriter(st_path, read_bytes(st_path));
    for (int i = 0; i < kLoads; ++i) {
      tg::SafetensorsFile f;
      try {
        f = tg::load_safetensors(st_path);
      } catch (const tg::Error& e) {
        CHECK_THAT(e.what(), Contains("model.safetensors"));
        ++refused;
        continue;
      }
      CHECK(same_bits(f.find("w"), w));
      CHECK(same_bits(f.find("b"), b));
      ++loaded;
    }
  }
  CHECK(loaded + refused == kLoads);
  {
    Rewriter rewriter(npy_path, read_bytes(npy_path));
    for (int i = 0; i < kLoads; ++i) {
      Tensor t;
      try {
        t = tg::load_npy(npy_path);
      } catch (const tg::Error& e) {
        CHECK_THAT(e.what(), Contains("w.npy"));
        continue;
      }
      CHECK(same_bits(t, w));
    }
  }
  // Once the file stands still, it loads.
  CHECK(same_bits(tg::load_npy(npy_path), w));
  CHECK(same_bits(tg::load_safetensors(st_path).find("w"), w));
}

TEST_CASE("a save removes the temporaries that killed saves to its target left, and nothing else", "[io][atomic]") {
  TempDir dir;
  const std::string path = (dir / "m.npy").string();
  const std::vector<std::string> unrelated = {"m.npy.tmp.Ab3xY",       "m.npy.tmp.Ab3xYz7", "m.npy.tmp.Ab3-Yz",
                                              "n.npy.tmp.Ab3xYz",      "xm.npy.tmp.Ab3xYz", "m.npy.TMP.Ab3xYz",
                                              "m.npy.tmp.Ab3xYz.keep", "m.npy.tmpAAb3xYz"};
  for (const std::string& name : unrelated) write_bytes(dir / name, "not ours");
  write_bytes(dir / "m.npy.tmp.Ab3xYz", std::string(4096, 'x'));  // a dead writer's
  write_bytes(dir / "m.npy.tmp.000000", "y");                     // another dead writer's
  write_bytes(dir / "elsewhere", "z");
  fs::create_symlink("elsewhere", dir / "m.npy.tmp.LnK123");  // matches, but a link: left alone

  // A writer still at work holds its temporary: it stays, and commits afterwards.
  tg::AtomicFileWriter live(path);
  live.write("live", 4);
  const std::string live_temp = fs::path(live.temp_path()).filename().string();

  tg::save_npy(path, tg::ones({2}));
  std::vector<std::string> expected = unrelated;
  for (const char* name : {"elsewhere", "m.npy", "m.npy.tmp.LnK123"}) expected.emplace_back(name);
  expected.push_back(live_temp);
  std::sort(expected.begin(), expected.end());
  CHECK(entries_of(dir.path()) == expected);
  live.commit();
  CHECK(read_bytes(path) == "live");

  // A long name's temporaries are cut and hashed; the pattern is still exact.
  const std::string long_path = (dir / std::string(255, 'L')).string();
  std::string stale;
  {
    tg::AtomicFileWriter writer(long_path);
    stale = writer.temp_path();
  }
  stale.replace(stale.size() - 6, 6, "QQQQQQ");
  write_bytes(stale, "dead");
  tg::save_npy(long_path, tg::ones({1}));
  CHECK_FALSE(fs::exists(stale));

  // A real writer killed with SIGKILL mid-save: the next save clears what it left.
  TempDir run;
  const std::string ckpt = (run / "run.ckpt").string();
  bool left_behind = false;
  for (int attempt = 0; attempt < 5 && !left_behind; ++attempt) {
    const pid_t pid = spawn_checkpoint_writer(ckpt);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto temp_bytes = [&] {
      for (const std::string& name : entries_of(run.path())) {
        struct stat st {};
        if (name != "run.ckpt" && ::stat((run / name).c_str(), &st) == 0) return static_cast<long long>(st.st_size);
      }
      return -1LL;
    };
    while (temp_bytes() < 1 << 20 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    for (const std::string& name : entries_of(run.path())) left_behind |= name != "run.ckpt";
  }
  REQUIRE(left_behind);
  tg::Checkpoint ck;
  ck.model.insert("w", tg::ones({2}));
  tg::save_checkpoint(ck, ckpt);
  CHECK(entries_of(run.path()) == std::vector<std::string>{"run.ckpt"});
}
