// Shape ops (tapegrad/core/ops/shape.h): cat, stack, split, chunk, narrow, flip, repeat,
// flatten; values, gradients and bad inputs.
#include "support/prelude.h"

TEST_CASE("cat joins along dim 0 and along the inner dim", "[model-ops][values][shape]") {
  const Tensor a = tg::tensor({{1, 2}, {3, 4}}), b = tg::tensor({{5}, {6}}), c = tg::tensor({{7, 8}});
  const Tensor inner = tg::cat({a, b}, 1);
  CHECK(shape_of(inner) == Shape{2, 3});
  CHECK(values(inner) == std::vector<double>{1, 2, 5, 3, 4, 6});
  CHECK(values(tg::cat({a, b}, -1)) == values(inner));
  const Tensor outer = tg::cat({a, c, a});
  CHECK(shape_of(outer) == Shape{5, 2});
  CHECK(values(outer) == std::vector<double>{1, 2, 3, 4, 7, 8, 1, 2, 3, 4});
  CHECK(tg::cat({tg::arange(3)}).dtype() == tg::kInt64);
}

TEST_CASE("stack adds a new dim at the front, the middle or the end", "[model-ops][values][shape]") {
  const Tensor a = tg::tensor({1, 2, 3}), b = tg::tensor({4, 5, 6});
  const Tensor s0 = tg::stack({a, b});
  CHECK(shape_of(s0) == Shape{2, 3});
  CHECK(values(s0) == std::vector<double>{1, 2, 3, 4, 5, 6});
  const Tensor s1 = tg::stack({a, b}, 1);
  CHECK(shape_of(s1) == Shape{3, 2});
  CHECK(values(s1) == std::vector<double>{1, 4, 2, 5, 3, 6});
  const Tensor m = tg::stack({tg::ones({2, 3}), tg::zeros({2, 3}), tg::ones({2, 3})}, -2);
  CHECK(shape_of(m) == Shape{2, 3, 3});
  CHECK(values(m.select(0, 0).select(1, 0)) == std::vector<double>{1, 0, 1});
}

TEST_CASE("chunk of 5 into 3 gives sizes 2, 2, 1, of 2 into 3 gives 2 chunks, of 6 into 4 gives 3 chunks",
          "[model-ops][values][shape]") {
  const auto five = tg::chunk(tg::arange(5), 3);
  REQUIRE(five.size() == 3);
  CHECK(ints(five[0]) == std::vector<std::int64_t>{0, 1});
  CHECK(ints(five[1]) == std::vector<std::int64_t>{2, 3});
  CHECK(ints(five[2]) == std::vector<std::int64_t>{4});
  const auto two = tg::chunk(tg::arange(2), 3);
  REQUIRE(two.size() == 2);
  CHECK(ints(two[0]) == std::vector<std::int64_t>{0});
  CHECK(ints(two[1]) == std::vector<std::int64_t>{1});
  const auto six = tg::chunk(tg::arange(6), 4);  // ceil(6 / 4) = 2 per chunk: torch gives 3 chunks
  REQUIRE(six.size() == 3);
  CHECK(ints(six[2]) == std::vector<std::int64_t>{4, 5});
  const auto cols = tg::chunk(tg::arange(10).reshape({2, 5}), 2, 1);
  REQUIRE(cols.size() == 2);
  CHECK(shape_of(cols[0]) == Shape{2, 3});
  CHECK(ints(cols[1]) == std::vector<std::int64_t>{3, 4, 8, 9});
}

TEST_CASE("split by a size (last piece smaller) and by a list of sizes", "[model-ops][values][shape]") {
  const auto by_two = tg::split(tg::arange(5), 2);
  REQUIRE(by_two.size() == 3);
  CHECK(ints(by_two[2]) == std::vector<std::int64_t>{4});
  const auto sized = tg::split(tg::arange(12).reshape({2, 6}), {1, 3, 2}, 1);
  REQUIRE(sized.size() == 3);
  CHECK(shape_of(sized[0]) == Shape{2, 1});
  CHECK(ints(sized[1]) == std::vector<std::int64_t>{1, 2, 3, 7, 8, 9});
  CHECK(ints(sized[2]) == std::vector<std::int64_t>{4, 5, 10, 11});
  const auto with_empty = tg::split(tg::arange(3), {0, 3});
  CHECK(shape_of(with_empty[0]) == Shape{0});
}

