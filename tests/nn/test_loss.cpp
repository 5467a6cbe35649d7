// Losses (tg::nn::functional): golden values and gradients from PyTorch for every loss and
// option (fixtures written by tests/golden_nn/make_loss_fixtures.py), gradient checks with
// respect to input and differentiable targets, the fused cross-entropy against a composition
// of core ops, stability with large logits, and each bad input's error message.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/helpers.h"
#include "tapegrad/core.h"
#include "tapegrad/nn/loss.h"

using tg_test::error_of;

namespace F = tg::nn::functional;
using Catch::Matchers::Contains;
using F::Reduction;
using tg::Tensor;
using tg_fixtures::Case;

namespace {

// ---- helpers --------------------------------------------------------------------------------

/// A float64 leaf that requires grad, uniform in [lo, hi), reproducible from seed.
Tensor uniform64(tg::IntArrayRef shape, double lo, double hi, std::uint64_t seed) {
  tg::Generator gen(seed);
  return (tg::rand(shape, tg::kFloat64, &gen) * (hi - lo) + lo).detach().requires_grad_();
}

Tensor indices(const std::vector<std::int64_t>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }

/// Runs the loss a fixture case names, with its options, on the given tensors.
Tensor run_loss(const Case& c, const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw) {
  const Reduction r = F::reduction_from_string(c.text("reduction"));
  if (c.op == "cross_entropy") {
    F::CrossEntropyOptions o;
    o.reduction(r);
    if (w.defined()) o.weight(w);
    if (c.has_param("ignore_index")) o.ignore_index(static_cast<std::int64_t>(c.num("ignore_index")));
    if (c.has_param("label_smoothing")) o.label_smoothing(c.num("label_smoothing"));
    return F::cross_entropy(x, t, o);
  }
  if (c.op == "nll_loss") {
    F::NLLLossOptions o;
    o.reduction(r);
    if (w.defined()) o.weight(w);
    if (c.has_param("ignore_index")) o.ignore_index(static_cast<std::int64_t>(c.num("ignore_index")));
    return F::nll_loss(x, t, o);
  }
  if (c.op == "mse_loss") return F::mse_loss(x, t, r);
  if (c.op == "l1_loss") return F::l1_loss(x, t, r);
  if (c.op == "smooth_l1_loss")
    return F::smooth_l1_loss(x, t, F::SmoothL1LossOptions().beta(c.num("beta")).reduction(r));
  if (c.op == "binary_cross_entropy") {
    F::BinaryCrossEntropyOptions o;
    o.reduction(r);
    if (w.defined()) o.weight(w);
    return F::binary_cross_entropy(x, t, o);
  }
  if (c.op == "binary_cross_entropy_with_logits") {
    F::BinaryCrossEntropyWithLogitsOptions o;
    o.reduction(r);
    if (w.defined()) o.weight(w);
    if (pw.defined()) o.pos_weight(pw);
    return F::binary_cross_entropy_with_logits(x, t, o);
  }
  if (c.op == "kl_div") return F::kl_div(x, t, F::KLDivOptions().reduction(r).log_target(c.num("log_target") != 0));
  throw tg_fixtures::FixtureError("no loss named " + c.op);
}

struct MaxError {
  double abs = 0;  // largest |got - want|
  double rel = 0;  // largest |got - want| / max(1, |want|), the measure the tolerance bounds
};

/// Compares element by element within tol * max(1, |want|), recording the largest errors.
bool matches(const Tensor& got, const tg_fixtures::StoredTensor& want, double tol, MaxError& err,
             const std::string& what) {
  if (!got.defined()) {
    UNSCOPED_INFO(what << ": undefined");
    return false;
  }
  if (got.shape().vec() != want.shape) {
    UNSCOPED_INFO(what << ": shape " << tg::shape_str(got.shape()) << ", want " << tg::shape_str(want.shape));
    return false;
  }
  const std::vector<double> g = got.to(tg::kFloat64).to_vector<double>();
  bool ok = true;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(g[i] - want.values[i]), scaled = d / std::max(1.0, std::abs(want.values[i]));
    err.abs = std::max(err.abs, d);
    err.rel = std::max(err.rel, scaled);
    if (!(scaled <= tol) && ok) {
      UNSCOPED_INFO(what << " element " << i << ": got " << g[i] << ", want " << want.values[i]);
      ok = false;
    }
  }
  return ok;
}

