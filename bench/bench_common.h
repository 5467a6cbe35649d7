#pragma once
// What the workload files of tapegrad_bench share: the step type, the sink that keeps a step's
// result alive, leaf factories and the classifier training step of the reference.
#include <functional>
#include <memory>

#include "tapegrad/tapegrad.h"

namespace tg_bench {

using Step = std::function<void()>;

/// Written once per step with one value of the step's result, so the work cannot be elided.
inline volatile float g_sink = 0.0f;

inline void consume(const tg::Tensor& t) { g_sink = t.data<float>()[0]; }

/// A leaf of standard normal samples that requires grad.
inline tg::Tensor randn_leaf(tg::IntArrayRef shape) {
  tg::Tensor t = tg::randn(shape);
  t.requires_grad_();
  return t;
}

/// One training step of a classifier, as the reference writes it: zero_grad (in place, as torch
/// 1.13's Optimizer.zero_grad() does by default), cross_entropy, backward, the optimizer's step.
/// The optimizer is built over the model's parameters from `options`.
template <typename Opt, typename Options>
Step make_classifier_step(std::shared_ptr<tg::nn::Module> model, tg::Tensor x, tg::Tensor y, Options options) {
  struct State {
    std::shared_ptr<tg::nn::Module> model;
    Opt opt;
    tg::Tensor x, y;
  };
  auto s = std::make_shared<State>(State{model, Opt(model->parameters(), options), x, y});
  return [s] {
    s->opt.zero_grad(/*set_to_none=*/false);
    tg::Tensor loss = tg::nn::functional::cross_entropy(s->model->forward(s->x), s->y);
    loss.backward();
    s->opt.step();
    consume(loss);
  };
}

// bench/workloads_models.cpp: the reference's transformer, cnn_cbam and long_attention, and the
// machine's sgemm rate.
Step make_transformer();
Step make_cnn_cbam();
Step make_long_attention();
Step make_long_attention_composed();
Step make_sgemm_peak();
/// A raw cblas_sgemm of two n x n matrices into a preallocated output, with OpenBLAS's own
/// threading at --threads threads (restored when the step is destroyed): the machine's rate.
Step make_raw_sgemm(int n);

}  // namespace tg_bench
