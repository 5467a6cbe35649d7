// .npy: round trips, byte-for-byte agreement with numpy.save, versions 1.0/2.0/3.0 written by
// numpy (tests/golden_io/make_fixtures.py), and the malformed files each rejected by name.
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

/// A .npy file of the given version with the header dict as given, padded as numpy pads it.
std::string npy_file(const std::string& dict, const std::string& data = "", int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append(64 - (prefix + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

Tensor parse(const std::string& bytes) { return tg::parse_npy(bytes.data(), bytes.size(), "t.npy"); }

std::string float_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

Tensor expected_f4() {  // (arange(12) * 0.5 - 1).reshape(3, 4)
  return (tg::arange(0.0, 12.0) * 0.5 - 1).reshape({3, 4});
}
Tensor expected_f8() { return tg::from_vector(std::vector<double>{1.0 / 3, -2.5, 1e300, -1e-300, 0.0, 7.0}, {2, 3}); }
Tensor expected_i8() {
  return tg::from_vector(std::vector<std::int64_t>{-3, 0, 7, std::int64_t{1} << 40, -(std::int64_t{1} << 62)}, {5});
}
Tensor expected_b1() { return tg::from_vector(std::vector<bool>{true, false, false, true}, {2, 2}); }

}  // namespace

TEST_CASE("npy round trip keeps every dtype bit for bit", "[io][npy]") {
  TempDir dir;
  const std::vector<Tensor> tensors = {
      tg::from_vector(
          std::vector<float>{0.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                             std::numeric_limits<float>::infinity(), std::bit_cast<float>(0x7fc00001u), -1.5f},
          {2, 3}),
      expected_f8(),
      expected_i8(),
      expected_b1(),
      tg::scalar_tensor(-4.5, tg::kFloat64),  // 0-d
      tg::zeros({0, 3}),                      // empty
      tg::zeros({2, 0, 5}, tg::kInt64),
  };
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor " << i);
    const std::string path = (dir / "t.npy").string();
    tg::save_npy(path, tensors[i]);
    CHECK(same_bits(tg::load_npy(path), tensors[i]));
  }
  CHECK(dir.entries() == std::vector<std::string>{"t.npy"});
}

TEST_CASE("npy writes non-contiguous views as their row-major values", "[io][npy]") {
  TempDir dir;
  const Tensor base = tg::arange(0.0, 24.0).reshape({2, 3, 4});
  for (const Tensor& view :
       {base.transpose(0, 2), base.slice(1, 0, 3, 2), base.select(2, 1), tg::scalar_tensor(2.0).expand({3, 2})}) {
    const std::string path = (dir / "v.npy").string();
    tg::save_npy(path, view);
    CHECK(same_bits(tg::load_npy(path), view.contiguous()));
  }
}

TEST_CASE("save_npy writes the bytes numpy.save writes", "[io][npy]") {
  TempDir dir;
  const std::vector<std::pair<std::string, Tensor>> cases = {
      {"f4_v1.npy", expected_f4()},
      {"f8_v1.npy", expected_f8()},
      {"i8_v1.npy", expected_i8()},
      {"b1_v1.npy", expected_b1()},
      {"scalar_f8_v1.npy", tg::scalar_tensor(3.25, tg::kFloat64)},
      {"empty_f4_v1.npy", tg::zeros({0, 3})},
  };
  for (const auto& [name, t] : cases) {
    INFO(name);
    const std::string path = (dir / name).string();
    tg::save_npy(path, t);
    const std::string ours = tg_io_test::read_bytes(path);
    CHECK(ours == tg_io_test::read_bytes(fixture(name)));
    CHECK((ours.find('\n') + 1) % 64 == 0);  // the data starts 64-byte aligned
  }
}

TEST_CASE("npy reads versions 1.0, 2.0 and 3.0 written by numpy", "[io][npy]") {
  CHECK(same_bits(tg::load_npy(fixture("f4_v1.npy").string()), expected_f4()));
  CHECK(same_bits(tg::load_npy(fixture("f8_v1.npy").string()), expected_f8()));
  CHECK(same_bits(tg::load_npy(fixture("f8_v2.npy").string()), expected_f8()));
  CHECK(same_bits(tg::load_npy(fixture("i8_v1.npy").string()), expected_i8()));
  CHECK(same_bits(tg::load_npy(fixture("i8_v3.npy").string()), expected_i8()));
  CHECK(same_bits(tg::load_npy(fixture("b1_v1.npy").string()), expected_b1()));
  const Tensor scalar = tg::load_npy(fixture("scalar_f8_v1.npy").string());
  CHECK(scalar.dim() == 0);
  CHECK(scalar.item<double>() == 3.25);
  const Tensor empty = tg::load_npy(fixture("empty_f4_v1.npy").string());
  CHECK(empty.shape().vec() == std::vector<std::int64_t>{0, 3});
  CHECK(empty.dtype() == tg::kFloat32);
}

TEST_CASE("npy rejects Fortran order, big-endian data and other dtypes by name", "[io][npy]") {
  CHECK_TG_ERROR(tg::load_npy(fixture("fortran_f4.npy").string()),
                 Contains("fortran_f4.npy") && Contains("fortran_order True"));
  CHECK_TG_ERROR(tg::load_npy(fixture("bigendian_f4.npy").string()),
                 Contains("bigendian_f4.npy") && Contains("descr '>f4' is big-endian"));
  CHECK_TG_ERROR(tg::load_npy(fixture("i4.npy").string()), Contains("i4.npy") && Contains("unsupported descr '<i4'"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<U3', 'fortran_order': False, 'shape': (), }", "abc")),
                 Contains("unsupported descr '<U3'"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }", "abcd")),
                 Contains("structured dtypes are not supported"));
}

TEST_CASE("npy accepts the byte-order marks numpy accepts", "[io][npy]") {
  const std::string one = float_bytes({1.5f});
  for (const char* descr : {"<f4", "=f4", "|f4", "f4"}) {
    INFO(descr);
    const Tensor t =
        parse(npy_file(fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (1,), }}", descr), one));
    CHECK(t.to_vector<float>() == std::vector<float>{1.5f});
  }
  for (const char* descr : {"|b1", "<b1", "=b1", ">b1", "b1", "?"}) {
    INFO(descr);
    const Tensor t = parse(npy_file(fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (2,), }}", descr),
                                    std::string("\x01\x00", 2)));
    CHECK(t.to_vector<bool>() == std::vector<bool>{true, false});
  }
  // Double quotes, no trailing comma, other whitespace, keys in any order: all Python literals.
  const Tensor t = parse(npy_file("{\"shape\":(2,1),\"fortran_order\":False,\"descr\":\"<f4\"}", float_bytes({1, 2})));
  CHECK(t.shape().vec() == std::vector<std::int64_t>{2, 1});
  CHECK(
      parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, ), }", float_bytes({1, 2}), 2)).dim() ==
      2);
}

