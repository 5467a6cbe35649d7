// The tape and its replay.
//
// Recording: an op that needs grad makes a Node with an edge per input and a sequence number
// from the calling thread's counter, raised above its inputs' numbers; so every node's number
// is larger than those of the nodes it depends on, and recording order is a topological order.
// Each thread numbers its own nodes: two threads training two models never touch each other's
// tape.
//
// Replay (backward): collect the nodes reachable from the root with an explicit stack, sort
// them by sequence number, newest first, and run each once all of its consumers have run,
// which that order guarantees. Nothing recurses, so a chain of any length runs; destruction of
// a long chain is likewise iterative (Node::~Node).
//
// Threads: every piece of a backward's scratch (which nodes it reached, their position in its
// order, the gradients waiting for each) lives in that call's own tables, never on the nodes,
// because graphs built on several threads share nodes (a leaf's AccumulateGrad, made once under
// the leaf's lock). Concurrent backward calls of separate graphs that share leaves therefore
// only meet in AccumulateGrad::apply, which adds into .grad under the same lock.
#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {
thread_local bool tl_grad_enabled = true;
thread_local std::uint64_t tl_sequence = 0;
std::atomic<std::int64_t> g_live_nodes{0};

// 64 locks for every leaf's autograd state: a leaf costs no mutex of its own, and two leaves
// share a lock only for the few instructions each holds it.
constexpr std::size_t kLeafLocks = 64;
struct alignas(64) PaddedMutex {
  std::mutex m;
};
std::array<PaddedMutex, kLeafLocks> g_leaf_locks;
}  // namespace

namespace detail {
bool any_post_accumulate_hooks();  // autograd/hooks.cpp
void run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf);

std::mutex& leaf_mutex(const TensorImpl* leaf) {
  const auto bits = reinterpret_cast<std::uintptr_t>(leaf);
  return g_leaf_locks[((bits >> 4) ^ (bits >> 10)) % kLeafLocks].m;
}
}  // namespace detail

bool is_grad_enabled() { return tl_grad_enabled; }
void set_grad_enabled(bool enabled) { tl_grad_enabled = enabled; }

namespace autograd {

std::int64_t live_node_count() { return g_live_nodes.load(std::memory_order_relaxed); }

// ---- Node ----------------------------------------------------------------------------------

Node::Node(const char* name, std::vector<Edge> edges) : name_(name), edges_(std::move(edges)) {
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
}

void Node::take_edges_into(std::vector<std::shared_ptr<Node>>& stack) {
  for (Edge& e : edges_) {
    if (e.node) stack.push_back(std::move(e.node));
  }
  edges_.clear();
}

// Destroying the last tensor of a long chain would destroy node after node recursively; take
// the edges out instead and release the nodes that this one solely owned in a loop.
Node::~Node() {
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  std::vector<std::shared_ptr<Node>> stack;
  take_edges_into(stack);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n.use_count() == 1) n->take_edges_into(stack);
  }
}

std::string Node::display_name() const {
  // "log_softmax" -> "LogSoftmaxBackward"; "add_" -> "AddBackward".
  std::string out;
  bool upper = true;
  for (const char* p = name_; *p; ++p) {
    if (*p == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(*p))) : *p;
    upper = false;
  }
  return out + "Backward";
}

bool BackwardContext::needs(std::size_t input) const { return node_.next_edges()[input].node != nullptr; }

const Tensor& BackwardContext::unpack(const SavedTensor& saved) const {
  const Tensor& t = saved.data_;
  if (t.version() != saved.version_) {
    const char* writer = t.impl()->storage->last_writer();
    fail(
        "backward of {}: a tensor it saved (shape {}) was modified by the in-place op '{}' after it was saved "
        "(version {}, expected {}); clone() it before modifying it in place",
        node_.display_name(), t.shape(), writer ? writer : "?", t.version(), saved.version_);
  }
  return t;
}

// ---- recording -------------------------------------------------------------------------------

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node("accumulate_grad", {}), leaf_(std::move(leaf)) {
  set_sequence_nr(0);  // a leaf's accumulator runs after everything that feeds it
}

void AccumulateGrad::apply(BackwardContext& ctx) {
  const Tensor& g = ctx.grad();
  {
    // Several threads' backward calls may reach this leaf at once; they add one at a time.
    std::lock_guard<std::mutex> lock(detail::leaf_mutex(leaf_.get()));
    if (!leaf_->grad) {
      // Keep the incoming gradient when nobody else holds it; otherwise own a copy.
      const bool sole = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 && g.is_contiguous() &&
                        !g.impl()->is_view;
      leaf_->grad = sole ? g.impl_ptr() : detail::contiguous_copy(g).impl_ptr();
    } else {
      Tensor(leaf_->grad).add_(g);
    }
  }
  if (detail::any_post_accumulate_hooks()) [[unlikely]]
    detail::run_post_accumulate_hooks(leaf_);
}