/// Runs every case of one loss's fixture file in dtype, checking the loss and the gradients.
void check_golden(const std::string& op, tg::DType dtype, double tol) {
  const std::vector<Case> cases = tg_fixtures::load("golden_nn", op);
  MaxError err;
  for (const Case& c : cases) {
    INFO(op << " [" << tg::dtype_name(dtype) << "] case '" << c.name << "' (" << c.where << ")");
    const Tensor x = c.tensor("input", dtype).requires_grad_();
    Tensor t = c.tensor("target", dtype);
    if (c.has_tensor("grad_target")) t.requires_grad_();
    const Tensor loss =
        run_loss(c, x, t, c.tensor_or_undefined("weight", dtype), c.tensor_or_undefined("pos_weight", dtype));
    CHECK(loss.dtype() == dtype);
    CHECK(matches(loss, c.stored("loss"), tol, err, "loss"));
    tg::sum(tg::mul(loss, c.tensor("gout", dtype))).backward();
    CHECK(matches(x.grad(), c.stored("grad_input"), tol, err, "grad_input"));
    if (c.has_tensor("grad_target")) CHECK(matches(t.grad(), c.stored("grad_target"), tol, err, "grad_target"));
  }
  if (const char* report = std::getenv("TG_GOLDEN_REPORT"); report && *report)
    std::printf("golden %-34s %-8s %3zu cases  max |err| %.3g  max |err|/max(1,|want|) %.3g\n", op.c_str(),
                tg::dtype_name(dtype), cases.size(), err.abs, err.rel);
}

const char* const kLosses[] = {"cross_entropy",
                               "nll_loss",
                               "mse_loss",
                               "l1_loss",
                               "smooth_l1_loss",
                               "binary_cross_entropy",
                               "binary_cross_entropy_with_logits",
                               "kl_div"};

/// Cross-entropy with class indices, composed from core ops (log_softmax, gather, where, sum)
/// after PyTorch's definition: the oracle of the fused kernel.
Tensor composed_cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight, std::int64_t ignore,
                              double smoothing, Reduction r) {
  const std::int64_t class_dim = x.dim() == 1 ? 0 : 1, c = x.size(class_dim);
  const Tensor logp = tg::log_softmax(x, class_dim);
  const Tensor keep = tg::ne(target, static_cast<double>(ignore));
  const Tensor safe = tg::mul(target, keep.to(tg::kInt64));  // ignored -> class 0, masked below
  const Tensor picked = tg::gather(logp, class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim);
  Tensor wy = weight.defined() ? tg::index_select(weight, 0, safe.reshape({-1})).reshape(target.shape())
                               : tg::ones(target.shape(), x.dtype());
  wy = tg::mul(wy, keep.to(x.dtype()));
  Tensor per = tg::mul(tg::neg(tg::mul(wy, picked)), 1.0 - smoothing);
  if (smoothing > 0) {
    Tensor wl = logp;
    if (weight.defined()) {
      std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
      shape[static_cast<std::size_t>(class_dim)] = c;
      wl = tg::mul(logp, weight.reshape(shape));
    }
    const Tensor smooth = tg::mul(tg::neg(tg::sum(wl, {class_dim})), keep.to(x.dtype()));
    per = tg::add(per, tg::mul(smooth, smoothing / static_cast<double>(c)));
  }
  if (r == Reduction::None) return per;
  if (r == Reduction::Sum) return tg::sum(per);
  return tg::div(tg::sum(per), tg::sum(wy));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return tg::amax(tg::abs(tg::sub(a.to(tg::kFloat64), b.to(tg::kFloat64)))).item();
}

}  // namespace