TEST_CASE("npy truncated at any byte is an error, never a crash", "[io][npy]") {
  for (const char* name : {"f4_v1.npy", "f8_v2.npy", "i8_v3.npy", "scalar_f8_v1.npy"}) {
    const std::string bytes = tg_io_test::read_bytes(fixture(name));
    for (std::size_t size = 0; size < bytes.size(); ++size) {
      INFO(name << " cut to " << size << " bytes");
      CHECK_THROWS_AS(tg::parse_npy(bytes.data(), size, "cut"), tg::Error);
    }
  }
  const std::string bytes = tg_io_test::read_bytes(fixture("f4_v1.npy"));  // 128-byte header, 48 bytes of data
  CHECK_TG_ERROR(tg::parse_npy(bytes.data(), 3, "cut"), Contains("'cut'") && Contains("not a .npy file"));
  CHECK_TG_ERROR(tg::parse_npy(bytes.data(), 7, "cut"), Contains("truncated before its version"));
  CHECK_TG_ERROR(tg::parse_npy(bytes.data(), 9, "cut"), Contains("truncated before its header length"));
  CHECK_TG_ERROR(tg::parse_npy(bytes.data(), 100, "cut"), Contains("header length 118 exceeds the 90 bytes"));
  CHECK_TG_ERROR(
      tg::parse_npy(bytes.data(), 128, "cut"),
      Contains("shape [3, 4] of <f4 needs 48 bytes of data but the file has 0") && Contains("truncated data"));
  CHECK_TG_ERROR(tg::parse_npy(bytes.data(), 175, "cut"), Contains("the file has 47"));
  const std::string longer = bytes + "x";
  CHECK_TG_ERROR(parse(longer), Contains("has 49 after the header") && Contains("extra bytes"));
}

