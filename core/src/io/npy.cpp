// .npy: the header is a Python dict literal, parsed here by a small recursive-descent reader of
// exactly the literals numpy writes (strings, True/False, tuples of integers); nothing is
// evaluated. Writing reproduces numpy.save's bytes, including its padding.
#include "tapegrad/core/npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "io/common.h"
#include "io/input_file.h"
#include "tapegrad/core/atomic_file.h"
#include "tapegrad/core/error.h"

namespace tg {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

/// The dtype of a descr, or nullopt-like false; numpy's byte-order marks: '<' little, '>' big,
/// '=' native (little here), '|' not applicable, none = native.
struct Descr {
  bool ok = false;
  bool big_endian = false;
  DType dtype = kFloat32;
};

Descr parse_descr(std::string_view s) {
  Descr d;
  char order = '=';
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|')) {
    order = s[0];
    s.remove_prefix(1);
  }
  if (s == "f4") d.dtype = kFloat32;
  else if (s == "f8") d.dtype = kFloat64;
  else if (s == "i8") d.dtype = kInt64;
  else if (s == "b1" || s == "?") d.dtype = kBool;
  else return d;
  d.ok = true;
  // One-byte types have no byte order; numpy accepts any mark on them.
  d.big_endian = order == '>' && d.dtype != kBool;
  return d;
}

/// Reads the header dict {'descr': ..., 'fortran_order': ..., 'shape': (...), }.
class HeaderReader {
 public:
  HeaderReader(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  void read(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool seen[3] = {false, false, false};
    skip_space();
    expect('{', "the header must start with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = read_string("a key");
      skip_space();
      expect(':', "':' after a key");
      skip_space();
      int index = -1;
      if (key == "descr") {
        index = 0;
        TG_CHECK(peek() == '\'' || peek() == '"',
                 "npy: '{}': 'descr' must be a string such as '<f4' (structured dtypes are not supported), found "
                 "'{}'",
                 source_, rest());
        descr = read_string("the descr");
      } else if (key == "fortran_order") {
        index = 1;
        fortran_order = read_bool();
      } else if (key == "shape") {
        index = 2;
        shape = read_tuple();
      } else {
        fail("npy: '{}': malformed header: unexpected key '{}' (expected descr, fortran_order, shape)", source_, key);
      }
      TG_CHECK(!seen[index], "npy: '{}': malformed header: key '{}' appears twice", source_, key);
      seen[index] = true;
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      TG_CHECK(peek() == '}', "npy: '{}': malformed header: expected ',' or '}}' after the value of '{}', found '{}'",
               source_, key, rest());
    }
    ++pos_;  // '}'
    skip_space();
    TG_CHECK(pos_ == s_.size(), "npy: '{}': malformed header: unexpected '{}' after the dict", source_, rest());
    const char* names[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; ++i) {
      TG_CHECK(seen[i], "npy: '{}': malformed header: no '{}' key", source_, names[i]);
    }
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  /// The text from the current position, shortened, for messages.
  std::string rest() const {
    if (pos_ >= s_.size()) return "end of header";
    std::string r(s_.substr(pos_, 20));
    while (!r.empty() && r.back() == ' ') r.pop_back();
    for (char& c : r) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return r;
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r' ||
                                s_[pos_] == '\f' || s_[pos_] == '\v')) {
      ++pos_;
    }
  }
  void expect(char c, const char* what) {
    TG_CHECK(peek() == c, "npy: '{}': malformed header: expected {}, found '{}'", source_, what, rest());
    ++pos_;
  }
  std::string read_string(const char* what) {
    const char quote = peek();
    TG_CHECK(quote == '\'' || quote == '"', "npy: '{}': malformed header: expected a quoted string as {}, found '{}'",
             source_, what, rest());
    const std::size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      TG_CHECK(s_[pos_] != '\\' && s_[pos_] != '\n', "npy: '{}': malformed header: unsupported character in a string",
               source_);
      ++pos_;
    }
    TG_CHECK(pos_ < s_.size(), "npy: '{}': malformed header: unterminated string", source_);
    return std::string(s_.substr(start, pos_++ - start));
  }
  bool read_bool() {
    for (auto [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}}) {
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("npy: '{}': malformed header: 'fortran_order' must be True or False, found '{}'", source_, rest());
  }
  std::int64_t read_int() {
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    TG_CHECK(peek() >= '0' && peek() <= '9', "npy: '{}': malformed header: expected an integer in 'shape', found '{}'",
             source_, rest());
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      TG_CHECK(!__builtin_mul_overflow(v, 10, &v) && !__builtin_add_overflow(v, peek() - '0', &v),
               "npy: '{}': shape extent overflows int64", source_);
      ++pos_;
    }
    TG_CHECK(!negative, "npy: '{}': negative extent -{} in 'shape'", source_, v);
    return v;
  }
  /// (), (n,), (n, m), (n, m,) -- a 1-tuple needs its trailing comma, as in Python.
  std::vector<std::int64_t> read_tuple() {
    expect('(', "a tuple '(' for 'shape'");
    std::vector<std::int64_t> dims;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      TG_CHECK(dims.size() < 64, "npy: '{}': 'shape' has too many dimensions", source_);
      dims.push_back(read_int());
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
        continue;
      }
      TG_CHECK(peek() == ')', "npy: '{}': malformed header: expected ',' or ')' in 'shape', found '{}'", source_,
               rest());
    }
    ++pos_;
    TG_CHECK(dims.size() != 1 || trailing_comma,
             "npy: '{}': malformed header: 'shape' ({}) is not a tuple (a 1-tuple is written ({},))", source_, dims[0],
             dims[0]);
    return dims;
  }

  std::string_view s_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

