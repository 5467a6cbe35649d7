// safetensors: reading validates the whole header before it trusts any of it (sizes, offsets,
// dtypes, shapes), then reads each tensor once into its own storage (pread from a file, memcpy
// from memory); writing streams the
// header and each tensor's contiguous bytes through an AtomicFileWriter.
#include "tapegrad/core/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_set>

#include "io/common.h"
#include "io/input_file.h"
#include "tapegrad/core/atomic_file.h"
#include "tapegrad/core/error.h"

namespace tg {
namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // 100 MB, as in the Rust safetensors
constexpr const char* kMetadataKey = "__metadata__";

// ---- dtypes ------------------------------------------------------------------------------------

/// A safetensors dtype name and how tapegrad reads it (nullptr: known but not supported).
struct FileDtype {
  std::string_view name;
  std::size_t itemsize;
  bool supported;
  DType dtype;  // the tensor's dtype after loading (F16 and BF16 widen to float32)
};

constexpr FileDtype kFileDtypes[] = {
    {"F32", 4, true, kFloat32},  {"F64", 8, true, kFloat64},      {"I64", 8, true, kInt64},
    {"BOOL", 1, true, kBool},    {"F16", 2, true, kFloat32},      {"BF16", 2, true, kFloat32},
    {"I8", 1, false, kFloat32},  {"U8", 1, false, kFloat32},      {"I16", 2, false, kFloat32},
    {"U16", 2, false, kFloat32}, {"I32", 4, false, kFloat32},     {"U32", 4, false, kFloat32},
    {"U64", 8, false, kFloat32}, {"F8_E4M3", 1, false, kFloat32}, {"F8_E5M2", 1, false, kFloat32},
    {"C64", 8, false, kFloat32},
};

const char* file_dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

/// IEEE binary16 to binary32, exactly: every half (subnormals, infinities, NaN payloads) is a float.
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, or NaN with its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal: mantissa * 2^-24. Shift the leading 1 up to the implicit bit, one exponent step
    // per shift, starting from 2^-14 (biased 127 - 14 = 113).
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

/// bfloat16 is the top half of a float32.
float bfloat16_to_float(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

// ---- header parsing ----------------------------------------------------------------------------

/// s for a message, cut to a readable length (a hostile header's strings can be megabytes long).
std::string clip(std::string s) {
  if (s.size() > 64) s = s.substr(0, 64) + "...";
  return s;
}

const char* json_type(const Json& j) {
  if (j.is_number_unsigned() || j.is_number_integer()) return "an integer";
  if (j.is_number_float()) return "a floating-point number";
  return j.type_name();
}

/// The header, read by a SAX handler rather than nlohmann's DOM parser: that one keeps the last
/// of duplicate keys, and its callback variant scans the whole parent object after every nested
/// one (quadratic: 32k tensors took 41 s). This handler builds each top-level value as a small
/// Json of its own, keeps the top level as a list, and rejects duplicate keys (a set per object:
/// O(n log n) in all), nesting deeper than a valid header's (root, tensor, shape) and arrays
/// longer than a shape can be, so a hostile header cannot grow memory far beyond its own size.
class HeaderReader {
 public:
  explicit HeaderReader(const std::string& source) : source_(source) {}

  /// The top-level (key, value) pairs in file order; tg::Error for invalid JSON or a root that is
  /// not an object.
  std::vector<std::pair<std::string, Json>> read(std::string_view json) && {
    Json::sax_parse(json.begin(), json.end(), this);
    TG_CHECK(root_is_object_, "safetensors: '{}': header must be a JSON object, got {}", source_, json_type(root_));
    return std::move(items_);
  }

  // ---- nlohmann's SAX interface ----
  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(Json::number_integer_t v) { return add(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return add(v); }
  bool number_float(Json::number_float_t v, const std::string&) { return add(v); }
  bool string(std::string& v) { return add(std::move(v)); }
  bool binary(Json::binary_t& v) { return add(std::move(v)); }
  bool start_object(std::size_t) { return open(false); }
  bool start_array(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& key) {
    TG_CHECK(stack_.back().keys.insert(key).second, "safetensors: '{}': invalid header: duplicate key '{}'{}", source_,
             key, stack_.size() == 1 ? " (two tensors with one name)" : "");
    key_ = std::move(key);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    fail("safetensors: '{}': header is not valid JSON: {}", source_, e.what());
  }

 private:
  struct Level {
    Json* value;  // nullptr for the root object, whose members go to items_
    bool is_array;
    std::size_t count;
    std::set<std::string> keys;
  };

  /// Places a new value in the innermost open object or array (under key_), or as the root.
  Json* place(Json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Level& top = stack_.back();
    if (top.is_array) {
      TG_CHECK(++top.count <= 64, "safetensors: '{}': invalid header: a JSON array with more than 64 elements",
               source_);
      top.value->push_back(std::move(value));
      return &top.value->back();
    }
    // A pointer into items_ or a Json stays valid while its value is open: nothing is added to
    // the same container until it closes.
    if (top.value == nullptr) return &items_.emplace_back(std::move(key_), std::move(value)).second;
    return &((*top.value)[key_] = std::move(value));
  }
  bool add(Json value) {
    place(std::move(value));
    return true;
  }
  bool open(bool is_array) {
    const bool root_object = stack_.empty() && !is_array;
    Json* value = place(is_array ? Json::array() : Json::object());
    TG_CHECK(stack_.size() < 3, "safetensors: '{}': invalid header: JSON nested deeper than 3 levels", source_);
    if (root_object) root_is_object_ = true;
    stack_.push_back({root_object ? nullptr : value, is_array, 0, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const std::string& source_;
  std::vector<Level> stack_;
  std::string key_;
  bool root_is_object_ = false;
  Json root_;  // the root when it is not an object (for the message)
  std::vector<std::pair<std::string, Json>> items_;
};

/// A non-negative integer that fits int64, or an error naming the tensor, field and value.
std::int64_t field_integer(const Json& j, const std::string& source, const std::string& name, const char* field) {
  TG_CHECK(j.is_number_integer(), "safetensors: '{}': tensor '{}': '{}' must hold integers, got {} ({})", source, name,
           field, json_type(j), clip(j.dump()));
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    TG_CHECK(v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
             "safetensors: '{}': tensor '{}': '{}' value {} overflows int64", source, name, field, v);
    return static_cast<std::int64_t>(v);
  }
  const auto v = j.get<std::int64_t>();
  TG_CHECK(v >= 0, "safetensors: '{}': tensor '{}': '{}' value {} is negative", source, name, field, v);
  return v;
}

/// One tensor's header entry, checked against itself and the size of the data buffer.
struct Entry {
  std::string name;
  const FileDtype* dtype;
  DimVec shape;
  std::uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const Json& j, std::uint64_t buffer_size, const std::string& source) {
  TG_CHECK(j.is_object(), "safetensors: '{}': tensor '{}' must be a JSON object, got {}", source, name, json_type(j));
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    TG_CHECK(j.contains(field), "safetensors: '{}': tensor '{}' has no '{}' field", source, name, field);
  }
  for (const auto& item : j.items()) {
    TG_CHECK(item.key() == "dtype" || item.key() == "shape" || item.key() == "data_offsets",
             "safetensors: '{}': tensor '{}' has an unexpected field '{}' (expected dtype, shape, data_offsets)",
             source, name, item.key());
  }
  Entry e{name, nullptr, {}, 0, 0};

  const Json& dtype = j["dtype"];
  TG_CHECK(dtype.is_string(), "safetensors: '{}': tensor '{}': 'dtype' must be a string, got {}", source, name,
           json_type(dtype));
  const std::string& dtype_name = dtype.get_ref<const std::string&>();
  for (const FileDtype& d : kFileDtypes) {
    if (d.name == dtype_name) e.dtype = &d;
  }
  TG_CHECK(e.dtype != nullptr, "safetensors: '{}': tensor '{}' has an unknown dtype '{}'", source, name,
           clip(dtype_name));
  TG_CHECK(e.dtype->supported,
           "safetensors: '{}': tensor '{}' has dtype {}, which tapegrad does not read (supported: F32, F64, I64, "
           "BOOL, F16, BF16)",
           source, name, dtype_name);

  const Json& shape = j["shape"];
  TG_CHECK(shape.is_array(), "safetensors: '{}': tensor '{}': 'shape' must be an array, got {}", source, name,
           json_type(shape));
  std::vector<std::int64_t> dims;
  for (const Json& d : shape) dims.push_back(field_integer(d, source, name, "shape"));
  std::int64_t numel = 0;
  const std::string problem = io::shape_problem(dims, &numel);
  TG_CHECK(problem.empty(), "safetensors: '{}': tensor '{}': {}", source, name, problem);
  e.shape = DimVec(dims);

  const Json& offsets = j["data_offsets"];
  TG_CHECK(offsets.is_array() && offsets.size() == 2,
           "safetensors: '{}': tensor '{}': 'data_offsets' must be an array [begin, end], got {}", source, name,
           offsets.is_array() ? fmt::format("{} values", offsets.size()) : json_type(offsets));
  e.begin = static_cast<std::uint64_t>(field_integer(offsets[0], source, name, "data_offsets"));
  e.end = static_cast<std::uint64_t>(field_integer(offsets[1], source, name, "data_offsets"));
  TG_CHECK(e.begin <= e.end, "safetensors: '{}': tensor '{}': data_offsets [{}, {}] end before they begin", source,
           name, e.begin, e.end);
  TG_CHECK(e.end <= buffer_size,
           "safetensors: '{}': tensor '{}': data_offsets [{}, {}] are out of the data buffer ({} bytes; the file is "
           "truncated or the header is wrong)",
           source, name, e.begin, e.end, buffer_size);
  std::uint64_t needed = 0;
  const bool overflow = __builtin_mul_overflow(static_cast<std::uint64_t>(numel), e.dtype->itemsize, &needed);
  TG_CHECK(!overflow && needed == e.end - e.begin,
           "safetensors: '{}': tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", source,
           name, e.shape, dtype_name,
           overflow ? fmt::format("{} x {}", numel, e.dtype->itemsize) : fmt::format("{}", needed), e.begin, e.end,
           e.end - e.begin);
  return e;
}

/// Reads n bytes at offset (counted from the start of the data buffer) into dst: from memory
/// for parse_safetensors, from the file for load_safetensors.
using ReadBytes = std::function<void(void* dst, std::size_t n, std::uint64_t offset)>;

/// One tensor, read straight into its own storage (F16 and BF16 through a small buffer, widened
/// to float32 on the way).
Tensor read_entry(const Entry& e, const ReadBytes& read, const std::string& source) {
  const std::size_t nbytes = e.end - e.begin;
  if (e.dtype->name == "F16" || e.dtype->name == "BF16") {
    Tensor t = empty(e.shape, kFloat32);
    float* out = t.data<float>();
    const bool bf16 = e.dtype->name == "BF16";
    unsigned char chunk[1 << 14];
    for (std::size_t done = 0; done < nbytes;) {
      const std::size_t n = std::min(sizeof chunk, nbytes - done);
      read(chunk, n, e.begin + done);
      for (std::size_t i = 0; i < n / 2; ++i) {
        const auto h = static_cast<std::uint16_t>(chunk[2 * i] | (chunk[2 * i + 1] << 8));
        out[done / 2 + i] = bf16 ? bfloat16_to_float(h) : half_to_float(h);
      }
      done += n;
    }
    return t;
  }
  Tensor t = empty(e.shape, e.dtype->dtype);
  if (nbytes > 0) read(t.data_ptr(), nbytes, e.begin);
  if (e.dtype->dtype == kBool) {
    const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
    const std::size_t bad = io::first_invalid_bool(bytes, nbytes);
    TG_CHECK(bad == nbytes, "safetensors: '{}': tensor '{}' of dtype BOOL holds byte {} at element {} (must be 0 or 1)",
             source, e.name, static_cast<int>(bytes[bad]), bad);
  }
  return t;
}

/// The header length from the file's first 8 bytes, checked against the limit and the file size.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size, const std::string& source) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | first8[i];
  TG_CHECK(n <= kMaxHeaderBytes, "safetensors: '{}': header length {} exceeds the limit of {} bytes (100 MB)", source,
           n, kMaxHeaderBytes);
  TG_CHECK(n <= size - 8, "safetensors: '{}': header length {} exceeds the {} bytes that follow it (truncated file?)",
           source, n, size - 8);
  return n;
}

/// The validated header: metadata, and the entries sorted by offset, tiling the data buffer.
struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
};

Header parse_header(std::string_view json, std::uint64_t buffer_size, const std::string& source) {
  Header header;
  for (auto& [key, value] : HeaderReader(source).read(json)) {
    if (key == kMetadataKey) {
      TG_CHECK(value.is_object(), "safetensors: '{}': '__metadata__' must be an object of strings, got {}", source,
               json_type(value));
      for (const auto& meta : value.items()) {
        TG_CHECK(meta.value().is_string(), "safetensors: '{}': metadata value of '{}' must be a string, got {}", source,
                 meta.key(), json_type(meta.value()));
        header.metadata[meta.key()] = meta.value().get<std::string>();
      }
      continue;
    }
    TG_CHECK(!key.empty(), "safetensors: '{}': a tensor has an empty name", source);
    header.entries.push_back(parse_entry(key, value, buffer_size, source));
  }

  // The byte ranges must tile the buffer exactly: no gap, no overlap, nothing left over. Empty
  // tensors at one offset are ordered by name.
  std::vector<Entry>& entries = header.entries;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end != b.end ? a.end < b.end : a.name < b.name;
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    TG_CHECK(e.begin >= expected, "safetensors: '{}': tensor '{}' at bytes [{}, {}] overlaps tensor '{}' at [{}, {}]",
             source, e.name, e.begin, e.end, previous->name, previous->begin, previous->end);
    TG_CHECK(e.begin == expected,
             "safetensors: '{}': tensor '{}' starts at byte {} but the data before it ends at {} (a gap of {} bytes)",
             source, e.name, e.begin, expected, e.begin - expected);
    expected = e.end;
    previous = &e;
  }
  TG_CHECK(expected == buffer_size,
           "safetensors: '{}': the tensors cover {} bytes but the data buffer has {} ({} bytes not covered by any "
           "tensor)",
           source, expected, buffer_size, buffer_size - expected);
  return header;
}

SafetensorsFile read_tensors(Header&& header, const ReadBytes& read, const std::string& source) {
  SafetensorsFile file;
  file.metadata = std::move(header.metadata);
  file.tensors.reserve(header.entries.size());
  for (const Entry& e : header.entries) file.tensors.emplace_back(e.name, read_entry(e, read, source));
  return file;
}

// ---- writing -----------------------------------------------------------------------------------

/// The header (length prefix included) and the contiguous tensors whose bytes follow it.
struct Serialized {
  std::string header;
  std::vector<Tensor> data;
};

/// A JSON string literal; tg::Error for a string that is not valid UTF-8.
std::string quoted(const std::string& s, const char* op) {
  try {
    return Json(s).dump();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: a tensor name or metadata string is not valid UTF-8 ({})", op, e.what());
  }
}

Serialized serialize(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata, const char* op) {
  // The header is written entry by entry, in the bytes nlohmann's dump() gives for the same
  // object (an ordered_json object looks keys up linearly: 200k tensors took minutes).
  std::string json = "{";
  if (!metadata.empty()) {
    json += fmt::format("\"{}\":{{", kMetadataKey);
    const char* sep = "";
    for (const auto& [key, value] : metadata) {
      json += fmt::format("{}{}:{}", sep, quoted(key, op), quoted(value, op));
      sep = ",";
    }
    json += "}";
  }
  Serialized out;
  std::unordered_set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    TG_CHECK(!name.empty(), "{}: tensor names must not be empty", op);
    TG_CHECK(name != kMetadataKey, "{}: '{}' is reserved for metadata and cannot name a tensor", op, name);
    TG_CHECK(names.insert(name).second, "{}: two tensors are named '{}'", op, name);
    TG_CHECK(tensor.defined(), "{}: tensor '{}' is undefined", op, name);
    Tensor t = tensor.detach().contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * itemsize(t.dtype());
    json += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", json.size() > 1 ? "," : "",
                        quoted(name, op), file_dtype_name(t.dtype()), fmt::join(t.shape().vec(), ","), offset,
                        offset + nbytes);
    offset += nbytes;
    out.data.push_back(std::move(t));
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');  // pad so that the data starts 8-byte aligned
  const std::uint64_t n = json.size();
  out.header.resize(8);
  for (int i = 0; i < 8; ++i) out.header[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.header += json;
  return out;
}

std::size_t nbytes_of(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * itemsize(t.dtype()); }

}  // namespace

