// Element and byte counts past int64 (issue 11, item 1): every place that makes a shape
// (factories, expand, view/reshape, broadcasting, repeat, matmul, linear, cat/stack, unflatten,
// conv/pool/upsample, index ops) refuses a shape whose element count does not fit in int64, or
// whose bytes do not fit in PTRDIFF_MAX, with a tg::Error naming the op and the shape.
//
// These tests never allocate anything large: every huge tensor here is an expanded view of one
// element (no memory), and every shape that is refused is refused before any allocation. They
// compute no overflowing product themselves, so they run clean under ASan and UBSan.
#include <optional>

#include "support/prelude.h"

namespace {

constexpr std::int64_t k2p20 = std::int64_t{1} << 20;
constexpr std::int64_t k2p30 = std::int64_t{1} << 30;
constexpr std::int64_t k2p31 = std::int64_t{1} << 31;
constexpr std::int64_t k2p32 = std::int64_t{1} << 32;
constexpr std::int64_t k2p40 = std::int64_t{1} << 40;
constexpr std::int64_t k2p61 = std::int64_t{1} << 61;
constexpr std::int64_t k2p62 = std::int64_t{1} << 62;
constexpr std::int64_t kMax = INT64_MAX;

/// One float32 element seen as `shape` (strides 0): any size, no memory.
Tensor huge_view(tg::IntArrayRef shape) {
  std::vector<std::int64_t> ones_shape(shape.size(), 1);
  return tg::ones(ones_shape).expand(shape);
}

}  // namespace

TEST_CASE("factories refuse shapes with more than 2^63-1 elements, naming the op and the shape", "[overflow]") {
  // The first case: 2^80 elements wrapped to numel 0.
  CHECK_THAT(error_of([] {
               tg::zeros({k2p40, k2p40});
             }),
             Equals("zeros: shape [1099511627776, 1099511627776] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([] {
               tg::empty({k2p40, k2p40});
             }),
             Equals("empty: shape [1099511627776, 1099511627776] has more "
                    "than 2^63-1 elements"));
  CHECK_THAT(error_of([] {
               tg::full({k2p32, k2p32}, 2.0);
             }),
             Contains("full: shape [4294967296, 4294967296] has more"));
  CHECK_THAT(error_of([] {
               tg::rand({k2p32, k2p31, 2});
             }),
             Contains("rand: shape [4294967296, 2147483648, 2] has more"));
  CHECK_THAT(error_of([] { tg::randn({3, k2p62}); }), Contains("randn: shape [3, 4611686018427387904] has more"));
  CHECK_THAT(error_of([] {
               tg::randint(0, 5, {kMax, 2});
             }),
             Contains("randint: shape [9223372036854775807, 2] has more"));
  CHECK_THAT(error_of([] { tg::eye(k2p32); }), Equals("eye: shape [4294967296, 4294967296] has more than 2^63-1 "
                                                      "elements"));
  // from_vector compared the wrapped count (0) with an empty vector and accepted the shape.
  CHECK_THAT(error_of([] {
               tg::from_vector(std::vector<float>{}, {k2p32, k2p32});
             }),
             Equals("from_vector: shape [4294967296, 4294967296] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([] {
               tg::from_vector(std::vector<bool>{}, {k2p32, k2p32});
             }),
             Contains("from_vector: shape [4294967296, 4294967296] has more"));
}