TEST_CASE("chunk, split and narrow return views that share the input's storage", "[model-ops][values][shape]") {
  const Tensor t = tg::arange(0.0, 6.0).reshape({2, 3});
  const auto chunks = tg::chunk(t, 3, 1);
  const auto pieces = tg::split(t, {2, 1}, 1);
  const Tensor n = tg::narrow(t, 0, 1, 1);
  for (const Tensor& v : chunks) CHECK(v.shares_storage_with(t));
  for (const Tensor& v : pieces) CHECK(v.shares_storage_with(t));
  CHECK(n.shares_storage_with(t));
  CHECK(values(n) == std::vector<double>{3, 4, 5});
  chunks[1].fill_(-1.0);  // column 1
  n.fill_(9.0);           // row 1
  CHECK(values(t) == std::vector<double>{0, -1, 2, 9, 9, 9});
  CHECK(values(tg::narrow(t, 1, -2, 2)) == std::vector<double>{-1, 2, 9, 9});
}

TEST_CASE("flip reverses one or several dims", "[model-ops][values][shape]") {
  const Tensor x = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::flip(x, {1})) == std::vector<double>{3, 2, 1, 6, 5, 4});
  CHECK(values(tg::flip(x, {0})) == std::vector<double>{4, 5, 6, 1, 2, 3});
  CHECK(values(tg::flip(x, {0, -1})) == std::vector<double>{6, 5, 4, 3, 2, 1});
  CHECK(values(tg::flip(x.t(), {0})) == std::vector<double>{3, 6, 2, 5, 1, 4});
  CHECK_FALSE(tg::flip(x, {1}).shares_storage_with(x));
}

TEST_CASE("repeat tiles along each dim, extra repeats adding leading dims", "[model-ops][values][shape]") {
  const Tensor x = tg::tensor({1, 2});
  const Tensor r = tg::repeat(x, {2, 3});
  CHECK(shape_of(r) == Shape{2, 6});
  CHECK(values(r) == std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2});
  const Tensor m = tg::repeat(tg::tensor({{1, 2}, {3, 4}}), {2, 1, 2});
  CHECK(shape_of(m) == Shape{2, 2, 4});
  CHECK(values(m.select(0, 1)) == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(shape_of(tg::repeat(x, {0})) == Shape{0});
}

TEST_CASE("expand_as, flatten and unflatten give the expected shapes and row-major values",
          "[model-ops][values][shape]") {
  const Tensor col = tg::tensor({{1}, {2}});
  const Tensor e = tg::expand_as(col, tg::zeros({3, 2, 4}));
  CHECK(shape_of(e) == Shape{3, 2, 4});
  CHECK(values(e.select(0, 2).select(0, 1)) == std::vector<double>{2, 2, 2, 2});
  const Tensor x = tg::arange(24).reshape({2, 3, 4});
  CHECK(shape_of(tg::flatten(x)) == Shape{24});
  CHECK(shape_of(tg::flatten(x, 1)) == Shape{2, 12});
  CHECK(shape_of(tg::flatten(x, 0, 1)) == Shape{6, 4});
  CHECK(shape_of(tg::flatten(tg::scalar_tensor(3.0))) == Shape{1});
  CHECK(shape_of(tg::unflatten(tg::flatten(x, 1), 1, {3, -1})) == Shape{2, 3, 4});
  CHECK(ints(tg::flatten(x.transpose(0, 2), 1)).front() == 0);
  CHECK(ints(tg::flatten(x.transpose(0, 2), 1))[1] == 12);
}

TEST_CASE("cat of three tensors along the inner dim: gradients go only to the inputs that require grad",
          "[model-ops][grad][shape]") {
  const Tensor a = any64({2, 3}, 1), c = any64({2, 2}, 3);
  const Tensor b = constant64({{10}, {20}});  // does not require grad
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::cat({in[0], in[1], in[2]}, 1) * tg::cat({in[0], in[1], in[2]}, -1);
      },
      {a, b, c}));
  const Tensor w = constant64({{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}});
  (tg::cat({a, b, c}, 1) * w).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{1, 2, 3, 7, 8, 9});
  CHECK(values(c.grad()) == std::vector<double>{5, 6, 11, 12});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("stack along a new middle dim: gradients", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::stack({in[0], in[1], in[0] * in[2]}, 1);
      },
      {any64({2, 3}, 10), any64({2, 3}, 11), any64({2, 3}, 12)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::stack({in[0], in[1]}, -1);
      },
      {any64({2, 3}, 13), any64({2, 3}, 14)}));
}

