#pragma once
/// A hook run when a leaf's gradient has been accumulated (PyTorch's
/// `Tensor.register_post_accumulate_grad_hook`): after backward has added a gradient into
/// `leaf.grad()`, hook(leaf) runs, with `leaf.grad()` holding the sum so far. It runs on the
/// thread of that backward, outside the leaf's lock, with grad mode off; once per backward that
/// reaches the leaf (a leaf used twice in one graph gets one call, with the summed gradient).
///
/// The engine accumulates a leaf as soon as every node of the graph that feeds it has run, not
/// at the end of backward, so the hooks of the last layers fire first while the first layers'
/// backward is still to come. DistributedDataParallel starts each bucket's allreduce from here.
///
///   auto handle = tg::autograd::register_post_accumulate_grad_hook(w, [](const tg::Tensor& p) {
///     std::cout << p.grad().norm().item<double>() << "\n";
///   });
///   loss.backward();   // prints once w.grad() is final for this backward
///   handle.remove();
#include <cstdint>
#include <functional>
#include <memory>

#include "tapegrad/core/tensor.h"

namespace tg::autograd {

using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

/// What register_post_accumulate_grad_hook returns: remove() unregisters the hook (idempotent).
/// Dropping the handle keeps the hook registered, as in PyTorch.
class HookHandle {
 public:
  HookHandle() = default;
  void remove();
  /// False once removed, or when the leaf has died.
  bool active() const;

 private:
  friend HookHandle register_post_accumulate_grad_hook(const Tensor&, PostAccumulateGradHook);
  HookHandle(std::weak_ptr<TensorImpl> leaf, std::uint64_t id) : leaf_(std::move(leaf)), id_(id) {}
  std::weak_ptr<TensorImpl> leaf_;
  std::uint64_t id_ = 0;
};

/// Registers hook on a leaf that requires grad (anything else is a tg::Error naming the
/// tensor's shape). Hooks of one leaf run in registration order. Hooks live as long as the leaf
/// or until removed.
HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);

}  // namespace tg::autograd
