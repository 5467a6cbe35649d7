// safetensors: round trips of every dtype, files written by Python's json + numpy
// (tests/golden_io/make_fixtures.py), and every kind of malformed file, each rejected with a
// tg::Error that names the file and the problem.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "golden_io/io_helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_io_test::fixture;
using tg_io_test::same_bits;
using tg_io_test::TempDir;

namespace {

/// A safetensors file from a header exactly as given (no padding) and the data bytes.
std::string st_file(const std::string& header, const std::string& data = "") {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

tg::SafetensorsFile parse(const std::string& bytes) {
  return tg::parse_safetensors(bytes.data(), bytes.size(), "t.st");
}

Tensor floats(std::vector<float> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return tg::from_vector(v, {n});
}

/// Every kind of value a float can hold: zeros, extremes, subnormals, infinities and NaNs.
Tensor special_floats() {
  return floats({0.0f, -0.0f, 1.5f, -3.25f, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                 std::numeric_limits<float>::denorm_min(), -1e-40f, std::numeric_limits<float>::infinity(),
                 -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                 std::bit_cast<float>(0x7f800001u)});
}

}  // namespace

TEST_CASE("safetensors round trip keeps every dtype bit for bit", "[io][safetensors]") {
  TempDir dir;
  const tg::NamedTensors tensors = {
      {"f32", special_floats().reshape({3, 4})},
      {"f64", tg::from_vector(std::vector<double>{1.0 / 3, -0.0, 1e300, -1e-310, std::nan("")}, {5})},
      {"i64", tg::from_vector(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                                        std::numeric_limits<std::int64_t>::max()},
                              {2, 2})},
      {"mask", tg::from_vector(std::vector<bool>{true, false, false, true, true, false}, {2, 1, 3})},
  };
  const std::string path = (dir / "model.safetensors").string();
  tg::save_safetensors(path, tensors);
  const tg::SafetensorsFile file = tg::load_safetensors(path);
  REQUIRE(file.tensors.size() == 4);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(file.tensors[i].first == tensors[i].first);  // data order is the order given
    CHECK(same_bits(file.tensors[i].second, tensors[i].second));
  }
  CHECK(file.metadata.empty());
  CHECK(tg_io_test::read_bytes(path) == tg::safetensors_bytes(tensors));
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});  // no temporary left
}

TEST_CASE("safetensors round trip of 0-d and empty tensors", "[io][safetensors]") {
  const tg::NamedTensors tensors = {{"scalar", tg::scalar_tensor(2.5, tg::kFloat64)},
                                    {"empty", tg::zeros({0, 4})},
                                    {"empty_bool", tg::zeros({3, 0}, tg::kBool)},
                                    {"after", tg::scalar_tensor(7, tg::kInt64)}};
  const std::string bytes = tg::safetensors_bytes(tensors);
  CHECK(bytes.find(R"("empty":{"dtype":"F32","shape":[0,4],"data_offsets":[8,8]})") != std::string::npos);
  CHECK(bytes.find(R"("scalar":{"dtype":"F64","shape":[],"data_offsets":[0,8]})") != std::string::npos);
  const tg::SafetensorsFile file = parse(bytes);
  REQUIRE(file.tensors.size() == 4);
  CHECK(file.find("scalar").dim() == 0);
  CHECK(file.find("scalar").item<double>() == 2.5);
  CHECK(file.find("empty").shape().vec() == std::vector<std::int64_t>{0, 4});
  CHECK(file.find("empty_bool").dtype() == tg::kBool);
  CHECK(file.find("empty_bool").shape().vec() == std::vector<std::int64_t>{3, 0});
  CHECK(file.find("after").item<std::int64_t>() == 7);
  CHECK_FALSE(file.find("absent").defined());
}

TEST_CASE("safetensors writes non-contiguous views as their row-major values", "[io][safetensors]") {
  const Tensor base = tg::arange(0.0, 24.0).reshape({2, 3, 4});
  const tg::NamedTensors tensors = {{"transposed", base.transpose(0, 2)},
                                    {"strided", base.slice(2, 0, 4, 3)},
                                    {"expanded", floats({1, 2, 3}).expand({2, 3})},
                                    {"grad_leaf", tg::ones({2}).requires_grad_()}};
  const tg::SafetensorsFile file = parse(tg::safetensors_bytes(tensors));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(same_bits(file.find(tensors[i].first), tensors[i].second.detach().contiguous()));
    CHECK(file.find(tensors[i].first).is_contiguous());
  }
  CHECK(file.find("expanded").to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK_FALSE(file.find("grad_leaf").requires_grad());
}