Edge edge_for(const Tensor& input) {
  TensorImpl* t = input.impl();
  if (t->view_base) [[unlikely]]
    detail::refresh_view_grad_fn(t);
  Edge e;
  e.shape = t->shape;
  e.dtype = t->dtype;
  if (!t->requires_grad) return e;
  if (t->grad_fn) {
    e.node = t->grad_fn;
  } else {
    // Threads running forward on one model reach the same leaf at once: read and make its
    // accumulator under its lock, so that a leaf never has two (its gradients would be split).
    std::lock_guard<std::mutex> lock(detail::leaf_mutex(t));
    e.node = t->grad_accumulator.lock();
    if (!e.node) {
      e.node = std::make_shared<AccumulateGrad>(input.impl_ptr());
      t->grad_accumulator = e.node;
    }
  }
  return e;
}

std::uint64_t next_sequence_nr(const std::vector<Edge>& edges) {
  std::uint64_t seq = ++tl_sequence;
  for (const Edge& e : edges) {
    if (e.node && e.node->sequence_nr() >= seq) seq = e.node->sequence_nr() + 1;
  }
  tl_sequence = seq;
  return seq;
}

void attach(const Tensor& out, std::shared_ptr<Node> node) {
  TensorImpl* t = out.impl();
  if (!is_floating(t->dtype)) return;  // integer and bool results carry no gradient
  t->requires_grad = true;
  t->grad_fn = std::move(node);
}

// ---- replay ----------------------------------------------------------------------------------

namespace {

/// One backward call's numbering of the nodes it reaches: Node* -> position in its order.
/// Open addressing over a power-of-two table at most half full, so a lookup is a hash and a
/// probe or two. It lives on the calling thread's stack and dies with the call; graphs of up
/// to 32 nodes need no heap memory for it.
class NodeIndex {
 public:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  /// Adds n (with no position yet); false when it was there already.
  bool insert(const Node* n) {
    if (2 * (size_ + 1) > capacity_) grow();
    Slot& s = probe(n);
    if (s.node == n) return false;
    s = {n, kNone};
    ++size_;
    return true;
  }
  void set(const Node* n, std::uint32_t pos) { probe(n).pos = pos; }
  std::uint32_t at(const Node* n) const { return const_cast<NodeIndex*>(this)->probe(n).pos; }

 private:
  struct Slot {
    const Node* node = nullptr;
    std::uint32_t pos = kNone;
  };
  static constexpr std::size_t kInline = 64;

  Slot& probe(const Node* n) {
    std::size_t i = (reinterpret_cast<std::uintptr_t>(n) * 0x9E3779B97F4A7C15ull) >> shift_;
    while (slots_[i].node != nullptr && slots_[i].node != n) i = (i + 1) & (capacity_ - 1);
    return slots_[i];
  }
  void grow() {
    std::vector<Slot> old(slots_, slots_ + capacity_);
    heap_.assign(capacity_ * 2, Slot{});
    slots_ = heap_.data();
    capacity_ *= 2;
    --shift_;
    for (const Slot& s : old) {
      if (s.node != nullptr) probe(s.node) = s;
    }
  }
  Slot inline_[kInline];
  std::vector<Slot> heap_;
  Slot* slots_ = inline_;
  std::size_t capacity_ = kInline;
  std::size_t size_ = 0;
  unsigned shift_ = 64 - 6;  // log2(kInline) bits of the hash
};
static_assert(sizeof(void*) == 8, "NodeIndex hashes 64-bit addresses");

/// A reached node and the gradient waiting for it. owned: the engine allocated that gradient
/// itself, so nothing else refers to it and it may be added into in place.
struct Pending {
  Node* node = nullptr;
  Tensor grad;
  bool owned = false;
  std::uint32_t consumers = 0;  // for a leaf's accumulator: reached nodes with an edge to it
};

}  // namespace

class Engine {
 public:
  static void run(const Tensor& root, const Tensor& gradient, bool retain_graph);
};

