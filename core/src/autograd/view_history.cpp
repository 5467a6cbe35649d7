// In-place ops on views under autograd: the base's history is rewritten (PyTorch's CopySlices),
// and views take their grad_fn again from the base's history when it has moved.
//
// A view op run while grad mode is on makes a differentiable view (track_view): the view keeps
// its base, the tensor at the root of its chain of views, and the storage version at that
// moment. An in-place op on such a view records its node `fn` as every in-place op does (input
// 0: the view's old values, then the op's other inputs); record() sees that the op wrote a
// differentiable view and calls rebase_view_history, which gives the BASE a new history:
//
//     base.grad_fn = CopySlices(inputs: the base's old history, fn's other inputs; wraps fn)
//
// Its backward takes the gradient of the whole base, hands the view's part of it to fn (whose
// gradient for its input 0, the view's old values, replaces that part), passes the rest
// through unchanged, and hands on fn's gradients for its other inputs. A view (this one, or any
// other view of the same base) whose storage version has moved since its grad_fn was made
// takes a new one when next used (refresh_view_grad_fn): AsStridedBackward, which puts the
// view's gradient at the view's elements of a zero gradient of the base and sends it into the
// base's history. So the gradient flows through the view and through the base, for views of
// views too (they share the root base), whichever handle the program uses afterwards.
//
// What re-creates a view from its base: the view's own sizes and strides, and its offset from
// the base's first element; both index the same storage.
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace autograd {
namespace {

/// How a tensor lies in storage: sizes, strides, offset (elements). For a view, the offset is
/// counted from its base's first element.
struct Layout {
  DimVec shape;
  DimVec strides;
  std::int64_t offset = 0;
  bool contiguous = true;  // (for a base) laid out row-major, so a storage offset is an index
};

/// Whether t's elements lie row-major from its offset (size-1 dims may have any stride).
bool row_major(const TensorImpl& t) {
  std::int64_t expected = 1;
  for (std::size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape.data()[i] == 1) continue;
    if (t.strides.data()[i] != expected) return t.numel() == 0;
    expected *= t.shape.data()[i];
  }
  return true;
}

Layout base_layout(const TensorImpl& base) { return {base.shape, base.strides, base.offset, row_major(base)}; }

Layout view_layout(const TensorImpl& view, const TensorImpl& base) {
  return {view.shape, view.strides, view.offset - base.offset, false};
}

/// A gradient buffer for the base, with the base's strides (so that a view's layout addresses
/// its elements in it): a copy of src, or zeros.
Tensor base_buffer(const Layout& base, DType dtype, const Tensor* src) {
  Tensor out;
  if (base.contiguous) {
    out = detail::new_empty(base.shape, dtype);
  } else {
    std::int64_t span = 1;
    for (std::size_t d = 0; d < base.shape.size(); ++d) {
      TG_CHECK(base.strides[d] >= 0, "backward: a view's base with a negative stride ({}) is not supported",
               base.strides[d]);
      if (base.shape[d] == 0) span = 0;
      if (span > 0) span += (base.shape[d] - 1) * base.strides[d];
    }
    Tensor storage = detail::new_empty({span}, dtype);
    if (src == nullptr) storage.fill_(0.0);
    out = detail::make_view(storage, base.shape, base.strides, 0);
  }
  if (src != nullptr) {
    detail::copy_into(out, *src);
  } else if (base.contiguous) {
    out.fill_(0.0);
  }
  return out;
}

/// The view's elements inside a buffer made by base_buffer.
Tensor region_of(const Tensor& buffer, const Layout& view) {
  return detail::make_view(buffer, view.shape, view.strides, buffer.offset() + view.offset);
}

/// A view's grad_fn made from its base's history: the view's gradient goes to the view's
/// elements of a zero gradient of the base.
class AsStridedBackward final : public Node {
 public:
  AsStridedBackward(Edge base_edge, Layout base, Layout view)
      : Node("as_strided", {std::move(base_edge)}), base_(std::move(base)), view_(std::move(view)) {
    set_sequence_nr(next_sequence_nr(next_edges()));
  }

  void apply(BackwardContext& ctx) override {
    Tensor g = ctx.grad();
    Layout v = view_;
    // An expanded view (stride 0) shows one element of the base several times: it gets the sum.
    for (std::size_t d = 0; d < v.shape.size(); ++d) {
      if (v.strides[d] == 0 && v.shape[d] > 1) {
        g = g.sum(static_cast<std::int64_t>(d), true);
        v.shape[d] = 1;
      }
    }
    if (base_.contiguous) {  // the engine's buffer for the base is row-major like the base
      ctx.set_region(
          0, [v](const Tensor& full) { return region_of(full, v); }, std::move(g));
    } else {
      Tensor r = base_buffer(base_, g.dtype(), nullptr);
      detail::copy_into(region_of(r, v), g);
      ctx.set(0, std::move(r));
    }
  }

 private:
  Layout base_;
  Layout view_;
};

}  // namespace

