// scatter_add with a source of another dtype than self: an error, as in PyTorch 1.13
// ("scatter(): Expected self.dtype to be equal to src.dtype"); before, a float64 source was
// rounded into float32 silently. scatter_add is the library's only scatter-style op (no scatter,
// index_add or index_copy), so this is the whole path.
#include "support/prelude.h"

namespace {

Tensor idx(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return tg::from_vector(v, {n});
}

}  // namespace

TEST_CASE("scatter_add rejects a source whose dtype differs from self's", "[index_dtype][index]") {
  const Tensor self = tg::zeros({3});
  CHECK_THAT(error_of([&] { tg::scatter_add(self, 0, idx({0}), tg::ones({1}, tg::kFloat64)); }),
             Contains("scatter_add: expected src dtype float32 like self, got float64"));
  CHECK_THAT(error_of([&] { tg::scatter_add(tg::zeros({3}, tg::kFloat64), 0, idx({0}), tg::ones({1}, tg::kFloat32)); }),
             Contains("scatter_add: expected src dtype float64 like self, got float32"));
  CHECK_THAT(error_of([&] { tg::scatter_add(tg::zeros({3}, tg::kInt64), 0, idx({0}), tg::ones({1}, tg::kFloat32)); }),
             Contains("scatter_add: expected src dtype int64 like self, got float32"));
  // Not even a float64 value that float32 holds exactly gets through: the dtype decides.
  CHECK_THAT(error_of([&] { tg::scatter_add(self, 0, idx({1}), tg::full({1}, 0.5, tg::kFloat64)); }),
             Contains("got float64"));
}

TEST_CASE("scatter_add of matching dtypes adds at the indices, repeated ones summed", "[index_dtype][index]") {
  const Tensor src = tg::tensor({1.0, 2.0, 3.0}, tg::kFloat64);
  const Tensor out = tg::scatter_add(tg::zeros({3}, tg::kFloat64), 0, idx({0, 2, 0}), src);
  CHECK(out.dtype() == tg::kFloat64);
  CHECK(tg_test::values(out) == std::vector<double>{4, 0, 2});
  const Tensor ints = tg::scatter_add(tg::zeros({2}, tg::kInt64), 0, idx({1, 1}), tg::tensor({5, 6}, tg::kInt64));
  CHECK(ints.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 11});
}