TEST_CASE("factories refuse shapes whose bytes exceed 2^63-1, and negative sizes", "[overflow]") {
  // The second case: 2^62 float32 elements are 2^64 bytes (it gave garbage, not 1).
  CHECK_THAT(error_of([] { tg::ones({k2p62}); }),
             Equals("ones: shape [4611686018427387904] of float32 needs more than 2^63-1 bytes "
                    "(4611686018427387904 elements of 4 bytes each)"));
  CHECK_THAT(error_of([] {
               tg::zeros({k2p61, 2}, tg::kInt64);
             }),
             Contains("zeros: shape [2305843009213693952, 2] of int64 needs more than 2^63-1 bytes"));
  CHECK_THAT(error_of([] { tg::zeros({2, -1}); }), Equals("zeros: negative dimension -1 in shape [2, -1]"));
  CHECK_THAT(error_of([] { tg::ones({-3}); }), Equals("ones: negative dimension -3 in shape [-3]"));
  // A zero size makes the count 0, but the other sizes must still multiply within int64 (the
  // contiguous strides are those products).
  CHECK_THAT(error_of([] {
               tg::zeros({0, k2p40, k2p40});
             }),
             Equals("zeros: shape [0, 1099511627776, 1099511627776] is too large: the product of its nonzero sizes "
                    "is more than 2^63-1"));
  const Tensor empty = tg::zeros({0, k2p62});
  CHECK(empty.numel() == 0);
  CHECK(empty.stride(0) == k2p62);
}

TEST_CASE("the checked counts themselves: numel_within_int64, checked_numel, checked_nbytes", "[overflow]") {
  std::int64_t n = -1;
  CHECK(tg::numel_within_int64({3, k2p61}, &n));
  CHECK(n == 3 * k2p61);
  CHECK(tg::numel_within_int64({kMax}, &n));
  CHECK(n == kMax);
  CHECK(tg::numel_within_int64({}, &n));
  CHECK(n == 1);
  CHECK(tg::numel_within_int64({3, 0, k2p61}, &n));
  CHECK(n == 0);
  CHECK_FALSE(tg::numel_within_int64({4, k2p61}, &n));     // exactly 2^63
  CHECK_FALSE(tg::numel_within_int64({5, 0, k2p62}, &n));  // the nonzero sizes multiply past 2^63-1
  CHECK_FALSE(tg::numel_within_int64({k2p32, k2p32}, &n));
  CHECK_FALSE(tg::numel_within_int64({2, -1}, &n));
  CHECK(tg::checked_nbytes({k2p61 - 1, 4}, tg::kBool, "t") == static_cast<std::size_t>((k2p61 - 1) * 4));
  CHECK_THAT(error_of([] { tg::checked_nbytes({k2p61}, tg::kFloat32, "myop"); }),
             Equals("myop: shape [2305843009213693952] of float32 needs more than 2^63-1 bytes "
                    "(2305843009213693952 elements of 4 bytes each)"));
  CHECK_THAT(error_of([] { tg::checked_add(kMax, 1, "myop", "the total"); }),
             Equals("myop: the total overflows int64 (9223372036854775807 + 1)"));
  CHECK_THAT(error_of([] { tg::checked_mul(k2p32, -k2p32, "myop", "the area"); }),
             Equals("myop: the area overflows int64 (4294967296 * -4294967296)"));
  CHECK(tg::checked_mul(-k2p31, k2p32, "myop", "x") == INT64_MIN);  // -2^63 fits
}