/// The base's history after an in-place op `fn` on one of its views: fn's inputs, with input 0
/// (the view's old values) replaced by the base's old history.
class CopySlices final : public Node {
 public:
  CopySlices(Edge base_edge, std::shared_ptr<Node> fn, Layout base, Layout view)
      : Node("copy_slices", take_inputs(std::move(base_edge), *fn)),
        fn_(std::move(fn)),
        base_(std::move(base)),
        view_(std::move(view)) {
    set_sequence_nr(next_sequence_nr(next_edges()));
  }

  void apply(BackwardContext& ctx) override {
    const Tensor& g = ctx.grad();
    Tensor result = base_buffer(base_, g.dtype(), &g);
    Tensor part = region_of(result, view_);
    const std::size_t n = next_edges().size();
    std::vector<Tensor> grads(n);
    std::vector<BackwardContext::Region> regions(n);
    {
      // fn sees the view's gradient. Asked which inputs need one, this node's edges answer: they
      // are fn's, but for input 0, the base's old history, where the view's old values came from.
      BackwardContext inner(*this, detail::contiguous_copy(part), grads, regions);
      fn_->apply(inner);
    }
    if (ctx.needs(0)) {
      if (!grads[0].defined()) {
        part.fill_(0.0);  // overwritten (fill_, copy_): no gradient reaches the old values
      } else if (regions[0]) {
        part.fill_(0.0);
        detail::copy_into(regions[0](part), grads[0]);
      } else {
        const Tensor& g0 = grads[0];
        detail::copy_into(part, same_values(g0.shape(), part.shape()) ? g0 : sum_to_size(g0, part.shape()));
      }
      ctx.set(0, std::move(result));
    }
    for (std::size_t i = 1; i < n; ++i) {
      if (!grads[i].defined()) continue;
      if (regions[i]) {
        ctx.set_region(i, std::move(regions[i]), std::move(grads[i]));
      } else {
        ctx.set(i, std::move(grads[i]));
      }
    }
  }

  void release() override {
    fn_->release();
    Node::release();
  }

 private:
  // fn's edges move here (fn keeps none), so destroying a long chain of CopySlices stays
  // iterative (Node::~Node): fn never holds the previous history.
  static std::vector<Edge> take_inputs(Edge base_edge, Node& fn) {
    std::vector<Edge> edges = std::move(fn.edges_);
    fn.edges_.clear();
    edges.at(0) = std::move(base_edge);
    return edges;
  }

  std::shared_ptr<Node> fn_;
  Layout base_;
  Layout view_;
};

void rebase_view_history(const Tensor& view, std::shared_ptr<Node> fn) {
  TensorImpl* t = view.impl();
  if (!is_floating(t->dtype)) return;  // integer and bool results carry no gradient
  const std::shared_ptr<TensorImpl> base_impl = t->view_base;
  if (base_impl->storage != t->storage) {  // the base's data was replaced (set_data): a plain tensor now
    t->view_base.reset();
    attach(view, std::move(fn));
    return;
  }
  // check_inplace refuses this before the write; kept here for any in-place op that forgets.
  TG_CHECK(!(base_impl->grad_fn == nullptr && base_impl->requires_grad),
           "{}: a view of a leaf Variable that requires grad is being used in an in-place operation", fn->name());
  const Tensor base(base_impl);
  const Layout bl = base_layout(*base_impl);
  const Layout vl = view_layout(*t, *base_impl);
  auto copy_slices = std::make_shared<CopySlices>(edge_for(base), std::move(fn), bl, vl);
  base_impl->requires_grad = true;
  base_impl->grad_fn = std::move(copy_slices);
  t->grad_fn = std::make_shared<AsStridedBackward>(edge_for(base), bl, vl);
  t->requires_grad = true;
  t->view_version = t->storage->version();
}

}  // namespace autograd

void detail::track_view(const Tensor& out, const Tensor& in) {
  if (!is_grad_enabled()) return;
  TensorImpl* o = out.impl();
  const TensorImpl* i = in.impl();
  o->view_base = i->view_base && i->view_base->storage == i->storage ? i->view_base : in.impl_ptr();
  o->view_version = o->storage->version();
}

void detail::refresh_view_grad_fn(TensorImpl* t) {
  TensorImpl* b = t->view_base.get();
  const std::uint64_t version = t->storage->version();
  if (t->view_version == version && (t->grad_fn != nullptr || !b->requires_grad)) return;
  if (b->storage != t->storage) {  // the base's data was replaced (set_data): the view is plain
    t->view_base.reset();
    return;
  }
  t->view_version = version;
  if (!b->requires_grad || !is_floating(t->dtype)) return;
  const Tensor base(t->view_base);
  t->grad_fn = std::make_shared<autograd::AsStridedBackward>(autograd::edge_for(base), autograd::base_layout(*b),
                                                             autograd::view_layout(*t, *b));
  t->requires_grad = true;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  TensorImpl* t = checked();
  if (t->view_base) [[unlikely]]
    detail::refresh_view_grad_fn(t);
  return t->grad_fn;
}

}  // namespace tg