TEST_CASE("safetensors metadata round trips and the header is padded to 8 bytes", "[io][safetensors]") {
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"epoch", "12"}, {"note", "caf\xc3\xa9"}};
  const std::string bytes = tg::safetensors_bytes({{"x", floats({1, 2})}}, metadata);
  // The exact layout: length, JSON (metadata first, then tensors in data order), spaces, data.
  const std::string json =
      R"({"__metadata__":{"epoch":"12","format":"pt","note":"café"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  CHECK(bytes.substr(8, padded.size()) == padded);
  CHECK(bytes.size() == 8 + padded.size() + 8);
  CHECK(padded.size() % 8 == 0);
  CHECK(static_cast<unsigned char>(bytes[0]) == padded.size());
  const tg::SafetensorsFile file = parse(bytes);
  CHECK(file.metadata == metadata);
  CHECK(file.find("x").to_vector<float>() == std::vector<float>{1, 2});
  CHECK(tg::safetensors_bytes({}).substr(8) == "{}      ");
}

TEST_CASE("save_safetensors rejects bad names and leaves the old file", "[io][safetensors]") {
  TempDir dir;
  const std::string path = (dir / "m.safetensors").string();
  tg::save_safetensors(path, {{"w", floats({1})}});
  const std::string before = tg_io_test::read_bytes(path);
  const Tensor x = floats({1, 2});
  CHECK_TG_ERROR(tg::save_safetensors(path, {{"a", x}, {"a", x}}), Contains("save_safetensors") && Contains("'a'"));
  CHECK_TG_ERROR(tg::save_safetensors(path, {{"", x}}), Contains("empty"));
  CHECK_TG_ERROR(tg::save_safetensors(path, {{"__metadata__", x}}), Contains("'__metadata__' is reserved"));
  CHECK_TG_ERROR(tg::save_safetensors(path, {{"u", Tensor()}}), Contains("'u' is undefined"));
  CHECK_TG_ERROR(tg::save_safetensors(path, {{"bad\xff", x}}), Contains("UTF-8"));
  CHECK_TG_ERROR(tg::safetensors_bytes({{"a", x}, {"a", x}}), Contains("safetensors_bytes") && Contains("two tensors"));
  CHECK(tg_io_test::read_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"m.safetensors"});
  CHECK_TG_ERROR(tg::save_safetensors((dir / "missing/m.safetensors").string(), {{"w", x}}),
                 Contains("missing/m.safetensors") && Contains("No such file"));
}

TEST_CASE("safetensors reads a file written by Python's json and numpy", "[io][safetensors]") {
  const tg::SafetensorsFile file = tg::load_safetensors(fixture("mixed.safetensors").string());
  std::vector<std::string> names;
  for (const auto& [name, t] : file.tensors) names.push_back(name);
  // In the order of their data, not the header's: ids, weight, empty, mask, bias, scalar.
  CHECK(names == std::vector<std::string>{"ids", "weight", "empty", "mask", "bias", "scalar"});
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "written by make_fixtures.py"}});
  CHECK(file.find("ids").to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{-1, 0, std::int64_t{1} << 40, -(std::int64_t{1} << 62)});
  CHECK(file.find("weight").shape().vec() == std::vector<std::int64_t>{2, 3});
  CHECK(file.find("weight").to_vector<float>() == std::vector<float>{-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f});
  CHECK(file.find("empty").shape().vec() == std::vector<std::int64_t>{0, 4});
  CHECK(file.find("mask").to_vector<bool>() == std::vector<bool>{true, false, false, true});
  CHECK(file.find("bias").to_vector<double>() == std::vector<double>{1.0 / 3, -2.5, 1e300});
  CHECK(file.find("scalar").dim() == 0);
  CHECK(file.find("scalar").item<float>() == 3.5f);
  CHECK(tg::load_safetensors(fixture("no_tensors.safetensors").string()).tensors.empty());
}

TEST_CASE("safetensors F16 and BF16 load as float32 exactly, subnormals, inf and NaN included", "[io][safetensors]") {
  const tg::SafetensorsFile file = tg::load_safetensors(fixture("half.safetensors").string());
  const Tensor f16 = file.find("f16"), bf16 = file.find("bf16");
  CHECK(f16.dtype() == tg::kFloat32);
  CHECK(f16.shape().vec() == std::vector<std::int64_t>{3, 5});
  CHECK(same_bits(f16, file.find("f16_expected")));  // numpy's float16 -> float32, NaN payloads too
  CHECK(same_bits(bf16, file.find("bf16_expected")));
  const std::vector<float> h = f16.to_vector<float>();
  CHECK(h[2] == 1.0f);
  CHECK(h[4] == 65504.0f);
  CHECK(h[5] == std::ldexp(1.0f, -14));         // smallest normal
  CHECK(h[6] == std::ldexp(1.0f, -24));         // smallest subnormal
  CHECK(h[7] == 1023 * std::ldexp(1.0f, -24));  // largest subnormal
  CHECK(h[8] == -50 * std::ldexp(1.0f, -24));
  CHECK(std::isinf(h[9]));
  CHECK(h[10] < 0);
  CHECK(std::isnan(h[11]));
  CHECK(std::signbit(h[1]));
  const std::vector<float> b = bf16.to_vector<float>();
  CHECK(b[2] == 1.0f);
  CHECK(b[3] == -2.5f);
  CHECK(b[6] == std::ldexp(1.0f, -133));  // bfloat16's smallest subnormal
  CHECK(std::isinf(b[9]));
  CHECK(std::isnan(b[11]));
}