// ---- golden tests against PyTorch -----------------------------------------------------------

TEST_CASE("loss: every loss and option matches PyTorch in float64 within 1e-10", "[loss][golden]") {
  for (const char* op : kLosses) check_golden(op, tg::kFloat64, 1e-10);
}

TEST_CASE("loss: every loss and option matches PyTorch in float32 within 1e-5", "[loss][golden]") {
  for (const char* op : kLosses) check_golden(op, tg::kFloat32, 1e-5);
}

TEST_CASE("loss: the fixture files cover every loss with each reduction", "[loss][golden]") {
  for (const char* op : kLosses) {
    INFO(op);
    const std::vector<Case> cases = tg_fixtures::load("golden_nn", op);
    std::vector<std::string> reductions;
    for (const Case& c : cases) reductions.push_back(c.text("reduction"));
    for (const char* r : {"none", "mean", "sum"}) CHECK(std::count(reductions.begin(), reductions.end(), r) >= 1);
  }
  CHECK(tg_fixtures::load("golden_nn", "kl_div").size() >= 20);  // 5 inputs x 4 reductions incl. batchmean
}

// ---- cross_entropy ----------------------------------------------------------------------------

TEST_CASE("loss: fused cross_entropy equals its composition from log_softmax and gather", "[loss]") {
  const Tensor x = uniform64({6, 7}, -4, 4, 1);
  const Tensor xk = uniform64({3, 7, 4}, -4, 4, 2);
  tg::Generator gen(3);
  const Tensor t = tg::randint(0, 7, {6}, tg::kInt64, &gen);
  Tensor tk = tg::randint(0, 7, {3, 4}, tg::kInt64, &gen);
  tk = tg::where(tg::eq(tg::arange(12).reshape({3, 4}), 5.0), tg::full({3, 4}, -1.0, tg::kInt64), tk);
  const Tensor w = uniform64({7}, 0.3, 2.0, 4).detach();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    for (double s : {0.0, 0.2}) {
      for (bool weighted : {false, true}) {
        INFO("reduction " << F::reduction_name(r) << ", smoothing " << s << ", weighted " << weighted);
        const Tensor wt = weighted ? w : Tensor();
        for (int kdim = 0; kdim < 2; ++kdim) {
          const Tensor& in = kdim ? xk : x;
          const Tensor& tt = kdim ? tk : t;
          const std::int64_t ignore = kdim ? -1 : -100;
          F::CrossEntropyOptions o;
          o.reduction(r).label_smoothing(s).ignore_index(ignore);
          if (weighted) o.weight(wt);
          const Tensor fused = F::cross_entropy(in, tt, o);
          const Tensor oracle = composed_cross_entropy(in, tt, wt, ignore, s, r);
          CHECK(max_abs_diff(fused, oracle) < 1e-12);
          const Tensor g = tg::full(fused.shape(), 0.75, tg::kFloat64);
          const Tensor gf = tg::sum(tg::mul(fused, g)), go = tg::sum(tg::mul(oracle, g));
          gf.backward();
          const Tensor grad_fused = in.grad().clone();
          in.zero_grad(true);
          go.backward();
          CHECK(max_abs_diff(grad_fused, in.grad()) < 1e-12);
          in.zero_grad(true);
        }
      }
    }
  }
}

TEST_CASE("loss: cross_entropy, nll_loss and binary_cross_entropy read non-contiguous inputs", "[loss]") {
  const Tensor base = uniform64({5, 4}, -2, 2, 61);  // its transpose is a [4, 5] view with strides [1, 4]
  const Tensor view = base.t();
  const Tensor copy = view.contiguous().detach().requires_grad_();
  const Tensor t = indices({0, 4, 2, 1}, {4});
  const auto o = F::CrossEntropyOptions().label_smoothing(0.1).reduction(Reduction::Sum);
  const Tensor a = F::cross_entropy(view, t, o), b = F::cross_entropy(copy, t, o);
  CHECK(a.item() == Approx(b.item()).epsilon(1e-14));
  a.backward();
  b.backward();
  CHECK(max_abs_diff(base.grad().t(), copy.grad()) < 1e-15);
  CHECK(F::nll_loss(view, t).item() == Approx(F::nll_loss(copy, t).item()).epsilon(1e-14));
  const Tensor p = tg::sigmoid(base.detach()).t(), pc = p.contiguous();
  CHECK(F::binary_cross_entropy(p, tg::zeros({4, 5}, tg::kFloat64)).item() ==
        Approx(F::binary_cross_entropy(pc, tg::zeros({4, 5}, tg::kFloat64)).item()).epsilon(1e-14));
}

