// dropout (tapegrad/core/ops/dropout.h): values and the gradient of a fixed mask.
#include "support/prelude.h"

TEST_CASE("dropout: p = 0 and eval mode return the input itself, p = 1 gives zeros", "[model-ops][values][dropout]") {
  const Tensor x = tg::tensor({1, -2, 3});
  CHECK(tg::dropout(x, 0.0).impl() == x.impl());
  CHECK(tg::dropout(x, 0.5, /*training=*/false).impl() == x.impl());
  CHECK(tg::dropout(x, 1.0, /*training=*/false).impl() == x.impl());
  CHECK(values(tg::dropout(x, 1.0)) == std::vector<double>{0, 0, 0});
}

TEST_CASE("dropout p = 0.5 on 10^5 elements keeps 50% +- 1%, scaled exactly by 2, reproducibly",
          "[model-ops][values][dropout]") {
  tg::Generator gen(99);
  const Tensor x = tg::rand({100000}, {}, &gen) + 0.5;  // no zeros in x
  tg::manual_seed(2024);
  const Tensor y = tg::dropout(x, 0.5);
  const auto xv = values(x), yv = values(y);
  std::int64_t kept = 0;
  bool exact = true;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) continue;
    ++kept;
    exact = exact && yv[i] == 2.0 * xv[i];
  }
  CHECK(kept >= 49000);
  CHECK(kept <= 51000);
  CHECK(exact);
  tg::manual_seed(2024);
  CHECK(values(tg::dropout(x, 0.5)) == yv);
  CHECK(values(tg::dropout(x, 0.5)) != yv);  // the stream moved on
  tg::Generator g1(5), g2(5);
  CHECK(values(tg::dropout(x, 0.3, true, &g1)) == values(tg::dropout(x, 0.3, true, &g2)));
}

TEST_CASE("dropout p=0.3 with a fixed generator: gradient is the mask scaled by 1/0.7", "[model-ops][grad][stats]") {
  const Tensor x = any64({4, 5}, 220);
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    tg::Generator gen(1234);  // same seed at every evaluation: the same mask
    return tg::dropout(in[0], 0.3, true, &gen);
      },
      {x}));
  tg::Generator gen(1234);
  const Tensor y = tg::dropout(x, 0.3, true, &gen);
  y.sum().backward();
  const auto g = values(x.grad()), yv = values(y), xv = values(x);
  int kept = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i);
    if (yv[i] == 0.0) {
      CHECK(g[i] == 0.0);
    } else {
      ++kept;
      CHECK(g[i] == Approx(1 / 0.7));
      CHECK(yv[i] == Approx(xv[i] / 0.7));
    }
  }
  CHECK(kept > 0);
  CHECK(kept < 20);
}

TEST_CASE("dropout drops exactly the elements whose tg::rand uniform from the same generator state is below p",
          "[model-ops][values][dropout]") {
  // The kernel compares the integer behind the uniform with ceil(p 2^24) (2^53 in float64); it
  // must drop what rand < p drops, also for p on an element's own uniform and half a step of the
  // uniform's grid (2^-24) either side of it.
  for (const tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
    tg::Generator g0(77);
    const std::vector<double> u = values(tg::rand({4096}, dt, &g0));
    std::vector<double> ps = {0.1, 0.25, 1.0 / 3, 0.5, 0.9, 1e-7, 1 - 1e-7};
    for (std::size_t j = 0; j < u.size(); j += 256)
      for (const double d : {-0x1p-25, -0x1p-54, 0.0, 0x1p-54, 0x1p-25}) ps.push_back(u[j] + d);
    for (const double p : ps) {
      if (!(p > 0 && p < 1)) continue;
      const double pt = dt == tg::kFloat32 ? static_cast<double>(static_cast<float>(p)) : p;  // as rand < p compares
      tg::Generator g(77);
      const std::vector<double> y = values(tg::dropout(tg::ones({4096}, dt), p, true, &g));
      int mismatches = 0;
      for (std::size_t i = 0; i < u.size(); ++i) mismatches += (y[i] == 0.0) != (u[i] < pt) ? 1 : 0;
      INFO(tg::dtype_name(dt) << " p = " << p);
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("dropout and its gradient are bit-identical with 1 and 2 threads", "[dropout][determinism][threads]") {
  const int default_threads = tg::get_num_threads();
  auto run = [](int threads) {
    tg::set_num_threads(threads);
    tg::Generator gen(5);
    const Tensor x = tg::randn({1 << 18}, {}, &gen).requires_grad_();
    const Tensor y = tg::dropout(x, 0.2, true, &gen);
    (y * y).sum().backward();
    return std::vector<std::vector<double>>{values(y), values(x.grad())};
  };
  const auto one = run(1), two = run(2);
  tg::set_num_threads(default_threads);
  CHECK(one[0] == two[0]);
  CHECK(one[1] == two[1]);
}
