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