void Engine::run(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  TG_CHECK(root.requires_grad(),
           "backward: the tensor (shape {}) does not require grad and has no grad_fn; call requires_grad_() on "
           "the inputs before computing it",
           root.shape());
  Tensor grad = gradient;
  if (!grad.defined()) {
    TG_CHECK(root.numel() == 1,
             "backward: grad can be implicitly created only for scalar outputs, got shape {}; pass a gradient of "
             "that shape",
             root.shape());
    grad = detail::new_empty(root.shape(), root.dtype());
    grad.fill_(1.0);
  } else {
    TG_CHECK(same_values(grad.shape(), root.shape()),
             "backward: the gradient's shape {} does not match the tensor's shape {}", grad.shape(), root.shape());
    grad = detail::convert(grad, root.dtype());
  }

  NoGradGuard no_grad;  // backward itself is not recorded
  std::shared_ptr<Node> root_node = root.grad_fn();
  if (!root_node) root_node = edge_for(root).node;  // a leaf: its accumulator

  // Collect the reachable part of the tape, then number it newest first. pending[i]: the i-th
  // node and the gradient waiting for it; all of it goes with the call, also on an error.
  NodeIndex index;
  std::vector<Pending> pending;
  std::vector<Node*> stack{root_node.get()};
  index.insert(root_node.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    pending.push_back({n, Tensor(), false});
    for (const Edge& e : n->edges_) {
      if (e.node && index.insert(e.node.get())) stack.push_back(e.node.get());
    }
  }
  std::sort(pending.begin(), pending.end(),
            [](const Pending& a, const Pending& b) { return a.node->sequence_nr_ > b.node->sequence_nr_; });
  for (std::uint32_t i = 0; i < pending.size(); ++i) index.set(pending[i].node, i);
  // A leaf's accumulator (sequence number 0, so last in the order) runs as soon as the last
  // node with an edge to it has run: its gradient is final then, and its post-accumulate hooks
  // fire while the rest of backward still runs (what lets DistributedDataParallel overlap).
  // Only the time of the accumulation moves: the additions, and their order, are the same.
  for (const Pending& p : pending) {
    for (const Edge& e : p.node->edges_) {
      if (e.node && e.node->sequence_nr_ == 0) ++pending[index.at(e.node.get())].consumers;
    }
  }

  pending[index.at(root_node.get())].grad = std::move(grad);
  std::vector<Tensor> input_grads;
  std::vector<BackwardContext::Region> input_regions;
  std::vector<Pending*> ready_leaves;
  for (Pending& current : pending) {
    Node* n = current.node;
    if (!current.grad.defined()) continue;
    TG_CHECK(!n->released(),
             "backward: trying to backward through the graph a second time (the saved tensors of {} were freed "
             "after the first backward); pass retain_graph=true to the first backward",
             n->display_name());
    input_grads.assign(n->edges_.size(), Tensor());
    input_regions.assign(n->edges_.size(), nullptr);
    {
      BackwardContext ctx(*n, std::move(current.grad), input_grads, input_regions);
      current.grad = Tensor();
      current.owned = false;
      n->apply(ctx);
    }
    for (std::size_t i = 0; i < n->edges_.size(); ++i) {
      const Edge& e = n->edges_[i];
      Tensor& g = input_grads[i];
      if (!e.node) continue;
      Pending& target = pending[index.at(e.node.get())];
      if (e.node->sequence_nr_ == 0) ready_leaves.push_back(&target);
      if (!g.defined()) continue;
      Tensor& buf = target.grad;
      if (input_regions[i]) {
        // A region gradient: added in place into a buffer the engine owns.
        if (!target.owned) {
          Tensor fresh = zeros(e.shape, e.dtype);
          if (buf.defined()) fresh.copy_(buf);
          buf = std::move(fresh);
          target.owned = true;
        }
        Tensor view = input_regions[i](buf);
        TG_CHECK(same_values(view.shape(), g.shape()),
                 "backward: {} gave a region gradient of shape {} for a region of shape {}", n->display_name(),
                 g.shape(), view.shape());
        view.add_(g);
        continue;
      }
      // The one place where broadcasting is undone and dtypes are matched.
      if (!same_values(g.shape(), e.shape)) g = sum_to_size(g, e.shape);
      if (g.dtype() != e.dtype) g = detail::convert(g, e.dtype);
      if (!buf.defined()) {
        buf = std::move(g);
        target.owned = false;
      } else if (target.owned) {
        buf.add_(g);
      } else {
        buf = add(buf, g);
        target.owned = true;
      }
    }
    if (!retain_graph) n->release();
    for (Pending* leaf : ready_leaves) {
      if (--leaf->consumers != 0 || !leaf->grad.defined()) continue;
      BackwardContext ctx(*leaf->node, std::move(leaf->grad), input_grads, input_regions);
      leaf->grad = Tensor();
      leaf->node->apply(ctx);  // an accumulator has no inputs: nothing to hand on
    }
    ready_leaves.clear();
  }
}

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  Engine::run(root, gradient, retain_graph);
}

}  // namespace autograd
}  // namespace tg
