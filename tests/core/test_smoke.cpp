#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.h"

TEST_CASE("smoke: a small graph computes values and gradients") {
  tg::Tensor a = tg::tensor({{1, 2}, {3, 4}}).requires_grad_();
  tg::Tensor b = tg::tensor({0.5, -1});
  tg::Tensor y = (a * b + 1).sum();
  y.backward();
  CHECK(y.item() == Approx(0.5 - 2 + 1.5 - 4 + 4));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{0.5f, -1.f, 0.5f, -1.f});
}
