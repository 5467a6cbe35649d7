// Pictures of the tape: to_dot (Graphviz) and graph_to_text (terminals). Both first build a
// Graph: the nodes reachable from the root in discovery order, each with its output shapes and
// the nodes it reads from; with collapse, nodes that repeat are merged into groups first. This
// is a debugging aid, not a hot path: plain maps and strings.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <set>
#include <unordered_map>

#include "tapegrad/core/autograd.h"

namespace tg::autograd {
namespace {

/// One box: a node, or a group of nodes that repeat.
struct Box {
  std::string label;   // op or leaf name
  std::string shapes;  // output shapes, "[4, 16]" (two for a node with two outputs)
  bool leaf = false;
  std::size_t count = 1;            // nodes in the box
  std::vector<std::size_t> inputs;  // boxes it reads from, in edge order, no repeats
};

struct Graph {
  std::vector<Box> boxes;  // boxes[0] is the root's
};

/// The nodes reachable from root in depth-first discovery order, with the shapes that flow out
/// of each (taken from the edges that lead out of it; the root's is the root tensor's).
struct Reachable {
  std::vector<const Node*> nodes;
  std::unordered_map<const Node*, std::size_t> index;
  std::vector<std::vector<std::string>> shapes;
};

Reachable reach(const Tensor& root) {
  Reachable r;
  const Node* top = root.grad_fn().get();
  r.nodes.push_back(top);
  r.index[top] = 0;
  r.shapes.push_back({fmt::format("{}", root.shape())});
  std::vector<const Node*> stack{top};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.node) continue;
      auto [it, inserted] = r.index.emplace(e.node.get(), r.nodes.size());
      if (inserted) {
        r.nodes.push_back(e.node.get());
        r.shapes.emplace_back();
        stack.push_back(e.node.get());
      }
      auto& shapes = r.shapes[it->second];
      const std::string s = fmt::format("{}", e.shape);
      if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
    }
  }
  return r;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

Graph build(const Tensor& root, const GraphOptions& options) {
  const Reachable r = reach(root);
  std::unordered_map<const TensorImpl*, std::string> names;
  for (const auto& [name, t] : options.names)
    if (t.defined()) names.emplace(t.impl(), name);
  const auto label_of = [&](const Node* n) {
    if (const auto* acc = dynamic_cast<const AccumulateGrad*>(n)) {
      const auto it = names.find(acc->leaf());
      return it != names.end() ? it->second : std::string("AccumulateGrad");
    }
    return n->display_name();
  };
  // The box of each node: its own, or with collapse the one of every node with the same key
  // (label, shapes, and the labels and shapes of its inputs, named leaves included).
  std::vector<std::size_t> box_of(r.nodes.size());
  std::map<std::string, std::size_t> box_by_key;
  Graph g;
  for (std::size_t i = 0; i < r.nodes.size(); ++i) {
    const Node* n = r.nodes[i];
    std::string key = label_of(n) + "|" + join(r.shapes[i]);
    if (options.collapse) {
      std::multiset<std::string> inputs;
      for (const Edge& e : n->next_edges())
        if (e.node) inputs.insert(label_of(e.node.get()) + join(r.shapes[r.index.at(e.node.get())]));
      for (const auto& in : inputs) key += "|" + in;
    } else {
      key += fmt::format("|#{}", i);
    }
    auto [it, inserted] = box_by_key.emplace(key, g.boxes.size());
    if (inserted)
      g.boxes.push_back({label_of(n), join(r.shapes[i]), dynamic_cast<const AccumulateGrad*>(n) != nullptr, 0, {}});
    box_of[i] = it->second;
    ++g.boxes[it->second].count;
  }
  for (std::size_t i = 0; i < r.nodes.size(); ++i) {
    auto& inputs = g.boxes[box_of[i]].inputs;
    for (const Edge& e : r.nodes[i]->next_edges()) {
      if (!e.node) continue;
      const std::size_t b = box_of[r.index.at(e.node.get())];
      if (std::find(inputs.begin(), inputs.end(), b) == inputs.end()) inputs.push_back(b);
    }
  }
  return g;
}

std::string box_text(const Box& b) {
  return b.count > 1 ? fmt::format("{} x{} {}", b.label, b.count, b.shapes) : fmt::format("{} {}", b.label, b.shapes);
}

}  // namespace

std::string to_dot(const Tensor& root, const GraphOptions& options) {
  std::string out = "digraph autograd {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n";
  out += fmt::format("  out [label=\"output\\n{}\", shape=ellipse];\n", root.shape());
  if (!root.grad_fn()) return out + "}\n";
  const Graph g = build(root, options);
  const std::size_t shown = std::min(g.boxes.size(), std::max<std::size_t>(options.max_nodes, 1));
  out += "  n0 -> out;\n";
  bool more_used = false;
  for (std::size_t i = 0; i < shown; ++i) {
    const Box& b = g.boxes[i];
    const std::string count = b.count > 1 ? fmt::format(" x{}", b.count) : "";
    out += fmt::format("  n{} [label=\"{}{}\\n{}\"{}];\n", i, b.label, count, b.shapes,
                       b.leaf ? ", style=filled, fillcolor=lightblue" : "");
    for (std::size_t in : b.inputs) {
      more_used |= in >= shown;
      out += in < shown ? fmt::format("  n{} -> n{};\n", in, i) : fmt::format("  more -> n{};\n", i);
    }
  }
  if (more_used) {
    std::size_t hidden = 0;
    for (std::size_t i = shown; i < g.boxes.size(); ++i) hidden += g.boxes[i].count;
    out += fmt::format("  more [label=\"... {} more nodes\", shape=note];\n", hidden);
  }
  return out + "}\n";
}

std::string graph_to_text(const Tensor& root, const GraphOptions& options) {
  if (!root.grad_fn())
    return fmt::format("(no graph: a {} tensor of shape {})\n", root.requires_grad() ? "leaf" : "constant",
                       root.shape());
  const Graph g = build(root, options);
  std::string out;
  std::vector<bool> printed(g.boxes.size(), false);
  std::size_t lines = 0;
  // Depth-first with an explicit stack of (box, prefix for its line, prefix for its inputs).
  struct Item {
    std::size_t box;
    std::string head, tail;
  };
  std::vector<Item> stack{{0, "", ""}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    if (lines >= std::max<std::size_t>(options.max_nodes, 1)) {
      out += item.head + "...\n";
      break;
    }
    const Box& b = g.boxes[item.box];
    ++lines;
    if (printed[item.box]) {
      out += item.head + box_text(b) + " (see above)\n";
      continue;
    }
    printed[item.box] = true;
    out += item.head + box_text(b) + "\n";
    std::vector<std::size_t> inputs;
    for (std::size_t in : b.inputs)
      if (in != item.box) inputs.push_back(in);  // a repeated step feeding itself: the count says it
    for (std::size_t k = inputs.size(); k-- > 0;) {
      const bool last = k + 1 == inputs.size();
      stack.push_back({inputs[k], item.tail + (last ? "`- " : "|- "), item.tail + (last ? "   " : "|  ")});
    }
  }
  return out;
}

void print_graph(const Tensor& root, const GraphOptions& options) { std::cout << graph_to_text(root, options); }

}  // namespace tg::autograd