TEST_CASE("loss: cross_entropy is stable for logits of 1e4 in float32 and float64", "[loss]") {
  // A naive exp(1e4) overflows; the max is taken out first, so the loss is exact.
  for (tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
    const Tensor x = tg::tensor({{10000.0, 9999.0, -10000.0}, {-10000.0, 10000.0, 10000.0}}, dt).requires_grad_();
    const Tensor t = indices({1, 0}, {2});
    const Tensor loss = F::cross_entropy(x, t, F::CrossEntropyOptions().reduction(Reduction::None));
    const double lse0 = std::log1p(std::exp(-1.0));  // log(e^0 + e^-1) after the shift
    CHECK(loss.at<double>({0}) == Approx(1.0 + lse0).epsilon(1e-6));
    CHECK(loss.at<double>({1}) == Approx(20000.0 + std::log(2.0)).epsilon(1e-6));
    tg::sum(loss).backward();
    for (double g : x.grad().to(tg::kFloat64).to_vector<double>()) CHECK(std::isfinite(g));
    CHECK(x.grad().at<double>({1, 1}) == Approx(0.5).epsilon(1e-6));
    CHECK(x.grad().at<double>({1, 0}) == Approx(-1.0).epsilon(1e-6));  // p = 0, minus the target
  }
}

TEST_CASE("loss: cross_entropy reductions give PyTorch's shapes", "[loss]") {
  const Tensor x = tg::zeros({2, 3, 4, 5});
  const Tensor t = tg::zeros({2, 4, 5}, tg::kInt64);
  CHECK(F::cross_entropy(x, t, F::CrossEntropyOptions().reduction(Reduction::None)).shape().vec() ==
        std::vector<std::int64_t>{2, 4, 5});
  CHECK(F::cross_entropy(x, t).dim() == 0);
  CHECK(F::cross_entropy(x, t).item() == Approx(std::log(3.0)));
  const Tensor unbatched = F::cross_entropy(tg::zeros({3}), tg::scalar_tensor(1, tg::kInt64),
                                            F::CrossEntropyOptions().reduction(Reduction::None));
  CHECK(unbatched.dim() == 0);
  CHECK(unbatched.item() == Approx(std::log(3.0)));
}

TEST_CASE("loss: cross_entropy and nll_loss with every target ignored give NaN for mean, 0 for sum", "[loss]") {
  const Tensor x = tg::zeros({2, 3});
  const Tensor t = indices({-100, -100}, {2});
  CHECK(std::isnan(F::cross_entropy(x, t).item()));
  CHECK(F::cross_entropy(x, t, F::CrossEntropyOptions().reduction(Reduction::Sum)).item() == 0.0);
  CHECK(std::isnan(F::nll_loss(x, t).item()));
  CHECK(F::nll_loss(x, t, F::NLLLossOptions().reduction(Reduction::Sum)).item() == 0.0);
}

TEST_CASE("loss: a probability target in another dtype promotes like PyTorch", "[loss]") {
  const Tensor x = uniform64({2, 3}, -1, 1, 8).detach().to(tg::kFloat32);
  const Tensor p = tg::softmax(uniform64({2, 3}, -1, 1, 9).detach(), 1);
  const Tensor loss = F::cross_entropy(x, p);
  CHECK(loss.dtype() == tg::kFloat64);
  CHECK(loss.item() == Approx(F::cross_entropy(x.to(tg::kFloat64), p).item()).epsilon(1e-12));
}

