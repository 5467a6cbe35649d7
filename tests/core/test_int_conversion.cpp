// Floating values converted to int64: to(), copy_(), item(), at(), to_vector() and a state dict
// loaded into an int64 buffer all go through one checked conversion (fits_int64 in dtype.h).
// NaN, inf and values outside [-2^63, 2^63) are a tg::Error naming the op and the element, as
// fill_ already did; before, the plain cast (undefined in C++) gave INT64_MIN.
#include "support/prelude.h"
#include "tapegrad/tapegrad.h"

namespace nn = tg::nn;

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

}  // namespace

// The page's example (docs/tensors.md, Conversions to integers), word for word.
// [doc:int_conversions]
void int_conversions() {
  const Tensor x = tg::tensor({-2.7, 0.5, 2.7}, tg::kFloat64);
  CHECK(x.to(tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 0, 2});  // toward zero

  const Tensor bad = tg::tensor({1.0, std::nan(""), 1e30});
  CHECK_THROWS_WITH(bad.to(tg::kInt64),
                    Contains("to: element 1 of the float32 tensor (shape [3]) is nan, which cannot be converted"));
  const Tensor counts = tg::zeros({3}, tg::kInt64);
  CHECK_THROWS_WITH(counts.copy_(bad), Contains("copy_: element 1"));
  CHECK(counts.sum().item<std::int64_t>() == 0);  // an error leaves the destination as it was
  CHECK_THROWS_WITH(bad.select(0, 2).item<std::int64_t>(), Contains("item: value 1e+30 cannot be converted to int64"));
}
// [/doc:int_conversions]

TEST_CASE("the conversions to int64 of docs/tensors.md", "[int_conversion]") { int_conversions(); }

TEST_CASE("fits_int64 accepts exactly -2^63 up to 2^63 - 1 and rejects NaN and inf", "[int_conversion]") {
  CHECK(tg::fits_int64(-9223372036854775808.0));       // -2^63 is an int64
  CHECK_FALSE(tg::fits_int64(9223372036854775808.0));  // 2^63 is not
  CHECK(tg::fits_int64(9223372036854774784.0));        // the largest double below 2^63
  CHECK(tg::fits_int64(-9223372036854775808.0f));
  CHECK_FALSE(tg::fits_int64(9223372036854775808.0f));
  CHECK_FALSE(tg::fits_int64(kNaN));
  CHECK_FALSE(tg::fits_int64(kInf));
  CHECK_FALSE(tg::fits_int64(-kInf));
  CHECK_FALSE(tg::fits_int64(std::numeric_limits<float>::quiet_NaN()));
  CHECK(tg::checked_cast<std::int64_t>(-2.9, "op") == -2);
  CHECK_THAT(error_of([] { tg::checked_cast<std::int64_t>(kNaN, "myop"); }),
             Contains("myop: value nan cannot be converted to int64"));
}

TEST_CASE("to(int64) truncates in-range values toward zero, as PyTorch does", "[int_conversion]") {
  const Tensor x = tg::tensor({-2.7, -0.5, 0.5, 2.7, -9223372036854775808.0, 9223372036854774784.0}, tg::kFloat64);
  CHECK(x.to(tg::kInt64).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{-2, 0, 0, 2, kMin, 9223372036854774784LL});
  const Tensor f = tg::tensor({1.9f, -3.99f, 1e18f});
  CHECK(f.to(tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -3, 999999984306749440LL});
}

TEST_CASE("to(int64) of NaN, inf or a value beyond int64 is an error naming the element", "[int_conversion]") {
  CHECK_THAT(error_of([] {
               tg::tensor({1.0, kNaN}).to(tg::kInt64);
             }),
             Contains("to: element 1 of the float32 tensor (shape [2]) is nan") && Contains("int64"));
  CHECK_THAT(error_of([] { tg::tensor({1e30}, tg::kFloat64).to(tg::kInt64); }),
             Contains("to: element 0 of the float64 tensor") && Contains("1e+30") && Contains("overflow"));
  CHECK_THAT(error_of([] {
               tg::tensor({0.0, 0.0, -kInf}, tg::kFloat64).to(tg::kInt64);
             }),
             Contains("element 2") && Contains("-inf"));
  // 2^63 itself is one past the largest int64.
  CHECK_THAT(error_of([] { tg::tensor({9223372036854775808.0}, tg::kFloat64).to(tg::kInt64); }),
             Contains("9.223372036854776e+18"));
}

