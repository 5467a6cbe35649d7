// Post-accumulate-grad hooks, kept beside the leaves rather than in them: a table from leaf to
// its hooks, consulted by AccumulateGrad::apply only while some hook is registered anywhere
// (one relaxed atomic load otherwise), so training without hooks pays nothing.
//
// A leaf that dies leaves a stale row keyed by its address; a row is trusted only when its weak
// pointer still locks to the leaf asking (a new tensor at the same address finds it expired),
// and registering sweeps the expired rows.
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/grad_hooks.h"

namespace tg::autograd {
namespace {

struct LeafHooks {
  std::weak_ptr<TensorImpl> leaf;
  std::vector<std::pair<std::uint64_t, PostAccumulateGradHook>> hooks;
};

std::mutex g_mutex;
std::unordered_map<const TensorImpl*, LeafHooks> g_table;
std::atomic<std::size_t> g_count{0};  // hooks registered, over all leaves
std::uint64_t g_next_id = 1;

}  // namespace
}  // namespace tg::autograd

namespace tg::detail {

bool any_post_accumulate_hooks() { return autograd::g_count.load(std::memory_order_acquire) != 0; }

void run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  std::vector<autograd::PostAccumulateGradHook> todo;
  {
    std::lock_guard<std::mutex> lock(autograd::g_mutex);
    auto it = autograd::g_table.find(leaf.get());
    if (it == autograd::g_table.end() || it->second.leaf.lock() != leaf) return;
    todo.reserve(it->second.hooks.size());
    for (const auto& h : it->second.hooks) todo.push_back(h.second);
  }
  // Outside the lock: a hook may register or remove hooks, or run collectives.
  const Tensor t(leaf);
  for (const auto& hook : todo) hook(t);
}

}  // namespace tg::detail

namespace tg::autograd {

HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  TG_CHECK(leaf.defined(), "register_post_accumulate_grad_hook: the tensor is undefined");
  TG_CHECK(leaf.requires_grad() && leaf.is_leaf(),
           "register_post_accumulate_grad_hook: expects a leaf that requires grad, got a tensor of shape {} with "
           "requires_grad={} and is_leaf={}",
           leaf.shape(), leaf.requires_grad(), leaf.is_leaf());
  TG_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook: the hook is empty");
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto it = g_table.begin(); it != g_table.end();) {
    if (it->second.leaf.expired()) {
      g_count.fetch_sub(it->second.hooks.size(), std::memory_order_release);
      it = g_table.erase(it);
    } else {
      ++it;
    }
  }
  LeafHooks& row = g_table[leaf.impl()];
  row.leaf = leaf.impl_ptr();
  const std::uint64_t id = g_next_id++;
  row.hooks.emplace_back(id, std::move(hook));
  g_count.fetch_add(1, std::memory_order_release);
  return HookHandle(leaf.impl_ptr(), id);
}

void HookHandle::remove() {
  const std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  leaf_.reset();
  if (!leaf) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_table.find(leaf.get());
  if (it == g_table.end()) return;
  auto& hooks = it->second.hooks;
  for (auto h = hooks.begin(); h != hooks.end(); ++h) {
    if (h->first == id_) {
      hooks.erase(h);
      g_count.fetch_sub(1, std::memory_order_release);
      break;
    }
  }
  if (hooks.empty()) g_table.erase(it);
}

bool HookHandle::active() const {
  const std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_table.find(leaf.get());
  if (it == g_table.end()) return false;
  for (const auto& h : it->second.hooks) {
    if (h.first == id_) return true;
  }
  return false;
}

}  // namespace tg::autograd