Tensor SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  return {};
}

std::string safetensors_bytes(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  Serialized s = serialize(tensors, metadata, "safetensors_bytes");
  std::string bytes = std::move(s.header);
  for (const Tensor& t : s.data) bytes.append(static_cast<const char*>(t.data_ptr()), nbytes_of(t));
  return bytes;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const Serialized s = serialize(tensors, metadata, "save_safetensors");
  AtomicFileWriter out(path);
  out.write(s.header.data(), s.header.size());
  for (const Tensor& t : s.data) out.write(t.data_ptr(), nbytes_of(t));
  out.commit();
}

SafetensorsFile parse_safetensors(const void* data, std::size_t size, const std::string& source) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  TG_CHECK(size >= 8, "safetensors: '{}': file is too short ({} bytes) to hold the 8-byte header length", source, size);
  const std::uint64_t n = header_length(bytes, size, source);
  const std::string_view json(reinterpret_cast<const char*>(bytes + 8), n);
  const unsigned char* buffer = bytes + 8 + n;
  return read_tensors(
      parse_header(json, size - 8 - n, source),
      [&](void* dst, std::size_t count, std::uint64_t offset) { std::memcpy(dst, buffer + offset, count); }, source);
}

SafetensorsFile load_safetensors(const std::string& path) {
  // The header is read and validated first, then each tensor is read with pread into its own
  // storage; a file that changes underneath is an error, never a signal (see InputFile).
  const io::InputFile file(path, "load_safetensors");
  const std::uint64_t size = file.size();
  TG_CHECK(size >= 8, "safetensors: '{}': file is too short ({} bytes) to hold the 8-byte header length", path, size);
  unsigned char first8[8];
  file.read(first8, 8, 0);
  const std::uint64_t n = header_length(first8, size, path);
  std::string json(n, '\0');
  file.read(json.data(), n, 8);
  io::SequentialReader reader(file);
  SafetensorsFile out = read_tensors(
      parse_header(json, size - 8 - n, path),
      [&](void* dst, std::size_t count, std::uint64_t offset) { reader.read(dst, count, 8 + n + offset); }, path);
  file.check_unchanged();
  return out;
}

}  // namespace tg
