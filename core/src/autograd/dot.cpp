// Graphviz DOT export of the graph behind a tensor.
#include <fmt/format.h>

#include <unordered_map>

#include "tapegrad/core/autograd.h"

namespace tg::autograd {

std::string to_dot(const Tensor& root) {
  std::string out = "digraph autograd {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n";
  out += fmt::format("  out [label=\"output\\n{}\", shape=ellipse];\n", root.shape());
  if (!root.grad_fn()) {
    out += "}\n";
    return out;
  }
  std::unordered_map<const Node*, int> ids;  // debugging aid, not a hot path
  std::vector<const Node*> stack{root.grad_fn().get()};
  ids[root.grad_fn().get()] = 0;
  out += "  n0 -> out;\n";
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    const int id = ids[n];
    if (const auto* acc = dynamic_cast<const AccumulateGrad*>(n)) {
      (void)acc;
      out += fmt::format("  n{} [label=\"AccumulateGrad\", style=filled, fillcolor=lightblue];\n", id);
    } else {
      out += fmt::format("  n{} [label=\"{}\"];\n", id, n->display_name());
    }
    for (const Edge& e : n->next_edges()) {
      if (!e.node) continue;
      auto [it, inserted] = ids.emplace(e.node.get(), static_cast<int>(ids.size()));
      if (inserted) stack.push_back(e.node.get());
      if (dynamic_cast<const AccumulateGrad*>(e.node.get()))
        out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", it->second, id, e.shape);
      else
        out += fmt::format("  n{} -> n{};\n", it->second, id);
    }
  }
  out += "}\n";
  return out;
}

}  // namespace tg::autograd
