#pragma once
/// The tape. An op whose inputs require grad records a Node: its name, an edge to each
/// input's node, the tensors its backward needs, and the backward itself (a lambda written
/// next to the op's forward). Nodes are numbered in recording order, so the recording order
/// is a topological order and backward() is a reverse walk over the reachable nodes: no
/// recursion anywhere, however deep the graph. See docs/autograd.md.
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

/// Whether ops record on the tape, for the calling thread (on by default).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// RAII: no recording on this thread while it lives (restores the previous mode).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

namespace autograd {

class Node;

/// Where the gradient of one input goes: the node that made the input (or the leaf's
/// accumulator), and the input's shape and dtype, to which the gradient is reduced.
struct Edge {
  std::shared_ptr<Node> node;  // null when the input does not require grad
  DimVec shape;
  DType dtype = kFloat32;
};

/// A tensor kept for backward, with the storage version it had when saved. Outputs are
/// saved as detached aliases so that an output and its own node never own each other.
class SavedTensor {
 public:
  SavedTensor() = default;
  /// A differentiable view is kept as a plain alias, without its base: a node that saves a view
  /// of its own output must not own that output through the view.
  static SavedTensor input(const Tensor& t) { return SavedTensor(t.impl()->view_base ? t.detach() : t, t); }
  static SavedTensor output(const Tensor& t) { return SavedTensor(t.detach(), t); }
  bool defined() const { return data_.defined(); }

 private:
  friend class BackwardContext;
  SavedTensor(Tensor data, const Tensor& source) : data_(std::move(data)), version_(source.version()) {}
  Tensor data_;
  std::uint64_t version_ = 0;
};

/// What a backward lambda sees: the incoming gradient, which inputs need one, and a place
/// to put each. Gradients handed to set() may have the broadcast shape; the engine reduces
/// them to the input's shape and dtype in one place (sum_to_size).
class BackwardContext {
 public:
  /// A view of a tensor shaped like an input: the part of it a region gradient covers.
  using Region = std::function<Tensor(const Tensor& full)>;

  BackwardContext(const Node& node, Tensor grad, std::vector<Tensor>& out, std::vector<Region>& regions)
      : node_(node), grad_(std::move(grad)), out_(out), regions_(regions) {}
  const Tensor& grad() const { return grad_; }
  bool needs(std::size_t input) const;
  void set(std::size_t input, Tensor gradient) { out_[input] = std::move(gradient); }
  /// The gradient of input is zero except on region(full), which gradient fills (its shape is
  /// the region's). The engine adds it in place into the gradient it accumulates for that
  /// input instead of materialising a zero tensor per call: the backward of T selects of one
  /// tensor (an RNN's steps) costs O(T) slices, not T full-size additions.
  void set_region(std::size_t input, Region region, Tensor gradient) {
    out_[input] = std::move(gradient);
    regions_[input] = std::move(region);
  }
  /// The saved tensor, after checking that no in-place op changed it since it was saved.
  const Tensor& unpack(const SavedTensor& saved) const;

 private:
  const Node& node_;
  Tensor grad_;
  std::vector<Tensor>& out_;
  std::vector<Region>& regions_;
};

class Engine;

class Node {
 public:
  Node(const char* name, std::vector<Edge> edges);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// The op's name as recorded ("mul").
  const char* name() const { return name_; }
  /// PyTorch's style of grad_fn name ("MulBackward").
  std::string display_name() const;
  const std::vector<Edge>& next_edges() const { return edges_; }
  /// Position on the thread's tape: larger than the number of every node it depends on.
  std::uint64_t sequence_nr() const { return sequence_nr_; }
  /// True once a backward without retain_graph has freed what this node saved.
  bool released() const { return released_.load(std::memory_order_relaxed); }

  virtual void apply(BackwardContext& ctx) = 0;
  /// Frees the saved tensors (after a backward without retain_graph).
  virtual void release() { released_.store(true, std::memory_order_relaxed); }

 protected:
  void set_sequence_nr(std::uint64_t n) { sequence_nr_ = n; }

 private:
  friend class Engine;
  template <typename F>
  friend void record(const char*, const Tensor&, const Tensor* const*, std::size_t, F&&);
  friend class CopySlices;  // takes over the edges of the in-place op it wraps
  void take_edges_into(std::vector<std::shared_ptr<Node>>& stack);