// ---- gradient checks ----------------------------------------------------------------------------

TEST_CASE("loss: gradcheck of cross_entropy w.r.t. input, and w.r.t. a probability target", "[loss][gradcheck]") {
  const Tensor x = uniform64({4, 5}, -3, 3, 11);
  const Tensor xk = uniform64({2, 5, 3}, -3, 3, 12);
  const Tensor x1 = uniform64({5}, -3, 3, 13);
  const Tensor t = indices({1, -100, 4, 2}, {4});
  const Tensor tk = indices({0, 1, 2, 3, 4, -100}, {2, 3});
  const Tensor w = uniform64({5}, 0.2, 2.0, 14).detach();
  const Tensor p = tg::softmax(uniform64({4, 5}, -1, 1, 15).detach(), 1).requires_grad_();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << F::reduction_name(r));
    const auto o = F::CrossEntropyOptions().weight(w).label_smoothing(0.2).reduction(r);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], t, o); }, {x}));
    CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], tk, o); }, {xk}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], tg::scalar_tensor(3, tg::kInt64), o); },
        {x1}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::cross_entropy(v[0], v[1], F::CrossEntropyOptions().weight(w).label_smoothing(0.1).reduction(r));
        },
        {x, p}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], t, F::CrossEntropyOptions().reduction(r)); },
        {x}));
  }
}

TEST_CASE("loss: gradcheck of nll_loss w.r.t. input", "[loss][gradcheck]") {
  const Tensor x = uniform64({4, 3}, -3, 0, 21);
  const Tensor xk = uniform64({2, 3, 2}, -3, 0, 22);
  const Tensor w = uniform64({3}, 0.2, 2.0, 23).detach();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << F::reduction_name(r));
    const auto o = F::NLLLossOptions().weight(w).ignore_index(1).reduction(r);
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::nll_loss(v[0], indices({0, 1, 2, 2}, {4}), o);
        },
        {x}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::nll_loss(v[0], indices({0, 2, 1, 2}, {2, 2}), o);
        },
        {xk}));
  }
}

TEST_CASE("loss: gradcheck of the regression losses w.r.t. input and target", "[loss][gradcheck]") {
  // input - target avoids the kinks of l1 (0) and smooth_l1 (0 and +-beta = +-0.5).
  const Tensor t = uniform64({2, 4}, -1, 1, 31);
  const std::vector<double> d = {-1.7, -0.6, -0.2, 0.1, 0.35, 0.9, 1.4, -0.3};
  const Tensor x = tg::add(t, tg::from_vector(d, {2, 4})).detach().requires_grad_();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << F::reduction_name(r));
    CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return F::mse_loss(v[0], v[1], r); }, {x, t}));
    CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return F::l1_loss(v[0], v[1], r); }, {x, t}));
    for (double beta : {0.5, 1.0}) {
      CHECK(tg::gradcheck(
          [&](const std::vector<Tensor>& v) {
        return F::smooth_l1_loss(v[0], v[1], F::SmoothL1LossOptions().beta(beta).reduction(r));
          },
          {x, t}));
    }
  }
}

TEST_CASE("loss: gradcheck of the binary cross-entropies w.r.t. input and target", "[loss][gradcheck]") {
  const Tensor p = uniform64({3, 4}, 0.05, 0.95, 41);
  const Tensor t = uniform64({3, 4}, 0, 1, 42);
  const Tensor logits = uniform64({3, 4}, -4, 4, 43);
  const Tensor w = uniform64({4}, 0.5, 2, 44).detach();
  const Tensor pw = uniform64({4}, 0.5, 3, 45).detach();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << F::reduction_name(r));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::binary_cross_entropy(v[0], v[1], F::BinaryCrossEntropyOptions().weight(w).reduction(r));
        },
        {p, t}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::binary_cross_entropy_with_logits(
          v[0], v[1], F::BinaryCrossEntropyWithLogitsOptions().weight(w).pos_weight(pw).reduction(r));
        },
        {logits, t}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::binary_cross_entropy_with_logits(v[0], v[1], F::BinaryCrossEntropyWithLogitsOptions().reduction(r));
        },
        {logits, t}));
  }
}

