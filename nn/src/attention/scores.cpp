// The score functions. Shapes: q [..., Tq, dq], k [..., Tk, dk] -> [..., Tq, Tk]; every product
// is one batched matmul over the leading dims.
//
//   dot         q k^T
//   scaled_dot  (q / sqrt(d)) k^T          (scaled before the product, as PyTorch's attention)
//   general     (q W) k^T                  W [dq, dk]
//   additive    tanh(a[..., :, None, :] + b[..., None, :, :]) v,  a = W_q q [..., Tq, h],
//               b = W_k k [..., Tk, h]: tanh of a sum does not factor into products, so the
//               [..., Tq, Tk, h] tensor is formed (exactness first)
//   cosine      (q / max(|q|, eps)) (k / max(|k|, eps))^T / temperature; max(|x|, eps) is
//               computed as sqrt(max(|x|^2, eps^2)), whose gradient is 0 (not NaN) at x = 0
#include "tapegrad/nn/attention/scores.h"

#include <cmath>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {

void Score::check_qk(const Tensor& q, const Tensor& k, bool same_dim) const {
  const std::string& who = type_name();
  TG_CHECK(q.dim() >= 2 && k.dim() == q.dim(),
           "{}: q [..., Tq, dq] and k [..., Tk, dk] need the same rank, at least 2, got shapes {} and {}", who,
           q.shape(), k.shape());
  TG_CHECK(is_floating(q.dtype()) && q.dtype() == k.dtype(), "{}: q and k must be floating of one dtype, got {} and {}",
           who, dtype_name(q.dtype()), dtype_name(k.dtype()));
  for (std::int64_t d = 0; d + 2 < q.dim(); ++d)
    TG_CHECK(q.size(d) == k.size(d), "{}: q and k have different batch dims, shapes {} and {}", who, q.shape(),
             k.shape());
  if (same_dim)
    TG_CHECK(q.size(-1) == k.size(-1),
             "{} (\"{}\"): the query dim dq = {} and the key dim dk = {} must be equal (q {}, k {}); use \"general\" "
             "or \"additive\" for different sizes",
             who, name(), q.size(-1), k.size(-1), q.shape(), k.shape());
}

Tensor DotScore::score(const Tensor& q, const Tensor& k) {
  check_qk(q, k, true);
  return matmul(q, k.transpose(-2, -1));
}

Tensor ScaledDotScore::score(const Tensor& q, const Tensor& k) {
  check_qk(q, k, true);
  return matmul(div(q, std::sqrt(static_cast<double>(q.size(-1)))), k.transpose(-2, -1));
}

GeneralScore::GeneralScore(std::int64_t query_dim, std::int64_t key_dim)
    : CloneableScore("GeneralScore"), dq_(query_dim), dk_(key_dim) {
  TG_CHECK(dq_ > 0 && dk_ > 0, "GeneralScore: query_dim and key_dim must be positive, got {} and {}", dq_, dk_);
  reset();
}

void GeneralScore::reset() {
  weight = register_parameter("weight", empty({dq_, dk_}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(dk_));
  init::uniform_(weight, -bound, bound);
}

Tensor GeneralScore::score(const Tensor& q, const Tensor& k) {
  check_qk(q, k, false);
  TG_CHECK(q.size(-1) == dq_ && k.size(-1) == dk_,
           "GeneralScore (\"general\"): expected query dim dq = {} and key dim dk = {}, got dq = {} and dk = {}", dq_,
           dk_, q.size(-1), k.size(-1));
  return matmul(matmul(q, weight), k.transpose(-2, -1));
}

AdditiveScore::AdditiveScore(AdditiveScoreOptions options) : CloneableScore("AdditiveScore"), options_(options) {
  TG_CHECK(options_.query_dim() > 0 && options_.key_dim() > 0 && options_.hidden() > 0,
           "AdditiveScore: query_dim, key_dim and hidden must be positive, got {}, {} and {}", options_.query_dim(),
           options_.key_dim(), options_.hidden());
  reset();
}

void AdditiveScore::reset() {
  const auto& o = options_;
  W_q = register_module("W_q", std::make_shared<Linear>(LinearOptions(o.query_dim(), o.hidden()).bias(o.bias())));
  W_k = register_module("W_k", std::make_shared<Linear>(LinearOptions(o.key_dim(), o.hidden()).bias(false)));
  v = register_module("v", std::make_shared<Linear>(LinearOptions(o.hidden(), 1).bias(false)));
}

Tensor AdditiveScore::score(const Tensor& q, const Tensor& k) {
  check_qk(q, k, false);
  TG_CHECK(q.size(-1) == options_.query_dim() && k.size(-1) == options_.key_dim(),
           "AdditiveScore (\"additive\"): expected query dim dq = {} and key dim dk = {}, got dq = {} and dk = {}",
           options_.query_dim(), options_.key_dim(), q.size(-1), k.size(-1));
  const Tensor a = W_q->forward(q).unsqueeze(-2);  // [..., Tq, 1, h]
  const Tensor b = W_k->forward(k).unsqueeze(-3);  // [..., 1, Tk, h]
  return v->forward(tanh(a + b)).squeeze(-1);      // [..., Tq, Tk]
}

CosineScore::CosineScore(CosineScoreOptions options) : CloneableScore("CosineScore"), options_(options) {
  TG_CHECK(options_.temperature() > 0, "CosineScore: temperature must be positive, got {}", options_.temperature());
  TG_CHECK(options_.eps() > 0, "CosineScore: eps must be positive, got {}", options_.eps());
}

Tensor CosineScore::score(const Tensor& q, const Tensor& k) {
  check_qk(q, k, true);
  const double eps2 = options_.eps() * options_.eps();
  auto unit = [&](const Tensor& x) { return div(x, sqrt(clamp(sum(mul(x, x), {-1}, true), eps2))); };
  return div(matmul(unit(q), unit(k).transpose(-2, -1)), options_.temperature());
}

std::shared_ptr<Score> make_score(const std::string& name, std::int64_t query_dim, std::int64_t key_dim) {
  if (name == "dot") return std::make_shared<DotScore>();
  if (name == "scaled_dot") return std::make_shared<ScaledDotScore>();
  if (name == "general") return std::make_shared<GeneralScore>(query_dim, key_dim);
  if (name == "additive") return std::make_shared<AdditiveScore>(query_dim, key_dim);
  if (name == "cosine") return std::make_shared<CosineScore>();
  fail("make_score: unknown score function \"{}\"; the names are dot, scaled_dot, general, additive, cosine", name);
}

std::shared_ptr<Score> ScoreSpec::make(std::int64_t query_dim, std::int64_t key_dim) const {
  if (object_) return std::static_pointer_cast<Score>(object_->clone());
  return make_score(name_, query_dim, key_dim);
}

}  // namespace tg::nn
