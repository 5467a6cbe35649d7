// Built against the installed tapegrad (by find_package and by pkg-config): one training step
// of a linear model, touching core (tensors, matmul through BLAS, threads), nn and optim.
// Exits non-zero if a value is wrong.
#include <cmath>
#include <cstdio>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace {

int failures = 0;

void check(const char* what, const std::vector<float>& got, const std::vector<float>& want) {
  bool ok = got.size() == want.size();
  for (std::size_t i = 0; ok && i < got.size(); ++i) ok = std::fabs(got[i] - want[i]) <= 1e-5f;
  std::printf("%-12s %s\n", what, ok ? "ok" : "WRONG");
  if (!ok) ++failures;
}

}  // namespace

int main() {
  namespace F = tg::nn::functional;
  const tg::Tensor x = tg::tensor({{1, 2}, {3, 4}});                // [2, 2]
  const tg::Tensor target = tg::tensor({{0}, {1}});                 // [2, 1]
  const tg::Tensor w = tg::tensor({{0.5, -1.0}}).requires_grad_();  // [1, 2]

  // x w^T = [-1.5, -2.5], residuals [-1.5, -3.5]: loss = (2.25 + 12.25) / 2 = 7.25.
  const tg::Tensor loss = F::mse_loss(F::linear(x, w), target);
  loss.backward();
  check("loss", {loss.item<float>()}, {7.25f});
  // dloss/dw = (2 / 2) * (-1.5 * [1, 2] + -3.5 * [3, 4]) = [-12, -17].
  check("grad", w.grad().to_vector<float>(), {-12.f, -17.f});

  tg::optim::SGD sgd({w}, 0.1);
  sgd.step();  // w - 0.1 * grad
  check("sgd step", w.to_vector<float>(), {1.7f, 0.7f});

  std::printf("threads      %d\n", tg::get_num_threads());
  return failures == 0 ? 0 : 1;
}