TEST_CASE("chunk of 5 into 3 and split into sizes {1, 3, 1}: weighted pieces give each piece its weight",
          "[model-ops][grad][shape]") {
  // sum_i (i + 1) * sum(p_i^2): the gradient is 2 (i + 1) x on piece i.
  auto weighted = [](const std::vector<Tensor>& pieces) {
    Tensor total = (pieces[0] * pieces[0]).sum();
    for (std::size_t i = 1; i < pieces.size(); ++i)
      total = total + (pieces[i] * pieces[i]).sum() * static_cast<double>(i + 1);
    return total;
  };
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::chunk(in[0], 3, 1)); }, {any64({2, 5}, 20)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::split(in[0], {1, 3, 1}, 0)); }, {any64({5, 2}, 21)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::split(in[0], 2, -1)); }, {any64({2, 5}, 22)}));

  const Tensor x = leaf64({1, 1, 1, 1, 1});
  const auto pieces = tg::split(x, {1, 3, 1});
  (pieces[0].sum() * 1.0 + pieces[1].sum() * 2.0 + pieces[2].sum() * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 2, 2, 2, 3});
  x.zero_grad(true);
  const auto chunks = tg::chunk(x, 3);  // sizes 2, 2, 1
  (chunks[0].sum() * 1.0 + chunks[1].sum() * 2.0 + chunks[2].sum() * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1, 2, 2, 3});
}

TEST_CASE("narrow and slice with a step: gradients, zero outside the selected elements", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::narrow(in[0], 1, 1, 3) * 2.0; }, {any64({3, 5}, 30)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::narrow(in[0], 0, -2, 2); }, {any64({3, 5}, 31)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(1, 1, 6, 2) * in[0].slice(1, 0, 7, 3); },
                      {any64({3, 7}, 32)}));
  const Tensor x = leaf64({0, 0, 0, 0, 0, 0, 0});
  x.slice(0, 1, 6, 2).sum().backward();  // elements 1, 3, 5
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 1, 0, 1, 0});
}

TEST_CASE("flip over two dims, repeat with a new leading dim, expand_as: gradients", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flip(in[0], {0, 2}) * in[0]; }, {any64({2, 3, 4}, 40)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flip(in[0], {-1, 1}); }, {any64({2, 3, 4}, 41)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::repeat(in[0], {2, 1, 3}); }, {any64({2, 3}, 42)}));
  const Tensor other = tg::zeros({2, 3, 4}, tg::kFloat64);
  const Tensor w = tg::arange(0.0, 24.0, 1.0, tg::kFloat64).reshape({2, 3, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::expand_as(in[0], other) * w; }, {any64({3, 1}, 43)}));
  // repeat copies: every copy of an element sends its gradient back to it.
  const Tensor x = leaf64({1, 2});
  tg::repeat(x, {3, 2}).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("flatten and unflatten: gradients, also through a non-contiguous input", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flatten(in[0], 1, 2) * 3.0; }, {any64({2, 3, 4}, 50)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flatten(in[0].transpose(0, 2)) * in[0].reshape({-1}); },
                      {any64({2, 3, 4}, 51)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::unflatten(in[0], 1, {-1, 2}).transpose(1, 2);
      },
      {any64({2, 6}, 52)}));
}

TEST_CASE("cat of mismatched shapes names the dim, the tensor and both shapes", "[model-ops][bad_input][shape]") {
  const Tensor a = tg::ones({2, 3}), b = tg::ones({2, 4}), c = tg::ones({3, 3});
  CHECK_TG_ERROR(tg::cat({a, b}, 0), Contains("cat") && Contains("except in dim 0") && Contains("tensor 1") &&
                                         Contains("[2, 4]") && Contains("[2, 3]") && Contains("4 != 3"));
  CHECK_TG_ERROR(tg::cat({a, a, c}, 1), Contains("cat") && Contains("except in dim 1") && Contains("tensor 2") &&
                                            Contains("[3, 3]") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::cat({a, tg::ones({6})}), Contains("cat") && Contains("tensor 1") && Contains("1 dims") &&
                                                  Contains("[6]") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::cat({a, a}, 2), Contains("cat") && Contains("dim 2") && Contains("out of range"));
  CHECK_TG_ERROR(tg::cat({tg::scalar_tensor(1.0), tg::scalar_tensor(2.0)}),
                 Contains("cat") && Contains("zero-dimensional"));
}