TEST_CASE("the check covers strided, broadcast and parallel conversions", "[int_conversion]") {
  // Transposed (not contiguous): element order in the message is the source's logical order.
  const Tensor m = tg::tensor({{1.0, 2.0}, {kNaN, 4.0}}, tg::kFloat64).t();  // [[1, nan], [2, 4]]
  CHECK_THAT(error_of([&] { m.to(tg::kInt64); }), Contains("element 1") && Contains("nan"));
  const Tensor ok = tg::tensor({{1.5, 2.0}, {-3.5, 4.0}}, tg::kFloat64).t();
  CHECK(ok.to(tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -3, 2, 4});
  // A broadcast scalar.
  const Tensor b = tg::full({}, kInf).expand({3, 3});
  CHECK_THAT(error_of([&] { b.to(tg::kInt64); }), Contains("inf"));
  // Above the parallel grain, with the only bad value last.
  const std::int64_t n = 1 << 20;
  const Tensor big = tg::arange(n).to(tg::kFloat32);
  CHECK(big.to(tg::kInt64).to_vector<std::int64_t>()[n - 1] == n - 1);
  big.slice(0, n - 1, n).fill_(kNaN);
  CHECK_THAT(error_of([&] { big.to(tg::kInt64); }), Contains("element 1048575") && Contains("nan"));
}

TEST_CASE("copy_ into an int64 tensor checks the source and leaves the destination unchanged on an error",
          "[int_conversion]") {
  const Tensor dst = tg::tensor({7, 8, 9}, tg::kInt64);
  CHECK_THAT(error_of([&] {
               dst.copy_(tg::tensor({1.0, 2.0, kNaN}));
             }),
             Contains("copy_: element 2") && Contains("nan"));
  CHECK(dst.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 8, 9});
  CHECK_THAT(error_of([&] { dst.copy_(tg::full({}, 1e19)); }), Contains("copy_") && Contains("1e+19"));
  CHECK(dst.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 8, 9});
  dst.copy_(tg::tensor({-1.5, 2.5, 3.0}));
  CHECK(dst.to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 2, 3});
}

TEST_CASE("item, at and to_vector as int64 reject NaN and out-of-range values", "[int_conversion]") {
  CHECK_THAT(error_of([] { tg::full({}, kNaN).item<std::int64_t>(); }),
             Contains("item: value nan cannot be converted to int64"));
  CHECK_THAT(error_of([] { tg::full({1}, -1e30, tg::kFloat64).item<std::int64_t>(); }),
             Contains("item") && Contains("-1e+30"));
  CHECK_THAT(error_of([] {
               tg::tensor({1.0, kInf}).at<std::int64_t>({1});
             }),
             Contains("at: value inf cannot be converted to int64"));
  CHECK_THAT(error_of([] { tg::tensor({kNaN}).to_vector<std::int64_t>(); }),
             Contains("to_vector: element 0") && Contains("nan"));
  CHECK(tg::full({}, -3.5).item<std::int64_t>() == -3);
  CHECK(tg::tensor({1.0, 6.25}).at<std::int64_t>({1}) == 6);
  // fill_ keeps its message (the same check).
  CHECK_THAT(error_of([] { tg::zeros({2}, tg::kInt64).fill_(kNaN); }),
             Contains("fill_: value nan cannot be converted to int64"));
}

TEST_CASE("load_state_dict of a float num_batches_tracked: whole values load, NaN is an error and nothing is written",
          "[int_conversion][nn]") {
  nn::BatchNorm1d bn(nn::BatchNormOptions(2));
  nn::StateDict good = bn.state_dict();
  good.insert("num_batches_tracked", tg::full({}, 7.0, tg::kFloat64));
  bn.load_state_dict(good);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 7);
  CHECK(bn.num_batches_tracked.dtype() == tg::kInt64);

  nn::StateDict bad = bn.state_dict();
  bad.insert("running_mean", tg::tensor({5.0f, 6.0f}));
  bad.insert("num_batches_tracked", tg::full({}, kNaN));
  CHECK_THAT(error_of([&] { bn.load_state_dict(bad); }),
             Contains("load_state_dict") && Contains("'num_batches_tracked' of BatchNorm1d") && Contains("nan"));
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 7);
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{0.0, 0.0});  // all or nothing

  bad.insert("num_batches_tracked", tg::full({}, 1e30));
  CHECK_THAT(error_of([&] { bn.load_state_dict(bad); }), Contains("1e+30"));
}