TEST_CASE("loss: gradcheck of kl_div w.r.t. input and target, for every reduction", "[loss][gradcheck]") {
  const Tensor x = tg::log_softmax(uniform64({3, 4}, -2, 2, 51).detach(), 1).requires_grad_();
  const Tensor p = tg::softmax(uniform64({3, 4}, -2, 2, 52).detach(), 1).requires_grad_();
  const Tensor logq = tg::log_softmax(uniform64({3, 4}, -2, 2, 53).detach(), 1).requires_grad_();
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean}) {
    INFO("reduction " << F::reduction_name(r));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) { return F::kl_div(v[0], v[1], F::KLDivOptions().reduction(r)); }, {x, p}));
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& v) {
      return F::kl_div(v[0], v[1], F::KLDivOptions().reduction(r).log_target());
        },
        {x, logq}));
  }
}

// ---- edge values ------------------------------------------------------------------------------

TEST_CASE("loss: binary_cross_entropy clamps its logs at -100 and stays finite at 0 and 1", "[loss]") {
  const Tensor x = tg::tensor({0.0, 1.0, 0.0, 1.0}, tg::kFloat64).requires_grad_();
  const Tensor t = tg::tensor({0.0, 1.0, 1.0, 0.0}, tg::kFloat64);
  const Tensor loss = F::binary_cross_entropy(x, t, F::BinaryCrossEntropyOptions().reduction(Reduction::None));
  CHECK(loss.to_vector<double>() == std::vector<double>{0.0, 0.0, 100.0, 100.0});
  tg::sum(loss).backward();
  // PyTorch: (x - t) / max(x (1 - x), 1e-12).
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0.0, 0.0, -1e12, 1e12});
}

TEST_CASE("loss: binary_cross_entropy_with_logits is stable for large logits and exact at 0", "[loss]") {
  const Tensor x = tg::tensor({800.0, -800.0, 0.0}, tg::kFloat32).requires_grad_();
  const Tensor t = tg::tensor({0.0, 1.0, 1.0}, tg::kFloat32);
  const Tensor loss =
      F::binary_cross_entropy_with_logits(x, t, F::BinaryCrossEntropyWithLogitsOptions().reduction(Reduction::None));
  CHECK(loss.at<float>({0}) == Approx(800.0));
  CHECK(loss.at<float>({1}) == Approx(800.0));
  CHECK(loss.at<float>({2}) == Approx(std::log(2.0)));
  tg::sum(loss).backward();
  CHECK(x.grad().at<float>({0}) == Approx(1.0));  // sigmoid(x) - t
  CHECK(x.grad().at<float>({1}) == Approx(-1.0));
  CHECK(x.grad().at<float>({2}) == Approx(-0.5));
}

TEST_CASE("loss: kl_div treats zero target entries as contributing 0", "[loss]") {
  const Tensor x = tg::tensor({-1.0, -2.0}, tg::kFloat64).requires_grad_();
  const Tensor t = tg::tensor({0.0, 1.0}, tg::kFloat64).requires_grad_();
  const Tensor loss = F::kl_div(x, t, F::KLDivOptions().reduction(Reduction::Sum));
  CHECK(loss.item() == Approx(2.0));
  loss.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0.0, -1.0});
  CHECK(std::isfinite(t.grad().at<double>({0})));
}

TEST_CASE("loss: mse_loss keeps its two-argument form (mean)", "[loss]") {
  const Tensor a = tg::tensor({1.0, 2.0, 3.0}), b = tg::tensor({1.0, 0.0, 0.0});
  CHECK(F::mse_loss(a, b).item() == Approx(13.0 / 3.0));
  CHECK(F::mse_loss(a, b, Reduction::Sum).item() == Approx(13.0));
  CHECK(F::smooth_l1_loss(a, b, F::SmoothL1LossOptions().beta(0.0)).item() == Approx(5.0 / 3.0));  // = l1
}