TEST_CASE("cat of different dtypes names both, cat of an empty list says so", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::cat({tg::ones({2}), tg::ones({2}, tg::kFloat64)}),
                 Contains("cat") && Contains("tensor 1") && Contains("float64") && Contains("float32"));
  CHECK_TG_ERROR(tg::cat({}), Contains("cat") && Contains("non-empty"));
  CHECK_TG_ERROR(tg::stack({}), Contains("stack") && Contains("non-empty"));
}

TEST_CASE("stack of different shapes names the tensor and both shapes", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::stack({tg::ones({2}), tg::ones({2}), tg::ones({3})}),
                 Contains("stack") && Contains("tensor 2") && Contains("[3]") && Contains("[2]"));
  CHECK_TG_ERROR(tg::stack({tg::ones({2, 3}), tg::ones({3, 2})}, 1), Contains("stack") && Contains("[3, 2]"));
}

TEST_CASE("stack of different dtypes names stack, not the cat it is built on", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::stack({tg::ones({2}), tg::ones({2}, tg::kFloat64)}),
                 Contains("stack") && Contains("float64") && Contains("float32"));
}

TEST_CASE("split, chunk, narrow: sizes that do not fit name the sizes and the dim", "[model-ops][bad_input][shape]") {
  const Tensor x = tg::ones({5, 4});
  CHECK_TG_ERROR(tg::split(x, {1, 2}), Contains("split") && Contains("[1, 2]") && Contains("add up to 3") &&
                                           Contains("dim 0") && Contains("size 5"));
  CHECK_TG_ERROR(tg::split(x, {2, 3}, 1), Contains("split") && Contains("5") && Contains("size 4"));
  CHECK_TG_ERROR(tg::split(x, {6, -1}), Contains("split") && Contains("non-negative"));
  CHECK_TG_ERROR(tg::split(x, 0), Contains("split") && Contains("positive") && Contains("got 0"));
  CHECK_TG_ERROR(tg::chunk(x, 0), Contains("chunk") && Contains("positive") && Contains("got 0"));
  CHECK_TG_ERROR(tg::narrow(x, 1, 2, 3), Contains("narrow") && Contains("start 2") && Contains("length 3") &&
                                             Contains("dim 1") && Contains("size 4"));
  CHECK_TG_ERROR(tg::narrow(x, 0, 6, 0), Contains("narrow") && Contains("start 6"));
  CHECK_TG_ERROR(tg::narrow(x, 0, 0, -1), Contains("narrow") && Contains("length -1"));
}

TEST_CASE("split, chunk, narrow and unflatten of a 0-d tensor are errors naming the op, as in PyTorch",
          "[model-ops][bad_input][shape][!mayfail]") {
  // torch 1.13: "split expects at least a 1-dimensional tensor", "chunk expects at least a
  // 1-dimensional tensor", "narrow() cannot be applied to a 0-dim tensor.", unflatten: "Dimension
  // specified as 0 but tensor has no dimensions".
  const Tensor s = tg::scalar_tensor(1.0);
  CHECK_TG_ERROR(tg::split(s, 1), Contains("split") && Contains("0-d"));
  CHECK_TG_ERROR(tg::split(s, {1}), Contains("split") && Contains("0-d"));
  CHECK_TG_ERROR(tg::chunk(s, 2), Contains("chunk") && Contains("0-d"));
  CHECK_TG_ERROR(tg::narrow(s, 0, 0, 1), Contains("narrow") && Contains("0-d"));
  CHECK_TG_ERROR(tg::unflatten(s, 0, {1}), Contains("unflatten") && Contains("0-d"));
}

TEST_CASE("flip of a repeated dim, repeat with too few repeats, unflatten with wrong sizes",
          "[model-ops][bad_input][shape]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::flip(x, {1, -1}), Contains("flip") && Contains("dim 1") && Contains("more than once"));
  CHECK_TG_ERROR(tg::flip(x, {2}), Contains("flip") && Contains("dim 2"));
  CHECK_TG_ERROR(tg::repeat(x, {2}),
                 Contains("repeat") && Contains("1 repeats") && Contains("2 dims") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::repeat(x, {2, -1}), Contains("repeat") && Contains("non-negative"));
  CHECK_TG_ERROR(tg::unflatten(x, 1, {2, 2}), Contains("unflatten") && Contains("[2, 2]") && Contains("3"));
  CHECK_TG_ERROR(tg::flatten(tg::ones({2, 3, 4}), 2, 1),
                 Contains("flatten") && Contains("start_dim 2") && Contains("end_dim 1"));
}