  const char* name_;
  std::vector<Edge> edges_;
  std::uint64_t sequence_nr_ = 0;
  // Written by a backward without retain_graph, read by any later one (maybe on another
  // thread). The engine's scratch (gradients waiting, visited marks) is not kept on nodes: it
  // belongs to one backward call, since graphs on several threads share nodes (a leaf's
  // AccumulateGrad).
  std::atomic<bool> released_{false};
};

/// A node whose backward is a lambda; releasing it destroys the lambda and what it saved.
template <typename F>
class LambdaNode final : public Node {
 public:
  LambdaNode(const char* name, std::vector<Edge> edges, F fn) : Node(name, std::move(edges)), fn_(std::move(fn)) {}
  void apply(BackwardContext& ctx) override { (*fn_)(ctx); }
  void release() override {
    fn_.reset();
    Node::release();
  }

 private:
  std::optional<F> fn_;
};

/// The node a leaf's gradients flow into: it adds them to the leaf's .grad(). A leaf has one,
/// whichever thread first used the leaf in a recorded op made it; backward calls on several
/// threads add into .grad() one at a time, under the leaf's lock.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  void apply(BackwardContext& ctx) override;
  void release() override {}  // reused by every graph the leaf takes part in
  /// The leaf whose gradient this node accumulates (for naming it in to_dot and print_graph).
  const TensorImpl* leaf() const { return leaf_.get(); }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

/// True when grad mode is on and any argument requires grad: whether an op must record.
template <typename... Ts>
bool needs_grad(const Ts&... ts) {
  return is_grad_enabled() && (ts.requires_grad() || ...);
}

/// Edge to the node that receives an input's gradient (its grad_fn, or its accumulator).
Edge edge_for(const Tensor& input);
/// The next sequence number on this thread's tape, above every input's.
std::uint64_t next_sequence_nr(const std::vector<Edge>& edges);
/// Makes node the grad_fn of out.
void attach(const Tensor& out, std::shared_ptr<Node> node);
/// For node, the record of an in-place op on the differentiable view `view`: the view's base
/// takes a CopySlices node over it as its new history, and the view a fresh grad_fn from that.
void rebase_view_history(const Tensor& view, std::shared_ptr<Node> node);

/// Records an op: `out` was computed from `inputs`; `backward(BackwardContext&)` computes the
/// inputs' gradients. Call only when needs_grad(inputs...) holds.
template <typename F>
void record(const char* name, const Tensor& out, const Tensor* const* inputs, std::size_t n, F&& backward) {
  std::vector<Edge> edges;
  edges.reserve(n);
  for (std::size_t i = 0; i < n; ++i) edges.push_back(edge_for(*inputs[i]));
  auto node = std::make_shared<LambdaNode<std::decay_t<F>>>(name, std::move(edges), std::forward<F>(backward));
  node->set_sequence_nr(next_sequence_nr(node->next_edges()));
  // out is input 0: an in-place op. On a differentiable view it rewrites the base's history.
  if (n > 0 && inputs[0]->impl() == out.impl() && out.impl()->view_base) [[unlikely]]
    rebase_view_history(out, std::move(node));
  else attach(out, std::move(node));
}
template <typename F>
void record(const char* name, const Tensor& out, std::initializer_list<const Tensor*> inputs, F&& backward) {
  record(name, out, inputs.begin(), inputs.size(), std::forward<F>(backward));
}
template <typename F>
void record(const char* name, const Tensor& out, const std::vector<const Tensor*>& inputs, F&& backward) {
  record(name, out, inputs.data(), inputs.size(), std::forward<F>(backward));
}

/// Runs backward from root with the given gradient (see Tensor::backward).
void backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

/// What to_dot and print_graph show.
struct GraphOptions {
  /// Names for leaves, as Module::named_parameters() gives them: a leaf in the list is shown by
  /// its name ("encoder.weight_ih_l0"), others as "AccumulateGrad".
  std::vector<std::pair<std::string, Tensor>> names;
  /// Nodes that repeat (an RNN's steps) are shown once with a count ("LstmCellBackward x30"):
  /// nodes of the same op with the same output shapes, the same named leaves and the same kinds
  /// of inputs (op and shape) are one box. Off: one box per node.
  bool collapse = true;
  /// At most this many boxes; the rest of the graph is one box saying how many nodes it holds.
  std::size_t max_nodes = 100;
};

/// The graph behind a tensor as Graphviz DOT: one box per node (or per group of repeated
/// nodes) with its op and output shape, leaves with their names and shapes, arrows from inputs
/// to the ops that used them.
std::string to_dot(const Tensor& root, const GraphOptions& options = {});

/// The same graph as indented text for a terminal: the root first, each node's inputs below
/// it; a node met again is shown as "(see above)".
std::string graph_to_text(const Tensor& root, const GraphOptions& options = {});
/// Writes graph_to_text(root, options) to standard output.
void print_graph(const Tensor& root, const GraphOptions& options = {});

/// Number of live nodes in the process (for tests that check memory follows the tensors).
std::int64_t live_node_count();

}  // namespace autograd
}  // namespace tg
