// Range edges (issue 11, item 7): start/length/end/step arithmetic at the ends of int64, and
// ranges too long to count. Each gave a silent wrong answer (an empty tensor, a negative numel,
// a sum of 0) or undefined behaviour; now each gives the right elements or a tg::Error naming
// the op and the values. No test computes an overflowing value itself (UBSan-clean).
#include "support/prelude.h"

namespace {

constexpr std::int64_t kMax = INT64_MAX;
constexpr std::int64_t kMin = INT64_MIN;

Tensor five() { return tg::tensor({0.0, 1.0, 2.0, 3.0, 4.0}, tg::kFloat64); }

}  // namespace

TEST_CASE("narrow with a length past the end is an error, also when start + length overflows", "[range]") {
  const Tensor x = five();
  // start + length wrapped to a negative end, which passed the check and gave an empty tensor.
  CHECK_THAT(error_of([&] { tg::narrow(x, 0, 2, kMax); }),
             Equals("narrow: start 2 and length 9223372036854775807 are out of range for dim 0 of size 5"));
  CHECK_THAT(error_of([&] { tg::narrow(x, 0, -1, kMax); }),
             Contains("narrow: start 4 and length 9223372036854775807 are out of range"));
  CHECK_THAT(error_of([&] { tg::narrow(x, 0, 2, 4); }), Contains("narrow: start 2 and length 4 are out of range"));
  CHECK_THAT(error_of([&] { tg::narrow(x, 0, 6, 0); }), Contains("narrow: start 6 and length 0 are out of range"));
  CHECK_THAT(error_of([&] { tg::narrow(x, 0, kMin, 1); }), Contains("narrow:"));
  CHECK(values(tg::narrow(x, 0, 2, 3)) == std::vector<double>{2, 3, 4});
  CHECK(values(tg::narrow(x, 0, 5, 0)).empty());
  CHECK(values(tg::narrow(x, 0, -2, 2)) == std::vector<double>{3, 4});
}

TEST_CASE("slice with a huge end and step takes the elements a clamped end gives", "[range]") {
  const Tensor x = five();
  // end - start + step - 1 overflowed: the case gave an empty tensor, not one element.
  const Tensor one = x.slice(0, 0, kMax, kMax);
  CHECK(shape_of(one) == std::vector<std::int64_t>{1});
  CHECK(values(one) == std::vector<double>{0});
  CHECK(values(x.slice(0, 3, kMax, kMax)) == std::vector<double>{3});
  CHECK(values(x.slice(0, kMin, kMax)) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(values(x.slice(0, 1, kMax, 2)) == std::vector<double>{1, 3});
  CHECK(values(x.slice(0, -2, kMax, kMax - 1)) == std::vector<double>{3});
  CHECK(values(x.slice(0, kMax, kMax, kMax)).empty());
  CHECK(values(x.slice(0, 4, 2, kMax)).empty());
  CHECK(values(x.slice(0, 0, 5, 4)) == std::vector<double>{0, 4});
  // A column of a matrix, stepped past its end: one row, and the gradient goes to it alone.
  const Tensor m = tg::tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, tg::kFloat64).requires_grad_();
  const Tensor top = m.slice(0, 1, kMax, kMax);
  CHECK(shape_of(top) == std::vector<std::int64_t>{1, 2});
  CHECK(values(top) == std::vector<double>{3, 4});
  top.sum().backward();
  CHECK(values(m.grad()) == std::vector<double>{0, 0, 1, 1, 0, 0});
}

