#pragma once
/// Attention score functions: q [..., Tq, dq] and k [..., Tk, dk] (the same leading batch dims,
/// e.g. [B] or [B, H]) -> scores [..., Tq, Tk]. One per name, usable alone and by every module:
///
///   "dot"         q . k                                  dq == dk
///   "scaled_dot"  q . k / sqrt(d)  (d = dq, one head's)  dq == dk   (Transformer)
///   "general"     q W k,  W [dq, dk]                               (Luong, "general")
///   "additive"    v . tanh(W_q q + W_k k),  hidden size h          (Bahdanau, "concat")
///   "cosine"      cos(q, k) / temperature                 dq == dk
///
/// cosine normalises each vector by max(|x|, eps), as PyTorch 1.13's F.cosine_similarity.
/// additive is computed exactly, through a [..., Tq, Tk, h] tensor (tanh does not factor).
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

/// The base of score functions: a Module (learned ones register their weights) whose
/// score(q, k) maps [..., Tq, dq] and [..., Tk, dk] to [..., Tq, Tk].
class Score : public Module {
 public:
  using Module::Module;
  virtual Tensor score(const Tensor& q, const Tensor& k) = 0;
  /// The name this score goes by ("dot", "scaled_dot", "general", "additive", "cosine").
  virtual std::string name() const = 0;
  Tensor operator()(const Tensor& q, const Tensor& k) { return score(q, k); }
  using Module::operator();

 protected:
  /// Ranks, dtypes and batch dims of q and k; with same_dim, dq == dk (the error names both).
  void check_qk(const Tensor& q, const Tensor& k, bool same_dim) const;
};

/// Base of the concrete scores: gives them clone() (as Cloneable does for modules).
template <typename Derived>
class CloneableScore : public Score {
 public:
  using Score::Score;
  std::shared_ptr<Module> clone() const override { return clone_as(static_cast<const Derived&>(*this)); }
};

/// q . k: [..., Tq, d] x [..., Tk, d] -> [..., Tq, Tk].
class DotScore : public CloneableScore<DotScore> {
 public:
  DotScore() : CloneableScore("DotScore") {}
  Tensor score(const Tensor& q, const Tensor& k) override;
  std::string name() const override { return "dot"; }
};

/// q . k / sqrt(d), d = the last dim of q (one head's size in multi-head attention).
class ScaledDotScore : public CloneableScore<ScaledDotScore> {
 public:
  ScaledDotScore() : CloneableScore("ScaledDotScore") {}
  Tensor score(const Tensor& q, const Tensor& k) override;
  std::string name() const override { return "scaled_dot"; }
};

/// q W k^T with a learned weight [dq, dk] (key "weight"), initialised as Linear(dk, dq)'s
/// weight: uniform(-1/sqrt(dk), 1/sqrt(dk)).
class GeneralScore : public CloneableScore<GeneralScore> {
 public:
  GeneralScore(std::int64_t query_dim, std::int64_t key_dim);
  void reset() override;
  Tensor score(const Tensor& q, const Tensor& k) override;
  std::string name() const override { return "general"; }
  Tensor weight;  // [dq, dk]

 private:
  std::int64_t dq_, dk_;
};

struct AdditiveScoreOptions : public ChainedOptions<AdditiveScoreOptions> {
  AdditiveScoreOptions(std::int64_t query_dim, std::int64_t key_dim)
      : query_dim_(query_dim), key_dim_(key_dim), hidden_(key_dim) {}
  /// The size h of the tanh layer (default: key_dim).
  AdditiveScoreOptions& hidden(std::int64_t h) { return assign(hidden_, h); }
  /// A bias inside the tanh (on W_q; a second one on W_k would be redundant, and one on v
  /// would shift every score of a row alike, which softmax ignores).
  AdditiveScoreOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t query_dim() const { return query_dim_; }
  std::int64_t key_dim() const { return key_dim_; }
  std::int64_t hidden() const { return hidden_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t query_dim_, key_dim_, hidden_;
  bool bias_ = true;
};

/// v . tanh(W_q q + W_k k): children W_q = Linear(dq, h), W_k = Linear(dk, h, no bias),
/// v = Linear(h, 1, no bias), so the keys are W_q.weight, W_q.bias, W_k.weight, v.weight.
class AdditiveScore : public CloneableScore<AdditiveScore> {
 public:
  explicit AdditiveScore(AdditiveScoreOptions options);
  AdditiveScore(std::int64_t query_dim, std::int64_t key_dim)
      : AdditiveScore(AdditiveScoreOptions(query_dim, key_dim)) {}
  void reset() override;
  Tensor score(const Tensor& q, const Tensor& k) override;
  std::string name() const override { return "additive"; }
  const AdditiveScoreOptions& options() const { return options_; }
  std::shared_ptr<Linear> W_q, W_k, v;  // NOLINT: the paper's names are the state-dict keys

 private:
  AdditiveScoreOptions options_;
};

struct CosineScoreOptions : public ChainedOptions<CosineScoreOptions> {
  /// Scores are cos(q, k) / temperature (> 0); a small temperature sharpens the softmax.
  CosineScoreOptions& temperature(double t) { return assign(temperature_, t); }
  /// Each vector is divided by max(|x|, eps), as F.cosine_similarity.
  CosineScoreOptions& eps(double e) { return assign(eps_, e); }
  double temperature() const { return temperature_; }
  double eps() const { return eps_; }

 private:
  double temperature_ = 1.0, eps_ = 1e-8;
};

/// cos(q, k) / temperature.
class CosineScore : public CloneableScore<CosineScore> {
 public:
  explicit CosineScore(CosineScoreOptions options = {});
  Tensor score(const Tensor& q, const Tensor& k) override;
  std::string name() const override { return "cosine"; }
  const CosineScoreOptions& options() const { return options_; }

 private:
  CosineScoreOptions options_;
};

/// The score called name for queries of size query_dim and keys of size key_dim (used by the
/// learned ones; additive's hidden size is key_dim). Unknown names are an error listing the names.
std::shared_ptr<Score> make_score(const std::string& name, std::int64_t query_dim, std::int64_t key_dim);

/// What a module is given as its score: a name, or a Score object. The module owns a clone of
/// the object (as TransformerEncoder clones its layer), reachable as its `score` member.
class ScoreSpec {
 public:
  ScoreSpec(const char* name) : name_(name) {}             // NOLINT: implicit, so that .score("dot") reads well
  ScoreSpec(std::string name) : name_(std::move(name)) {}  // NOLINT
  template <typename S, typename = std::enable_if_t<std::is_base_of_v<Score, S>>>
  ScoreSpec(std::shared_ptr<S> score) : object_(std::move(score)) {  // NOLINT
    TG_CHECK(object_ != nullptr, "ScoreSpec: the score object is null");
    name_ = object_->name();
  }
  const std::string& name() const { return name_; }
  const std::shared_ptr<Score>& object() const { return object_; }
  /// A new score: make_score(name, query_dim, key_dim), or a clone of the object.
  std::shared_ptr<Score> make(std::int64_t query_dim, std::int64_t key_dim) const;

 private:
  std::string name_;
  std::shared_ptr<Score> object_;
};

}  // namespace tg::nn