TEST_CASE("safetensors rejects a dtype it does not read, naming it and the tensor", "[io][safetensors]") {
  CHECK_TG_ERROR(tg::load_safetensors(fixture("unsupported_i32.safetensors").string()),
                 Contains("unsupported_i32.safetensors") && Contains("'counts'") && Contains("dtype I32"));
  CHECK_TG_ERROR(parse(st_file(R"({"x":{"dtype":"F99","shape":[],"data_offsets":[0,4]}})", "abcd")),
                 Contains("t.st") && Contains("'x'") && Contains("unknown dtype 'F99'"));
  CHECK_TG_ERROR(parse(st_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "a")), Contains("dtype U8"));
}

TEST_CASE("safetensors truncated at any byte is an error, never a crash", "[io][safetensors]") {
  const std::string bytes = tg_io_test::read_bytes(fixture("mixed.safetensors"));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    INFO("size " << size);
    CHECK_THROWS_AS(tg::parse_safetensors(bytes.data(), size, "cut"), tg::Error);
  }
  // At the section boundaries, the message says what is missing.
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), 0, "cut"), Contains("'cut'") && Contains("too short (0 bytes)"));
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), 7, "cut"), Contains("too short (7 bytes)"));
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), 8, "cut"), Contains("exceeds the 0 bytes"));
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), 8 + n - 1, "cut"), Contains("truncated file"));
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), 8 + n, "cut"), Contains("out of the data buffer (0 bytes"));
  CHECK_TG_ERROR(tg::parse_safetensors(bytes.data(), bytes.size() - 1, "cut"), Contains("out of the data buffer"));
  CHECK_NOTHROW(tg::parse_safetensors(bytes.data(), bytes.size(), "whole"));
}

TEST_CASE("safetensors rejects a header that lies about its length", "[io][safetensors]") {
  const std::string json = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string shorter = st_file(json, "abcd");
  shorter[0] = static_cast<char>(json.size() - 1);  // the JSON is cut short
  CHECK_TG_ERROR(parse(shorter), Contains("not valid JSON"));
  std::string longer = st_file(json, "abcd");
  longer[0] = static_cast<char>(json.size() + 2);  // swallows data bytes
  CHECK_TG_ERROR(parse(longer), Contains("not valid JSON"));
  std::string huge = st_file("{}");
  huge[7] = '\x80';  // 2^63 + 2
  CHECK_TG_ERROR(parse(huge), Contains("header length 9223372036854775810") && Contains("100 MB"));
  std::string over_cap = st_file("{}");
  over_cap[0] = 0;
  over_cap[1] = 0;
  over_cap[2] = 0;
  over_cap[3] = 0x10;  // 256 MiB
  CHECK_TG_ERROR(parse(over_cap), Contains("limit of 100000000 bytes"));
}

TEST_CASE("safetensors offsets must tile the data buffer exactly", "[io][safetensors]") {
  const auto two = [](const char* a, const char* b) {
    return fmt::format(
        R"({{"a":{{"dtype":"F32","shape":[1],"data_offsets":{}}},"b":{{"dtype":"F32","shape":[1],"data_offsets":{}}}}})",
        a, b);
  };
  CHECK_NOTHROW(parse(st_file(two("[4,8]", "[0,4]"), "12345678")));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[2,6]"), "123456")),
                 Contains("'b' at bytes [2, 6] overlaps tensor 'a' at [0, 4]"));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[0,4]"), "1234")), Contains("overlaps"));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[6,10]"), "1234567890")),
                 Contains("'b' starts at byte 6 but the data before it ends at 4 (a gap of 2 bytes)"));
  CHECK_TG_ERROR(parse(st_file(two("[4,8]", "[8,12]"), "123456789012")), Contains("'a' starts at byte 4"));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[4,8]"), "1234567890")),
                 Contains("cover 8 bytes but the data buffer has 10") && Contains("2 bytes not covered"));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[4,8]"), "12345")), Contains("'b': data_offsets [4, 8] are out of"));
  CHECK_TG_ERROR(parse(st_file(two("[0,4]", "[8,4]"), "12345678")), Contains("data_offsets [8, 4] end before"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678")),
                 Contains("'a': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F64","shape":[2, 2],"data_offsets":[0,8]}})", "12345678")),
                 Contains("needs 32 bytes"));
}

