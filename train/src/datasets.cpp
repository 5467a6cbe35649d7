// IDX (MNIST) and CIFAR-10 binary readers. A file is read whole, then its header is checked
// against its size before any element is touched.
#include "tapegrad/train/datasets.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tapegrad/core/factory.h"

namespace tg::data {
namespace {

std::vector<unsigned char> read_bytes(const std::string& path, const char* op) {
  std::error_code ec;
  TG_CHECK(std::filesystem::is_regular_file(path, ec), "{}: '{}' is not a readable file{}", op, path,
           std::filesystem::exists(path, ec) ? "" : " (it does not exist)");
  std::ifstream in(path, std::ios::binary);
  TG_CHECK(in.good(), "{}: cannot open '{}'", op, path);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TG_CHECK(!in.bad(), "{}: reading '{}' failed", op, path);
  TG_CHECK(!(bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b),
           "{}: '{}' is gzip-compressed; uncompress it first (gunzip -k '{}')", op, path, path);
  return bytes;
}

std::uint32_t big_endian32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

struct IdxType {
  const char* name;
  std::size_t size;
};

IdxType idx_type(unsigned char code, const std::string& path) {
  switch (code) {
    case 0x08: return {"unsigned byte", 1};
    case 0x09: return {"signed byte", 1};
    case 0x0B: return {"short", 2};
    case 0x0C: return {"int", 4};
    case 0x0D: return {"float", 4};
    case 0x0E: return {"double", 8};
    default:
      fail(
          "read_idx: '{}' has an unknown element type 0x{:02x} in its magic number (expected 0x08, 0x09, 0x0b, "
          "0x0c, 0x0d or 0x0e)",
          path, code);
  }
}

/// Big-endian element i of an IDX payload, converted to T.
template <typename T>
T idx_element(const unsigned char* p, unsigned char code) {
  switch (code) {
    case 0x08: return static_cast<T>(p[0]);
    case 0x09: return static_cast<T>(static_cast<std::int8_t>(p[0]));
    case 0x0B: return static_cast<T>(static_cast<std::int16_t>((p[0] << 8) | p[1]));
    case 0x0C: return static_cast<T>(static_cast<std::int32_t>(big_endian32(p)));
    case 0x0D: {
      const std::uint32_t bits = big_endian32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      return static_cast<T>(f);
    }
    default: {
      const std::uint64_t bits = (std::uint64_t{big_endian32(p)} << 32) | big_endian32(p + 4);
      double d;
      std::memcpy(&d, &bits, 8);
      return static_cast<T>(d);
    }
  }
}

template <typename T>
Tensor idx_tensor(const unsigned char* payload, std::size_t count, std::size_t width, unsigned char code,
                  const std::vector<std::int64_t>& shape, DType dtype) {
  std::vector<T> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = idx_element<T>(payload + i * width, code);
  return from_vector(values, shape, dtype);
}

}  // namespace

Tensor read_idx(const std::string& path) {
  const std::vector<unsigned char> bytes = read_bytes(path, "read_idx");
  TG_CHECK(bytes.size() >= 4, "read_idx: '{}' is truncated: {} bytes, shorter than the 4-byte magic number", path,
           bytes.size());
  TG_CHECK(bytes[0] == 0 && bytes[1] == 0,
           "read_idx: '{}' is not an IDX file: its magic number 0x{:02x}{:02x}{:02x}{:02x} does not start with two "
           "zero bytes",
           path, bytes[0], bytes[1], bytes[2], bytes[3]);
  const IdxType type = idx_type(bytes[2], path);
  const std::size_t ndim = bytes[3];
  TG_CHECK(ndim >= 1, "read_idx: '{}' declares 0 dimensions", path);
  const std::size_t header = 4 + 4 * ndim;
  TG_CHECK(bytes.size() >= header, "read_idx: '{}' is truncated: {} bytes, shorter than its {}-byte header", path,
           bytes.size(), header);
  std::vector<std::int64_t> shape(ndim);
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    shape[d] = big_endian32(bytes.data() + 4 + 4 * d);
    const auto s = static_cast<std::uint64_t>(shape[d]);
    TG_CHECK(s == 0 || count <= std::numeric_limits<std::uint64_t>::max() / 8 / s,
             "read_idx: '{}' declares a shape too large to hold", path);
    count *= s;
  }
  const std::uint64_t want = header + count * type.size;
  TG_CHECK(bytes.size() == want,
           "read_idx: '{}' is {}: its header declares {} {}s ({} bytes with the header) but the file has {} bytes",
           path, bytes.size() < want ? "truncated" : "longer than its header says", count, type.name, want,
           bytes.size());
  const unsigned char* payload = bytes.data() + header;
  const auto n = static_cast<std::size_t>(count);
  switch (bytes[2]) {
    case 0x0D: return idx_tensor<float>(payload, n, type.size, bytes[2], shape, kFloat32);
    case 0x0E: return idx_tensor<double>(payload, n, type.size, bytes[2], shape, kFloat64);
    default: return idx_tensor<std::int64_t>(payload, n, type.size, bytes[2], shape, kInt64);
  }
}

