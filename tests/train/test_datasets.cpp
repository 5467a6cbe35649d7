// The IDX (MNIST) and CIFAR-10 readers on files written here: values, shapes, and every way a
// file can be wrong (magic, truncation, extra bytes, pairs that do not match, gzip, bad labels).
#include <catch2/catch.hpp>
#include <fstream>

#include "golden_io/io_helpers.h"
#include "support/helpers.h"
#include "tapegrad/tapegrad.h"
#include "tapegrad/train/datasets.h"

using namespace tg;
using Catch::Matchers::Contains;
using tg_io_test::TempDir;

namespace {

using Bytes = std::vector<unsigned char>;

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

/// An IDX file of unsigned bytes with the given dims and payload.
Bytes idx_ubyte(const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes b{0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims) put32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

/// n images of 2 x 3 pixels (pixel p of image i = 10 i + p) and labels i % 10.
void write_mnist(const TempDir& dir, const std::string& prefix, std::uint32_t n) {
  Bytes pixels, labels;
  for (std::uint32_t i = 0; i < n; ++i) {
    for (std::uint32_t p = 0; p < 6; ++p) pixels.push_back(static_cast<unsigned char>(10 * i + p));
    labels.push_back(static_cast<unsigned char>(i % 10));
  }
  write_file(dir / (prefix + "-images-idx3-ubyte"), idx_ubyte({n, 2, 3}, pixels));
  Bytes lab = idx_ubyte({n}, labels);
  lab[3] = 1;
  write_file(dir / (prefix + "-labels-idx1-ubyte"), lab);
}

}  // namespace

TEST_CASE("read_idx reads every IDX element type, big-endian", "[data][datasets]") {
  TempDir dir;
  write_file(dir / "u8", idx_ubyte({2, 2}, {0, 1, 254, 255}));
  CHECK(data::read_idx((dir / "u8").string()).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 254, 255});
  CHECK(data::read_idx((dir / "u8").string()).shape() == DimVec{2, 2});

  Bytes s8{0, 0, 0x09, 1};
  put32(s8, 2);
  s8.insert(s8.end(), {0xff, 0x7f});
  write_file(dir / "s8", s8);
  CHECK(data::read_idx((dir / "s8").string()).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 127});

  Bytes i16{0, 0, 0x0B, 1};
  put32(i16, 2);
  i16.insert(i16.end(), {0x01, 0x02, 0xff, 0xfe});
  write_file(dir / "i16", i16);
  CHECK(data::read_idx((dir / "i16").string()).to_vector<std::int64_t>() == std::vector<std::int64_t>{258, -2});

  Bytes i32{0, 0, 0x0C, 1};
  put32(i32, 1);
  put32(i32, 0xfffffffeu);
  write_file(dir / "i32", i32);
  CHECK(data::read_idx((dir / "i32").string()).item<std::int64_t>() == -2);

  Bytes f32{0, 0, 0x0D, 1};
  put32(f32, 1);
  put32(f32, 0x3fc00000u);  // 1.5f
  write_file(dir / "f32", f32);
  Tensor f = data::read_idx((dir / "f32").string());
  CHECK(f.dtype() == kFloat32);
  CHECK(f.item() == 1.5);

  Bytes f64{0, 0, 0x0E, 1};
  put32(f64, 1);
  put32(f64, 0xc0040000u);  // -2.5
  put32(f64, 0);
  write_file(dir / "f64", f64);
  Tensor d = data::read_idx((dir / "f64").string());
  CHECK(d.dtype() == kFloat64);
  CHECK(d.item() == -2.5);
}

TEST_CASE("read_idx rejects files that are not what their header says", "[data][datasets]") {
  TempDir dir;
  const auto path = [&](const std::string& name, const Bytes& b) {
    write_file(dir / name, b);
    return (dir / name).string();
  };
  CHECK_TG_ERROR(data::read_idx(path("short", {0, 0})),
                 Contains("is truncated: 2 bytes, shorter than the 4-byte magic"));
  CHECK_TG_ERROR(data::read_idx(path("magic", {1, 2, 8, 1})),
                 Contains("is not an IDX file: its magic number 0x01020801 does not start with two zero bytes"));
  CHECK_TG_ERROR(data::read_idx(path("type", {0, 0, 0x07, 1, 0, 0, 0, 0})), Contains("unknown element type 0x07"));
  CHECK_TG_ERROR(data::read_idx(path("header", {0, 0, 0x08, 3, 0, 0, 0, 1})),
                 Contains("is truncated: 8 bytes, shorter than its 16-byte header"));
  Bytes cut = idx_ubyte({2, 3}, {1, 2, 3, 4, 5});
  CHECK_TG_ERROR(
      data::read_idx(path("cut", cut)),
      Contains("is truncated: its header declares 6 unsigned bytes (18 bytes with the header) but the file has "
               "17 bytes"));
  Bytes extra = idx_ubyte({2}, {1, 2, 3});
  CHECK_TG_ERROR(data::read_idx(path("extra", extra)), Contains("is longer than its header says"));
  CHECK_TG_ERROR(data::read_idx(path("gz", {0x1f, 0x8b, 8, 0, 0, 0})),
                 Contains("is gzip-compressed; uncompress it first"));
  CHECK_TG_ERROR(data::read_idx((dir / "absent").string()), Contains("is not a readable file (it does not exist)"));
  CHECK_TG_ERROR(data::read_idx(dir.path().string()), Contains("is not a readable file"));
}