TEST_CASE("broadcasting two expanded tensors past 2^63-1 elements is an error, not a tiny tensor", "[overflow]") {
  // The third case: a [2^32, 2^32] product got 0 bytes, and fill_ through a view of it
  // wrote out of bounds (SIGSEGV).
  const Tensor col = tg::ones({1, 1}).expand({k2p32, 1});
  const Tensor row = tg::ones({1, 1}).expand({1, k2p32});
  CHECK_THAT(error_of([&] { (void)(col * row); }),
             Equals("mul: shape [4294967296, 4294967296] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] { (void)(col + row); }), Contains("add: shape [4294967296, 4294967296] has more"));
  CHECK_THAT(error_of([&] { (void)col.eq(row); }), Contains("eq: shape [4294967296, 4294967296] has more"));
  CHECK_THAT(error_of([&] { tg::maximum(col, row); }), Contains("maximum: shape [4294967296, 4294967296] has more"));
  CHECK_THAT(error_of([&] {
               tg::where(tg::ones({1, 1}, tg::kBool), col, row);
             }),
             Contains("where: shape [4294967296, 4294967296] has more"));
  // Within int64 elements but past the byte limit: [2^31, 2^31] float32 is 2^64 bytes.
  const Tensor col31 = tg::ones({1, 1}).expand({k2p31, 1}), row31 = tg::ones({1, 1}).expand({1, k2p31});
  CHECK_THAT(error_of([&] { (void)(col31 * row31); }),
             Equals("mul: shape [2147483648, 2147483648] of float32 needs more than 2^63-1 bytes "
                    "(4611686018427387904 elements of 4 bytes each)"));
  CHECK_THAT(error_of([] {
               tg::broadcast_shapes({k2p40, 1}, {1, k2p40}, "myop");
             }),
             Equals("myop: shape [1099511627776, 1099511627776] has more than 2^63-1 elements"));
}

TEST_CASE("expand refuses negative sizes and counts past int64, -1 keeps a size", "[overflow]") {
  CHECK_THAT(error_of([] {
               tg::ones({1, 3}).expand({-5, 3});
             }),
             Equals("expand: invalid size -5 for dim 0 in [-5, 3] (only -1, which keeps the size, may be negative)"));
  CHECK_THAT(error_of([] {
               tg::ones({3}).expand({-2, 3});
             }),
             Equals("expand: size -2 is not allowed for the new leading dim 0 of [-2, 3]"));
  CHECK_THAT(error_of([] {
               huge_view({k2p40, 1, 1}).expand({k2p40, k2p40, 1});
             }),
             Equals("expand: shape [1099511627776, 1099511627776, 1] has more than 2^63-1 elements"));
  const Tensor kept = tg::ones({2, 1}).expand({-1, 4});
  CHECK(tg_test::shape_of(kept) == std::vector<std::int64_t>{2, 4});
  // Up to 2^63-1 elements a view is fine: it takes no memory.
  const Tensor big = tg::ones({1}).expand({kMax});
  CHECK(big.numel() == kMax);
  CHECK(big.stride(0) == 0);
  CHECK(big.select(0, kMax - 1).item() == 1.0);
}

TEST_CASE("view and reshape refuse sizes that multiply past int64", "[overflow]") {
  // The product of [2^40, 2^40, 0] wrapped to 0 and matched an empty input.
  CHECK_THAT(error_of([] {
               tg::zeros({0}).view({k2p40, k2p40, 0});
             }),
             Equals("view: shape [1099511627776, 1099511627776, 0] is invalid for input of size 0 (its sizes multiply "
                    "past 2^63-1)"));
  CHECK_THAT(error_of([] {
               tg::ones({4}).reshape({-1, k2p62, 4});
             }),
             Contains("reshape: shape [-1, 4611686018427387904, 4] is invalid for input of size 4 (its sizes "
                      "multiply past 2^63-1)"));
  // A big view of a view stays within int64 and keeps working.
  const Tensor v = huge_view({k2p31, 4}).view({k2p31, 2, 2});
  CHECK(v.numel() == k2p31 * 4);
}

TEST_CASE("repeat refuses a result past int64 (it gave numel -12)", "[overflow]") {
  const Tensor t = tg::ones({2, 3});
  CHECK_THAT(error_of([&] {
               tg::repeat(t, {kMax / 2, 2});
             }),
             Equals("repeat: shape [9223372036854775806, 6] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] {
               tg::repeat(t, {kMax, 1});
             }),
             Equals("repeat: repeats [9223372036854775807, 1] of shape [2, 3] make dim 0 larger than 2^63-1 "
                    "(9223372036854775807 * 2)"));
  CHECK(tg_test::shape_of(tg::repeat(t, {2, 2})) == std::vector<std::int64_t>{4, 6});
}

TEST_CASE("matmul and linear refuse output shapes past int64", "[overflow]") {
  const Tensor col = huge_view({k2p32, 1}), row = huge_view({1, k2p32});
  CHECK_THAT(error_of([&] { tg::matmul(col, row); }),
             Equals("matmul: shape [4294967296, 4294967296] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] {
               tg::matmul(huge_view({k2p40, 1, 1, 1}), huge_view({1, k2p40, 1, 1}));
             }),
             Equals("matmul (batch dims): shape [1099511627776, 1099511627776] has more than 2^63-1 elements"));
  const Tensor x = huge_view({k2p62, 1}), w = huge_view({4, 1});
  CHECK_THAT(error_of([&] { tg::linear(x, w); }),
             Equals("linear: shape [4611686018427387904, 4] has more than 2^63-1 elements"));
}