std::uint32_t read_le(const unsigned char* p, int n) {
  std::uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Int64: return "<i8";
    case DType::Bool: return "|b1";
  }
  return "?";
}

/// Python's repr of a shape tuple: (), (3,), (3, 4).
std::string shape_repr(IntArrayRef shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

/// Where the data starts and what it holds, from a validated header.
struct Layout {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::size_t data_start, nbytes;
};

/// How many bytes the magic, version, header length and header take: the bytes parse_layout
/// needs. bytes holds the file's first min(size, 12) bytes.
std::size_t header_end(const unsigned char* bytes, std::uint64_t size, const std::string& source) {
  TG_CHECK(size >= kMagicSize && std::memcmp(bytes, kMagic, kMagicSize) == 0,
           "npy: '{}': not a .npy file (it does not start with \\x93NUMPY)", source);
  TG_CHECK(size >= kMagicSize + 2, "npy: '{}': file is truncated before its version", source);
  const int major = bytes[6], minor = bytes[7];
  TG_CHECK((major == 1 || major == 2 || major == 3) && minor == 0,
           "npy: '{}': unsupported format version {}.{} (tapegrad reads 1.0, 2.0 and 3.0)", source, major, minor);
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t prefix = kMagicSize + 2 + length_bytes;
  TG_CHECK(size >= prefix, "npy: '{}': file is truncated before its header length", source);
  const std::size_t header_len = read_le(bytes + 8, static_cast<int>(length_bytes));
  TG_CHECK(header_len <= size - prefix, "npy: '{}': header length {} exceeds the {} bytes that follow it (truncated?)",
           source, header_len, size - prefix);
  return prefix + header_len;
}

/// Validates the header (bytes holds the first header_end() bytes of a file of size bytes).
Layout parse_layout(const unsigned char* bytes, std::uint64_t size, const std::string& source) {
  const std::size_t end = header_end(bytes, size, source);
  const std::size_t prefix = kMagicSize + 2 + (bytes[6] == 1 ? 2 : 4);  // magic, version, header length
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  HeaderReader(std::string_view(reinterpret_cast<const char*>(bytes + prefix), end - prefix), source)
      .read(descr, fortran_order, shape);

  const Descr d = parse_descr(descr);
  TG_CHECK(d.ok, "npy: '{}': unsupported descr '{}' (tapegrad reads '<f4', '<f8', '<i8' and '|b1')", source, descr);
  TG_CHECK(!d.big_endian, "npy: '{}': descr '{}' is big-endian; tapegrad reads little-endian data only", source, descr);
  TG_CHECK(!fortran_order, "npy: '{}': fortran_order True (column-major data) is not supported; save a C-ordered array",
           source);
  std::int64_t numel = 0;
  const std::string problem = io::shape_problem(shape, &numel);
  TG_CHECK(problem.empty(), "npy: '{}': {}", source, problem);

  const std::uint64_t available = size - end;
  const std::size_t item = itemsize(d.dtype);
  const auto n = static_cast<std::uint64_t>(numel);
  std::uint64_t needed = 0;
  const bool overflow = __builtin_mul_overflow(n, item, &needed);
  TG_CHECK(!overflow && needed == available,
           "npy: '{}': shape {} of {} needs {} bytes of data but the file has {} after the header ({})", source,
           DimVec(shape), descr, overflow ? fmt::format("{} x {}", n, item) : fmt::format("{}", needed), available,
           !overflow && needed < available ? "extra bytes at the end" : "truncated data");
  return {d.dtype, std::move(shape), end, static_cast<std::size_t>(needed)};
}

/// The tensor of a validated layout; read(dst, n, offset) fills dst with the file's bytes.
template <typename Read>
Tensor read_data(const Layout& layout, Read&& read, const std::string& source) {
  Tensor t = empty(layout.shape, layout.dtype);
  if (layout.nbytes > 0) read(t.data_ptr(), layout.nbytes, layout.data_start);
  if (layout.dtype == kBool) {
    const auto* p = static_cast<const unsigned char*>(t.data_ptr());
    const std::size_t bad = io::first_invalid_bool(p, layout.nbytes);
    TG_CHECK(bad == layout.nbytes, "npy: '{}': bool data holds byte {} at element {} (must be 0 or 1)", source,
             static_cast<int>(p[bad]), bad);
  }
  return t;
}

}  // namespace