TEST_CASE("npy rejects malformed headers with the problem named", "[io][npy]") {
  const auto dict = [](const std::string& shape) {
    return npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", float_bytes({1}));
  };
  CHECK_TG_ERROR(parse("\x93NUMPZ\x01\x00"), Contains("not a .npy file"));
  CHECK_TG_ERROR(parse(std::string("\x93NUMPY\x04\x00\x00\x00", 10)), Contains("unsupported format version 4.0"));
  CHECK_TG_ERROR(parse(std::string("\x93NUMPY\x01\x01\x00\x00", 10)), Contains("version 1.1"));
  CHECK_TG_ERROR(parse(dict("(4294967296, 4294967296)")), Contains("'t.npy'") && Contains("overflow"));
  CHECK_TG_ERROR(parse(dict("(99999999999999999999,)")), Contains("shape extent overflows int64"));
  CHECK_TG_ERROR(parse(dict("(-1,)")), Contains("negative extent -1"));
  CHECK_TG_ERROR(parse(dict("(1)")), Contains("'shape' (1) is not a tuple"));
  CHECK_TG_ERROR(parse(dict("[1]")), Contains("expected a tuple"));
  CHECK_TG_ERROR(parse(dict("(1.0,)")), Contains("expected ',' or ')' in 'shape'"));
  CHECK_TG_ERROR(parse(dict("(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)")), Contains("13 dimensions"));
  CHECK_TG_ERROR(parse(dict("(1,,)")), Contains("expected an integer"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'shape': (1,), }", float_bytes({1}))),
                 Contains("no 'fortran_order'"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", float_bytes({1}))),
                 Contains("unexpected key 'x'"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}")),
                 Contains("key 'descr' appears twice"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}")),
                 Contains("'fortran_order' must be True or False"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)")), Contains("expected ','"));
  CHECK_TG_ERROR(parse(npy_file("['descr', '<f4']")), Contains("must start with '{'"));
  CHECK_TG_ERROR(parse(npy_file("{'descr: '<f4'}")), Contains("malformed header"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", float_bytes({1}))),
                 Contains("unexpected 'x' after the dict"));
  CHECK_TG_ERROR(parse(npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}", "\x07")),
                 Contains("bool data holds byte 7"));
}

TEST_CASE("load_npy names the file it cannot open", "[io][npy]") {
  TempDir dir;
  CHECK_TG_ERROR(tg::load_npy((dir / "absent.npy").string()),
                 Contains("load_npy: cannot open") && Contains("absent.npy") && Contains("No such file"));
  CHECK_TG_ERROR(tg::save_npy((dir / "no/such/dir/x.npy").string(), tg::zeros({1})),
                 Contains("no/such/dir/x.npy") && Contains("No such file"));
  CHECK_TG_ERROR(tg::save_npy((dir / "x.npy").string(), Tensor()), Contains("save_npy") && Contains("undefined"));
}