TEST_CASE("loss: reduction names round-trip and unknown names are rejected", "[loss]") {
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean})
    CHECK(F::reduction_from_string(F::reduction_name(r)) == r);
  CHECK_THAT(error_of([] { F::reduction_from_string("avg"); }), Contains("unknown reduction \"avg\""));
}

// ---- bad input ----------------------------------------------------------------------------------

TEST_CASE("loss: bad shapes name the loss and both shapes", "[loss][bad_input]") {
  const Tensor a = tg::zeros({2, 3}), b = tg::zeros({3, 2});
  for (auto [name, f] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"mse_loss", [&] { F::mse_loss(a, b); }},
           {"l1_loss", [&] { F::l1_loss(a, b); }},
           {"smooth_l1_loss", [&] { F::smooth_l1_loss(a, b); }},
           {"binary_cross_entropy", [&] { F::binary_cross_entropy(a, b); }},
           {"binary_cross_entropy_with_logits", [&] { F::binary_cross_entropy_with_logits(a, b); }},
           {"kl_div", [&] { F::kl_div(a, b); }}}) {
    const std::string msg = error_of(f);
    CHECK_THAT(msg, Contains(name + ": input shape [2, 3] and target shape [3, 2] differ"));
  }
  CHECK_THAT(error_of([&] { F::cross_entropy(a, tg::zeros({3}, tg::kInt64)); }),
             Contains("cross_entropy: input of shape [2, 3] needs a target of shape [2], got [3]"));
  CHECK_THAT(error_of([&] {
               F::cross_entropy(a, tg::zeros({2, 4}));
             }),
             Contains("cross_entropy: a probability target must have the input's shape [2, 3], got [2, 4]"));
  CHECK_THAT(error_of([&] {
               F::nll_loss(tg::zeros({2, 3, 4}), tg::zeros({2, 3}, tg::kInt64));
             }),
             Contains("nll_loss: input of shape [2, 3, 4] needs a target of shape [2, 4], got [2, 3]"));
  CHECK_THAT(error_of([&] { F::cross_entropy(tg::scalar_tensor(1.0), tg::scalar_tensor(0, tg::kInt64)); }),
             Contains("cross_entropy: input must be [C], [N, C] or [N, C, d1, ...], got a 0-d tensor"));
  CHECK_THAT(error_of([&] {
               F::cross_entropy(a, tg::zeros({2}, tg::kInt64), F::CrossEntropyOptions().weight(tg::ones({4})));
             }),
             Contains("cross_entropy: weight must have shape [3] (one per class), got [4]"));
  CHECK_THAT(error_of([&] {
               F::binary_cross_entropy(a, a, F::BinaryCrossEntropyOptions().weight(tg::ones({2, 2, 3})));
             }),
             Contains("binary_cross_entropy: weight of shape [2, 2, 3] does not broadcast to the input shape [2, 3]"));
  CHECK_THAT(error_of([&] {
               F::binary_cross_entropy_with_logits(a, a,
                                                   F::BinaryCrossEntropyWithLogitsOptions().pos_weight(tg::ones({2})));
             }),
             Contains("binary_cross_entropy_with_logits"));
}

TEST_CASE("loss: a target of the wrong dtype is named", "[loss][bad_input]") {
  const Tensor x = tg::zeros({2, 3});
  CHECK_THAT(error_of([&] { F::cross_entropy(x, tg::zeros({2}, tg::kBool)); }),
             Contains("cross_entropy: target must be int64 class indices or floating probabilities, got bool"));
  CHECK_THAT(error_of([&] { F::nll_loss(x, tg::zeros({2})); }),
             Contains("nll_loss: target must hold int64 class indices, got float32"));
  CHECK_THAT(error_of([&] {
               F::binary_cross_entropy(x, tg::zeros({2, 3}, tg::kInt64));
             }),
             Contains("binary_cross_entropy: expected a floating-point tensor"));
  CHECK_THAT(error_of([&] {
               F::cross_entropy(tg::zeros({2, 3}, tg::kInt64), tg::zeros({2}, tg::kInt64));
             }),
             Contains("cross_entropy: expected a floating-point tensor (float32 or float64), got int64"));
}