Tensor parse_npy(const void* data, std::size_t size, const std::string& source) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  return read_data(
      parse_layout(bytes, size, source),
      [&](void* dst, std::size_t n, std::size_t offset) { std::memcpy(dst, bytes + offset, n); }, source);
}

Tensor load_npy(const std::string& path) {
  // The header is read and validated first, then the data with pread straight into the tensor's
  // storage; a file that changes underneath is an error, never a signal (see InputFile).
  const io::InputFile file(path, "load_npy");
  unsigned char first[12];
  const std::size_t have = static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), sizeof first));
  file.read(first, have, 0);
  std::string head(header_end(first, file.size(), path), '\0');
  file.read(head.data(), head.size(), 0);
  Tensor t = read_data(
      parse_layout(reinterpret_cast<const unsigned char*>(head.data()), file.size(), path),
      [&](void* dst, std::size_t n, std::size_t offset) { file.read(dst, n, offset); }, path);
  file.check_unchanged();
  return t;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  TG_CHECK(tensor.defined(), "save_npy: the tensor to write to '{}' is undefined", path);
  const Tensor t = tensor.detach().contiguous();
  // numpy.save's header: sorted keys, a spare space for growing the first axis (21 digits),
  // then spaces and '\n' so that the data starts at a multiple of 64 bytes.
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(t.dtype()),
                                   shape_repr(t.shape()));
  if (t.dim() > 0) header.append(21 - std::to_string(t.size(0)).size(), ' ');
  std::size_t length_bytes = 2;
  int major = 1;
  auto padding = [&] { return 64 - (kMagicSize + 2 + length_bytes + header.size() + 1) % 64; };
  if (header.size() + padding() + 1 > 0xffff) {
    length_bytes = 4;
    major = 2;
  }
  header.append(padding(), ' ');
  header += '\n';
  std::string prefix(kMagic, kMagicSize);
  prefix += static_cast<char>(major);
  prefix += '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) prefix += static_cast<char>((header.size() >> (8 * i)) & 0xff);

  AtomicFileWriter out(path);
  out.write(prefix.data(), prefix.size());
  out.write(header.data(), header.size());
  out.write(t.data_ptr(), static_cast<std::size_t>(t.numel()) * itemsize(t.dtype()));
  out.commit();
}

}  // namespace tg