TEST_CASE("split, chunk and split by sizes at the ends of int64", "[range]") {
  const Tensor x = five();
  const auto whole = tg::split(x, kMax);
  REQUIRE(whole.size() == 1);
  CHECK(values(whole[0]) == std::vector<double>{0, 1, 2, 3, 4});
  // ceil(n / chunks) as (n + chunks - 1) / chunks overflowed (UBSan); one element per chunk.
  const auto chunks = tg::chunk(x, kMax);
  REQUIRE(chunks.size() == 5);
  CHECK(values(chunks[4]) == std::vector<double>{4});
  // The sizes' sum wrapped to 1 and matched a dim of size 1.
  CHECK_THAT(error_of([] {
               tg::split(tg::ones({1}), tg::IntArrayRef({kMax, kMax, 3}));
             }),
             Equals("split: the sum of the sizes overflows int64 (9223372036854775807 + 9223372036854775807)"));
}

TEST_CASE("arange of a range with too many elements is an error naming arange and the count", "[range]") {
  const double inf = std::numeric_limits<double>::infinity();
  // The count (a double) went through an undefined int64 conversion and came out empty.
  CHECK_THAT(error_of([] { tg::arange(0.0, 1e30); }),
             Equals("arange: the range from 0 to 1e+30 with step 1 has 1e+30 elements, more than 2^63-1"));
  CHECK_THAT(error_of([&] { tg::arange(0.0, inf); }),
             Equals("arange: the range from 0 to inf with step 1 has inf elements, more than 2^63-1"));
  CHECK_THAT(error_of([&] { tg::arange(0.0, -inf, -1.0); }),
             Contains("arange: the range from 0 to -inf with step -1 has inf elements"));
  CHECK_THAT(error_of([] { tg::arange(-1e308, 1e308, 1e-300); }), Contains("elements, more than 2^63-1"));
  CHECK_THAT(error_of([] { tg::arange(0.0, 9223372036854775808.0); }),
             Contains("has 9.223372036854776e+18 elements, more than 2^63-1"));
  CHECK_THAT(error_of([] { tg::arange(0.0, std::nan(""), 1.0); }),
             Equals("arange: start, end and step must not be NaN, got 0, nan and 1"));
  CHECK_THAT(error_of([] { tg::arange(0.0, 2e19, 1e19, tg::kInt64); }),
             Equals("arange: the values from 0 to 1e+19 do not fit in int64"));
  // Large but countable ranges still work.
  const std::vector<double> wide = values(tg::arange(0.0, std::ldexp(1.0, 100), std::ldexp(1.0, 97), tg::kFloat64));
  REQUIRE(wide.size() == 8);
  CHECK(wide[7] == std::ldexp(7.0, 97));
  CHECK(values(tg::arange(3)) == std::vector<double>{0, 1, 2});
}

TEST_CASE("expand with a negative size is an error, a 2^80-element expand is refused, not summed to 0", "[range]") {
  // expand({-5, 3}) gave shape [-5, 3] with numel -15.
  CHECK_THAT(error_of([] { tg::ones({1, 3}).expand({-5, 3}); }), Contains("expand: invalid size -5 for dim 0"));
  CHECK_THAT(error_of([] { tg::ones({1, 3}).expand({1, -3}); }), Contains("expand: invalid size -3 for dim 1"));
  // The sum over [2^30, 2^30, 2^20] returned 0 (the count had wrapped to 0).
  CHECK_THAT(error_of([] {
               tg::ones({1, 1, 1}).expand({std::int64_t{1} << 30, std::int64_t{1} << 30, std::int64_t{1} << 20}).sum();
             }),
             Equals("expand: shape [1073741824, 1073741824, 1048576] has more than 2^63-1 elements"));
}

TEST_CASE("randint over the whole int64 range draws without overflow", "[range]") {
  tg::Generator gen(7);
  // high - low overflowed int64 (UBSan); the draw is over the 2^64 - 1 values in [low, high).
  const Tensor r = tg::randint(kMin, kMax, {64}, tg::kInt64, &gen);
  bool some_negative = false, some_positive = false;
  for (auto v : r.to_vector<std::int64_t>()) {
    CHECK(v < kMax);
    some_negative = some_negative || v < 0;
    some_positive = some_positive || v > 0;
  }
  CHECK(some_negative);
  CHECK(some_positive);
}