TEST_CASE("loss: a class index out of range names the index and the number of classes", "[loss][bad_input]") {
  const Tensor x = tg::zeros({3, 4});
  CHECK_THAT(error_of([&] {
               F::cross_entropy(x, indices({0, 4, 1}, {3}));
             }),
             Contains("cross_entropy: target 4 is out of bounds for 4 classes (at target position 1"));
  CHECK_THAT(error_of([&] {
               F::cross_entropy(x, indices({0, -1, 1}, {3}));
             }),
             Contains("cross_entropy: target -1 is out of bounds for 4 classes"));
  CHECK_THAT(error_of([&] {
               F::nll_loss(x, indices({7, 0, 1}, {3}));
             }),
             Contains("nll_loss: target 7 is out of bounds for 4 classes (at target position 0"));
  // ignore_index itself may lie outside [0, C).
  CHECK_NOTHROW(F::cross_entropy(x, indices({0, -100, 1}, {3})));
}

TEST_CASE("loss: bad options name the value", "[loss][bad_input]") {
  CHECK_THAT(error_of([] { F::CrossEntropyOptions().label_smoothing(-0.1); }),
             Contains("cross_entropy: label_smoothing must be in [0, 1], got -0.1"));
  CHECK_THAT(error_of([] { F::CrossEntropyOptions().label_smoothing(1.5); }),
             Contains("label_smoothing must be in [0, 1], got 1.5"));
  CHECK_THAT(error_of([] { F::SmoothL1LossOptions().beta(-1); }),
             Contains("smooth_l1_loss: beta must be non-negative, got -1"));
  CHECK_THAT(error_of([] { F::CrossEntropyOptions().reduction(Reduction::BatchMean); }),
             Contains("cross_entropy: reduction \"batchmean\" is only defined for kl_div"));
  CHECK_THAT(error_of([] { F::NLLLossOptions().reduction(Reduction::BatchMean); }), Contains("nll_loss: reduction"));
  CHECK_THAT(error_of([] { F::mse_loss(tg::zeros({2}), tg::zeros({2}), Reduction::BatchMean); }),
             Contains("mse_loss: reduction \"batchmean\" is only defined for kl_div"));
  CHECK_THAT(error_of([] { F::l1_loss(tg::zeros({2}), tg::zeros({2}), Reduction::BatchMean); }), Contains("l1_loss"));
  CHECK_THAT(error_of([] { F::BinaryCrossEntropyOptions().reduction(Reduction::BatchMean); }),
             Contains("binary_cross_entropy: reduction"));
  CHECK_THAT(error_of([] {
               F::cross_entropy(tg::zeros({2, 3}), tg::zeros({2, 3}), F::CrossEntropyOptions().ignore_index(1));
             }),
             Contains("cross_entropy: ignore_index (1) is not supported for a probability target"));
  const Tensor w = tg::ones({3}).requires_grad_();
  CHECK_THAT(error_of([&] {
               F::cross_entropy(tg::zeros({2, 3}), tg::zeros({2}, tg::kInt64), F::CrossEntropyOptions().weight(w));
             }),
             Contains("cross_entropy: the gradient with respect to weight is not implemented"));
}

TEST_CASE("loss: binary_cross_entropy rejects inputs outside (0, 1) naming the value", "[loss][bad_input]") {
  CHECK_THAT(error_of([] {
               F::binary_cross_entropy(tg::tensor({0.5, 1.5}), tg::tensor({1.0, 0.0}));
             }),
             Contains("binary_cross_entropy: all elements of input should be between 0 and 1, got 1.5 at element 1"));
}