TEST_CASE("cat and stack refuse a joined size past int64", "[overflow]") {
  const Tensor a = huge_view({k2p62});
  CHECK_THAT(error_of([&] {
               tg::cat({a, a, a});
             }),
             Equals("cat: the size of the concatenated dim overflows int64 (4611686018427387904 + "
                    "4611686018427387904)"));
  const Tensor b = huge_view({k2p61});
  CHECK_THAT(error_of([&] {
               tg::cat({b, b});
             }),
             Contains("cat: shape [4611686018427387904] of float32 needs more than 2^63-1 bytes"));
  CHECK_THAT(error_of([&] {
               tg::stack({a, a, a, a});
             }),
             Equals("stack: shape [4, 4611686018427387904] has more than 2^63-1 elements"));
}

TEST_CASE("unflatten checks its sizes: negative, and products past int64", "[overflow]") {
  CHECK_THAT(error_of([] {
               tg::unflatten(tg::ones({6}), 0, {-2, -3});
             }),
             Equals("unflatten: invalid size -2 in sizes [-2, -3]"));
  CHECK_THAT(error_of([] {
               tg::unflatten(tg::ones({4}), 0, {-1, k2p62, 4});
             }),
             Equals("unflatten: sizes [-1, 4611686018427387904, 4] multiply past 2^63-1 (dim 0 has size 4)"));
  CHECK_THAT(error_of([] {
               tg::unflatten(tg::ones({6}), 0, {-1, -1});
             }),
             Contains("unflatten: only one size can be inferred"));
  CHECK(tg_test::shape_of(tg::unflatten(tg::ones({2, 6}), 1, {-1, 3})) == std::vector<std::int64_t>{2, 2, 3});
}

TEST_CASE("conv2d checks padding, dilation and output shapes for overflow", "[overflow]") {
  const Tensor x = tg::ones({1, 1, 3, 3}), w1 = tg::ones({1, 1, 1, 1}), w3 = tg::ones({1, 1, 3, 3});
  CHECK_THAT(error_of([&] {
               tg::conv2d(x, w1, {}, 1, {k2p62, 0});
             }),
             Equals("conv2d: the padding overflows int64 (4611686018427387904 * 2)"));
  CHECK_THAT(error_of([&] {
               tg::conv2d(x, w1, {}, 1, {kMax / 2, 0});
             }),
             Equals("conv2d: the padded input size overflows int64 (3 + 9223372036854775806)"));
  CHECK_THAT(error_of([&] {
               tg::conv2d(x, w3, {}, 1, 0, {k2p62, 1});
             }),
             Equals("conv2d: the dilated kernel size overflows int64 (4611686018427387904 * 2)"));
  CHECK_THAT(error_of([&] {
               tg::conv1d(tg::ones({1, 1, 3}), tg::ones({1, 1, 1}), {}, 1, kMax / 2);
             }),
             Contains("conv1d: the padded input size overflows int64"));
  // An output of 2^70 elements from expanded input and weight is refused before any copy.
  const Tensor xs = huge_view({k2p40, 1, 1, 1}), ws = huge_view({k2p30, 1, 1, 1});
  CHECK_THAT(error_of([&] { tg::conv2d(xs, ws); }),
             Equals("conv2d: shape [1099511627776, 1073741824, 1, 1] has more than 2^63-1 elements"));
}