std::shared_ptr<TensorDataset> read_mnist(const std::string& images_path, const std::string& labels_path) {
  // The magic numbers are checked first, so a swapped pair is named as such.
  const auto magic = [](const std::string& path) {
    std::error_code ec;
    TG_CHECK(std::filesystem::is_regular_file(path, ec), "read_mnist: '{}' is not a readable file{}", path,
             std::filesystem::exists(path, ec) ? "" : " (it does not exist)");
    std::ifstream in(path, std::ios::binary);
    unsigned char head[4] = {0, 0, 0, 0};
    in.read(reinterpret_cast<char*>(head), 4);
    TG_CHECK(in.gcount() == 4, "read_mnist: '{}' is truncated: {} bytes, shorter than the 4-byte magic number", path,
             in.gcount());
    TG_CHECK(!(head[0] == 0x1f && head[1] == 0x8b),
             "read_mnist: '{}' is gzip-compressed; uncompress it first (gunzip -k '{}')", path, path);
    return big_endian32(head);
  };
  const std::uint32_t image_magic = magic(images_path), label_magic = magic(labels_path);
  TG_CHECK(image_magic == 2051,
           "read_mnist: '{}' has magic number {} but an MNIST images file has 2051 (unsigned bytes, 3 dims){}",
           images_path, image_magic, image_magic == 2049 ? "; it looks like a labels file" : "");
  TG_CHECK(label_magic == 2049,
           "read_mnist: '{}' has magic number {} but an MNIST labels file has 2049 (unsigned bytes, 1 dim){}",
           labels_path, label_magic, label_magic == 2051 ? "; it looks like an images file" : "");
  Tensor images = read_idx(images_path);
  Tensor labels = read_idx(labels_path);
  TG_CHECK(images.size(0) == labels.size(0),
           "read_mnist: '{}' holds {} images but '{}' holds {} labels; the files do not belong together", images_path,
           images.size(0), labels_path, labels.size(0));
  images = images.to(kFloat32).div(255.0).unsqueeze(1);
  return std::make_shared<TensorDataset>(std::vector<Tensor>{images, labels});
}

std::shared_ptr<TensorDataset> load_mnist(const std::string& folder, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::filesystem::path dir(folder);
  return read_mnist((dir / (prefix + "-images-idx3-ubyte")).string(), (dir / (prefix + "-labels-idx1-ubyte")).string());
}

std::shared_ptr<TensorDataset> read_cifar10(const std::vector<std::string>& paths) {
  constexpr std::size_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;
  TG_CHECK(!paths.empty(), "read_cifar10: expected at least one batch file");
  std::vector<std::vector<unsigned char>> files;
  std::size_t records = 0;
  for (const std::string& path : paths) {
    files.push_back(read_bytes(path, "read_cifar10"));
    const std::size_t size = files.back().size();
    TG_CHECK(size > 0 && size % kRecord == 0,
             "read_cifar10: '{}' has {} bytes, not a whole number of {}-byte records (a label byte and 3072 pixel "
             "bytes); the file is truncated or not a CIFAR-10 binary batch",
             path, size, kRecord);
    records += size / kRecord;
  }
  std::vector<float> pixels(records * kPixels);
  std::vector<std::int64_t> labels(records);
  std::size_t r = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    const std::vector<unsigned char>& bytes = files[f];
    for (std::size_t off = 0; off < bytes.size(); off += kRecord, ++r) {
      TG_CHECK(bytes[off] <= 9, "read_cifar10: '{}' record {} has label {}; CIFAR-10 labels are 0 to 9", paths[f],
               off / kRecord, bytes[off]);
      labels[r] = bytes[off];
      for (std::size_t p = 0; p < kPixels; ++p)
        pixels[r * kPixels + p] = static_cast<float>(bytes[off + 1 + p]) / 255.0f;
    }
  }
  const auto n = static_cast<std::int64_t>(records);
  return std::make_shared<TensorDataset>(
      std::vector<Tensor>{from_vector(pixels, {n, 3, 32, 32}), from_vector(labels, {n})});
}

std::shared_ptr<TensorDataset> load_cifar10(const std::string& folder, bool train) {
  const std::filesystem::path dir(folder);
  std::vector<std::string> paths;
  if (train)
    for (int i = 1; i <= 5; ++i) paths.push_back((dir / ("data_batch_" + std::to_string(i) + ".bin")).string());
  else paths.push_back((dir / "test_batch.bin").string());
  return read_cifar10(paths);
}

}  // namespace tg::data