TEST_CASE("load_mnist pairs images and labels into a dataset scaled to 0..1", "[data][datasets]") {
  TempDir dir;
  write_mnist(dir, "train", 12);
  write_mnist(dir, "t10k", 3);
  auto train = data::load_mnist(dir.path().string());
  auto test = data::load_mnist(dir.path().string(), false);
  REQUIRE(train->size() == 12);
  REQUIRE(test->size() == 3);
  data::Example e = train->get(11);
  CHECK(e[0].shape() == DimVec{1, 2, 3});
  CHECK(e[0].dtype() == kFloat32);
  CHECK(e[0].at<float>({0, 1, 2}) == Approx(115.0 / 255.0));
  CHECK(e[1].item<std::int64_t>() == 1);
  // Through a DataLoader: batches of [B, 1, 2, 3].
  data::DataLoader loader(train, data::DataLoaderOptions(5));
  for (const data::Batch& b : loader) CHECK(b[0].size(1) == 1);
}

TEST_CASE("read_mnist names the file and the problem", "[data][datasets]") {
  TempDir dir;
  write_mnist(dir, "train", 4);
  write_mnist(dir, "t10k", 3);
  const std::string images = (dir / "train-images-idx3-ubyte").string(),
                    labels = (dir / "train-labels-idx1-ubyte").string();
  CHECK_TG_ERROR(data::read_mnist(labels, images),
                 Contains("has magic number 2049 but an MNIST images file has 2051 (unsigned bytes, 3 dims); it looks "
                          "like a labels file"));
  CHECK_TG_ERROR(data::read_mnist(images, (dir / "t10k-labels-idx1-ubyte").string()),
                 Contains("holds 4 images but '" + (dir / "t10k-labels-idx1-ubyte").string() +
                          "' holds 3 labels; the files do not belong together"));
  std::filesystem::resize_file(images, 20);
  CHECK_TG_ERROR(data::read_mnist(images, labels), Contains("is truncated"));
  CHECK_TG_ERROR(data::load_mnist((dir / "nowhere").string()), Contains("(it does not exist)"));
}

TEST_CASE("read_cifar10 reads records of a label and three colour planes", "[data][datasets]") {
  TempDir dir;
  constexpr std::size_t kRecord = 3073;
  for (int f = 1; f <= 5; ++f) {
    Bytes b;
    for (int r = 0; r < 2; ++r) {
      b.push_back(static_cast<unsigned char>((f + r) % 10));
      for (std::size_t p = 0; p < 3072; ++p)
        b.push_back(static_cast<unsigned char>((p + static_cast<std::size_t>(f)) % 256));
    }
    write_file(dir / ("data_batch_" + std::to_string(f) + ".bin"), b);
  }
  write_file(dir / "test_batch.bin", Bytes(kRecord, 3));
  auto train = data::load_cifar10(dir.path().string());
  REQUIRE(train->size() == 10);
  data::Example e = train->get(3);  // file 2, record 1
  CHECK(e[1].item<std::int64_t>() == 3);
  CHECK(e[0].shape() == DimVec{3, 32, 32});
  CHECK(e[0].at<float>({1, 0, 0}) == Approx(((1024 + 2) % 256) / 255.0));  // green plane, first pixel
  auto test = data::load_cifar10(dir.path().string(), false);
  CHECK(test->size() == 1);
  CHECK(test->get(0)[1].item<std::int64_t>() == 3);

  write_file(dir / "cut.bin", Bytes(kRecord + 5, 1));
  CHECK_TG_ERROR(data::read_cifar10({(dir / "cut.bin").string()}),
                 Contains("has 3078 bytes, not a whole number of 3073-byte records"));
  Bytes bad(kRecord, 0);
  bad[0] = 12;
  write_file(dir / "label.bin", bad);
  CHECK_TG_ERROR(data::read_cifar10({(dir / "label.bin").string()}),
                 Contains("record 0 has label 12; CIFAR-10 labels are 0 to 9"));
  write_file(dir / "empty.bin", {});
  CHECK_TG_ERROR(data::read_cifar10({(dir / "empty.bin").string()}), Contains("has 0 bytes"));
  CHECK_TG_ERROR(data::read_cifar10({}), Contains("read_cifar10: expected at least one batch file"));
}