TEST_CASE("pooling checks padding, dilation, stride and output sizes for overflow", "[overflow]") {
  const Tensor x = tg::ones({1, 1, 4, 4});
  // padding * 2 <= kernel overflowed for a huge padding.
  CHECK_THAT(error_of([&] {
               tg::max_pool2d(x, {3, 3}, std::nullopt, {k2p62, 0});
             }),
             Contains("max_pool2d: padding (4611686018427387904, 0) must be at most half the kernel size (3, 3)"));
  CHECK_THAT(error_of([&] {
               tg::max_pool2d(x, {3, 3}, tg::Int2(1), 0, {k2p62, 1});
             }),
             Equals("max_pool2d: the dilated kernel size overflows int64 (4611686018427387904 * 2)"));
  // A one-tap window with a huge dilation never steps by it.
  CHECK(tg_test::values(tg::max_pool2d(x, {1, 1}, tg::Int2(2), 0, {kMax, kMax})) == std::vector<double>{1, 1, 1, 1});
  // ceil_mode with a stride of 2^63-1: span + stride - 1 overflowed. One window, as in PyTorch.
  const Tensor y = tg::avg_pool2d(x, {2, 2}, tg::Int2(kMax), 0, true);
  CHECK(tg_test::shape_of(y) == std::vector<std::int64_t>{1, 1, 1, 1});
  CHECK(y.item() == 1.0);
  CHECK(tg_test::shape_of(tg::max_pool2d(x, {2, 2}, tg::Int2(kMax), 0, 1, true)) ==
        std::vector<std::int64_t>{1, 1, 1, 1});
  // An adaptive output of 2^80 elements wrapped to 0 bytes and was then written.
  CHECK_THAT(error_of([&] {
               tg::adaptive_avg_pool2d(x, {k2p40, k2p40});
             }),
             Equals("adaptive_avg_pool2d: shape [1, 1, 1099511627776, 1099511627776] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] {
               tg::adaptive_max_pool2d(x, {k2p40, k2p40});
             }),
             Contains("adaptive_max_pool2d: shape [1, 1, 1099511627776, 1099511627776] has more"));
}

TEST_CASE("upsampling refuses output shapes past int64 before building its taps", "[overflow]") {
  const Tensor x = tg::ones({1, 1, 2, 2});
  CHECK_THAT(error_of([&] {
               tg::upsample_nearest2d(x, {k2p40, k2p40});
             }),
             Equals("upsample_nearest2d: shape [1, 1, 1099511627776, 1099511627776] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] {
               tg::upsample_bilinear2d(x, {k2p31, k2p31}, false);
             }),
             Contains("upsample_bilinear2d: shape [1, 1, 2147483648, 2147483648] of float32 needs more than 2^63-1 "
                      "bytes"));
}

TEST_CASE("index ops refuse output shapes past int64", "[overflow]") {
  const Tensor idx = tg::zeros({4}, tg::kInt64);
  CHECK_THAT(error_of([&] {
               tg::embedding(huge_view({1, k2p62}), idx);
             }),
             Equals("embedding: shape [4, 4611686018427387904] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([&] {
               tg::index_select(huge_view({k2p62, 1}), 1, idx);
             }),
             Equals("index_select: shape [4611686018427387904, 4] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([] {
               tg::one_hot(tg::tensor({0.0, 1.0}, tg::kInt64), k2p62);
             }),
             Equals("one_hot: shape [2, 4611686018427387904] has more than 2^63-1 elements"));
  CHECK_THAT(error_of([] { tg::one_hot(tg::from_vector(std::vector<std::int64_t>{kMax}, {1})); }),
             Equals("one_hot: index 9223372036854775807 leaves no room for a class count in int64"));
}