TEST_CASE("safetensors rejects duplicate names", "[io][safetensors]") {
  const std::string e = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  CHECK_TG_ERROR(parse(st_file("{\"w\":" + e + ",\"w\":" + e + "}", "1234")),
                 Contains("t.st") && Contains("duplicate key 'w'") && Contains("two tensors with one name"));
  CHECK_TG_ERROR(parse(st_file(R"({"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234")),
                 Contains("duplicate key 'dtype'"));
  CHECK_TG_ERROR(parse(st_file(R"({"__metadata__":{"k":"1","k":"2"}})")), Contains("duplicate key 'k'"));
}

TEST_CASE("safetensors rejects bad shapes", "[io][safetensors]") {
  const auto with_shape = [](const std::string& shape) {
    return st_file(R"({"a":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})", "1234");
  };
  CHECK_TG_ERROR(parse(with_shape("[4294967296, 4294967296]")), Contains("'a'") && Contains("overflow"));
  CHECK_TG_ERROR(parse(with_shape("[4294967296, 4294967296, 0]")), Contains("overflow"));
  CHECK_TG_ERROR(parse(with_shape("[9223372036854775808]")), Contains("overflows int64"));
  CHECK_TG_ERROR(parse(with_shape("[-1]")), Contains("'shape' value -1 is negative"));
  CHECK_TG_ERROR(parse(with_shape("[1.0]")), Contains("'shape' must hold integers, got a floating-point number"));
  CHECK_TG_ERROR(parse(with_shape("[\"1\"]")), Contains("must hold integers, got string"));
  CHECK_TG_ERROR(parse(with_shape("[1,1,1,1,1,1,1,1,1,1,1,1,1]")), Contains("13 dimensions"));
  CHECK_TG_ERROR(parse(with_shape("{}")), Contains("'shape' must be an array, got object"));
  CHECK_TG_ERROR(parse(with_shape("[[1]]")), Contains("nested deeper than 3 levels"));
  std::string many = "[1";
  for (int i = 0; i < 100; ++i) many += ",1";
  CHECK_TG_ERROR(parse(with_shape(many + "]")), Contains("more than 64 elements"));
}

TEST_CASE("safetensors rejects malformed headers with the problem named", "[io][safetensors]") {
  CHECK_TG_ERROR(parse(st_file("{\"a\":")), Contains("'t.st'") && Contains("not valid JSON"));
  CHECK_TG_ERROR(parse(st_file("[]")), Contains("header must be a JSON object, got array"));
  CHECK_TG_ERROR(parse(st_file("\"x\"")), Contains("must be a JSON object, got string"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":[1]})")), Contains("tensor 'a' must be a JSON object, got array"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[]}})")), Contains("'a' has no 'data_offsets' field"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}})", "1234")),
                 Contains("'a' has an unexpected field 'x'"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}})", "1234")),
                 Contains("'dtype' must be a string, got an integer"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0]}})", "1234")),
                 Contains("'data_offsets' must be an array [begin, end], got 1 values"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":null}})", "1234")),
                 Contains("got null"));
  CHECK_TG_ERROR(parse(st_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,-4]}})", "1234")),
                 Contains("'data_offsets' value -4 is negative"));
  CHECK_TG_ERROR(parse(st_file(R"({"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})", "1234")),
                 Contains("empty name"));
  CHECK_TG_ERROR(parse(st_file(R"({"__metadata__":{"epoch":3}})")),
                 Contains("metadata value of 'epoch' must be a string, got an integer"));
  CHECK_TG_ERROR(parse(st_file(R"({"__metadata__":"pt"})")), Contains("'__metadata__' must be an object"));
  CHECK_TG_ERROR(parse(st_file("{\"a\xff\":1}")), Contains("not valid JSON"));  // invalid UTF-8
  CHECK_TG_ERROR(
      parse(st_file(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2))),
      Contains("'a' of dtype BOOL holds byte 2 at element 1"));
  CHECK_NOTHROW(parse(st_file("  {}  \n")));  // JSON whitespace around the object is fine
}

TEST_CASE("load_safetensors names the file it cannot open", "[io][safetensors]") {
  TempDir dir;
  CHECK_TG_ERROR(
      tg::load_safetensors((dir / "absent.safetensors").string()),
      Contains("load_safetensors: cannot open") && Contains("absent.safetensors") && Contains("No such file"));
  CHECK_TG_ERROR(tg::load_safetensors(dir.path().string()), Contains("is a directory"));
  tg_io_test::write_bytes(dir / "empty.safetensors", "");
  CHECK_TG_ERROR(tg::load_safetensors((dir / "empty.safetensors").string()),
                 Contains("empty.safetensors") && Contains("too short (0 bytes)"));
}
