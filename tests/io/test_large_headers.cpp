// Files with very many tensors: the header parser, the writer and StateDict must stay near linear
// in the number of entries (a quadratic one took 41 s for 32k tensors, so a 2 MB file was a
// denial of service). Nothing here is timed: at 200,000 entries a quadratic step takes minutes
// and trips the test's timeout, where n log n takes well under a second.
#include <catch2/catch.hpp>
#include <iterator>
#include <string>

#include "golden_io/io_helpers.h"
#include "tapegrad/core.h"
#include "tapegrad/nn/serialize.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_io_test::TempDir;

namespace {

constexpr int kEntries = 200'000;

/// kEntries named one-element tensors, the i-th holding i.
tg::NamedTensors many_tensors() {
  const Tensor values = tg::arange(kEntries, tg::kFloat32);
  tg::NamedTensors tensors;
  tensors.reserve(kEntries);
  for (int i = 0; i < kEntries; ++i)
    tensors.emplace_back("layer." + std::to_string(i) + ".w", values.slice(0, i, i + 1));
  return tensors;
}

float value_of(const Tensor& t) { return t.contiguous().data<float>()[0]; }

}  // namespace

TEST_CASE("a safetensors header of 200,000 tensors is written, parsed and loaded in near-linear time",
          "[io][safetensors]") {
  const std::string bytes = tg::safetensors_bytes(many_tensors());
  const tg::SafetensorsFile parsed = tg::parse_safetensors(bytes.data(), bytes.size(), "many");
  REQUIRE(parsed.tensors.size() == static_cast<std::size_t>(kEntries));
  // In the order of the data offsets, which is the order written.
  CHECK(parsed.tensors[0].first == "layer.0.w");
  CHECK(parsed.tensors[kEntries - 1].first == "layer.199999.w");
  CHECK(value_of(parsed.tensors[123'456].second) == 123'456.0f);

  TempDir dir;
  const std::string path = (dir / "many.safetensors").string();
  tg_io_test::write_bytes(path, bytes);
  const tg::SafetensorsFile loaded = tg::load_safetensors(path);
  REQUIRE(loaded.tensors.size() == static_cast<std::size_t>(kEntries));
  for (int i : {0, 1, 4095, 65'536, 199'999}) {
    CHECK(loaded.tensors[static_cast<std::size_t>(i)].first == "layer." + std::to_string(i) + ".w");
    CHECK(value_of(loaded.tensors[static_cast<std::size_t>(i)].second) == static_cast<float>(i));
  }

  // tg::load_state_dict builds a StateDict of all of them (one insert each).
  const tg::nn::StateDict state = tg::load_state_dict(path);
  CHECK(state.size() == static_cast<std::size_t>(kEntries));
  CHECK(value_of(state.find("layer.77777.w")) == 77'777.0f);
}

TEST_CASE("a duplicate name among 200,000 header entries is found", "[io][safetensors]") {
  std::string bytes = tg::safetensors_bytes(many_tensors());
  // Rename the last tensor to the name of the first: same length, so the header stays valid.
  const std::string last = "\"layer.199999.w\"", first = "\"layer.0.w\"";
  const std::size_t at = bytes.find(last);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, last.size(), std::string(last.size() - first.size(), ' ') + first);
  CHECK_THROWS_WITH(tg::parse_safetensors(bytes.data(), bytes.size(), "dup"),
                    Contains("duplicate key 'layer.0.w'") && Contains("two tensors with one name"));
}

TEST_CASE("200,000 StateDict inserts keep their order, and a repeated name replaces in place", "[nn][io]") {
  const Tensor one = tg::ones({1});
  tg::nn::StateDict state;
  for (int i = 0; i < kEntries; ++i) state.insert("block." + std::to_string(i) + ".weight", tg::full({1}, i));
  REQUIRE(state.size() == static_cast<std::size_t>(kEntries));
  CHECK(state.contains("block.199999.weight"));
  CHECK_FALSE(state.contains("block.200000.weight"));
  CHECK(value_of(state.find("block.54321.weight")) == 54'321.0f);

  state.insert("block.7.weight", one);  // replaced where it was, not appended
  CHECK(state.size() == static_cast<std::size_t>(kEntries));
  auto it = state.begin();
  std::advance(it, 7);
  CHECK(it->first == "block.7.weight");
  CHECK(value_of(it->second) == 1.0f);
  CHECK(state.keys().back() == "block.199999.weight");
}
