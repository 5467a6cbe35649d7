// In-place ops on views under autograd, as PyTorch does them: the op rewrites the base's
// history (CopySlices) and views take their grad_fn again from the base (AsStridedBackward), so
// the gradient flows through the view and the base. Values and gradients against PyTorch
// (tests/golden/make_habits_fixtures.py, habits_inplace), gradient checks through every in-place
// family on every kind of view, index_put_ with accumulate, the version counter shared by a view
// and its base, and the errors (a view of a leaf that requires grad, an untracked view).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "helpers.h"
#include "support/fixtures.h"
#include "tapegrad/nn/activation.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using tg::Slice;
using tg::Tensor;
using tg_test::values;
using Inputs = std::vector<Tensor>;
using I64 = std::vector<std::int64_t>;

Tensor longs(const I64& v) { return tg::from_vector(v, {static_cast<std::int64_t>(v.size())}); }

/// A bool mask from 0/1 values.
Tensor mask(const tg::NestedList& v) { return tg::tensor(v).ne(0.0); }

/// The fixture's tensor `key` equals t (shape and values, float64 round-off).
bool matches(const Tensor& t, const tg_fixtures::Case& c, const std::string& key) {
  const tg_fixtures::StoredTensor& s = c.stored(key);
  if (t.shape().vec() != s.shape) {
    UNSCOPED_INFO(c.name << ": " << key << " has shape " << tg::shape_str(t.shape()) << ", PyTorch's is "
                         << tg::shape_str(s.shape));
    return false;
  }
  UNSCOPED_INFO(c.name << ": " << key);
  return tg_test::all_close(values(t), s.values, 1e-12, 1e-12);
}

// snippet-begin: inplace_view_example
// The example of issue 10: in-place ops through a transposed view and a selected row of an
// intermediate result. y's history is rewritten twice; the gradient reaches x through both.
void issue_example(const Tensor& y) {
  y.transpose(0, 1).mul_(2);  // y.grad_fn is now CopySlices over MulBackward
  y[0].relu_();               // and again, over ReluBackward of row 0
}
// snippet-end: inplace_view_example

}  // namespace

TEST_CASE("In-place ops on views give PyTorch's values and gradients", "[inplace_views][habits]") {
  using Args = std::map<std::string, Tensor>;
  // Each returns the tensor the case compares (y itself when it returns an undefined tensor).
  using Fn = std::function<Tensor(const Tensor& y, Args& a)>;
  const Tensor rows = longs({0, 2, 0});
  const Tensor cols = longs({1, 3, 1});
  const std::vector<std::pair<std::string, Fn>> cases =
      {
          {"y.transpose(0, 1).mul_(2); y[0].relu_()",
           [](const Tensor& y, Args&) {
    issue_example(y);
    return Tensor();
           }},
          {"y[:, 1].mul_(w)",
           [](const Tensor& y, Args& a) {
    return y.index({Slice(), 1}).mul_(a["w"]), Tensor();
           }},
                                                {"v = y[1:]; v[0].add_(w)",
                                                 [](const Tensor& y, Args& a) {
    const Tensor v = y.index({Slice(1)});
    v[0].add_(a["w"]);
    return Tensor();
                                                 }},
      {"y.t()[1:3].leaky_relu_(0.2)",
       [](const Tensor& y, Args&) { return tg::leaky_relu_(y.t().slice(0, 1, 3), 0.2), Tensor(); }},
      {"y[:, ::2].masked_fill_(mask_3x2, 0.5)",
       [](const Tensor& y, Args&) {
    return y.index({Slice(), Slice(tg::None, tg::None, 2)}).masked_fill_(mask({{1, 0}, {0, 1}, {1, 1}}), 0.5), Tensor();
       }},
      {"y[1:, 1:3].clamp_(-0.5, 0.5)",
       [](const Tensor& y, Args&) {
    return y.index({Slice(1), Slice(1, 3)}).clamp_(-0.5, 0.5), Tensor();
       }},
      {"y[0] += w; y[:, 1] -= c; y[2] /= c[2]; y[1:, 2:] *= 3",
       [](const Tensor& y, Args& a) {
    y[0] += a["w"];
    y.index({Slice(), 1}) -= a["c"];
    y[2] /= a["c"][2];
    y.index({Slice(1), Slice(2)}) *= 3;
    return Tensor();
       }},
      {"y[1].copy_(w); y[:, 0].fill_(3); y[2].zero_()",
       [](const Tensor& y, Args& a) {
    y[1].copy_(a["w"]);
    y.index({Slice(), 0}).fill_(3);
    y[2].zero_();
    return Tensor();
       }},
      {"y.view(-1)[::5].mul_(w)",
       [](const Tensor& y, Args& a) { return y.view(-1).slice(0, 0, 12, 5).mul_(a["w"]), Tensor(); }},
      {"y.permute(2, 0, 1)[1].sub_(w)",
       [](const Tensor& y, Args& a) { return y.permute(2, 0, 1)[1].sub_(a["w"]), Tensor(); }},
      {"y[1][[0, 2]] = w",
       [](const Tensor& y, Args& a) {
    return y[1].index_put_({longs({0, 2})}, a["w"]), Tensor();
       }},
      {"v = y[0]; y.mul_(2); out = v * w",
       [](const Tensor& y, Args& a) {
    const Tensor v = y[0];
    y.mul_(2);
    return v * a["w"];
       }},
      {"v = y[:, 1:3]; v.mul_(w); y.add_(1); out = cat(y, v)",
       [](const Tensor& y, Args& a) {
    const Tensor v = y.index({Slice(), Slice(1, 3)});
    v.mul_(a["w"]);
    y.add_(1);
    return tg::cat({y.flatten(), v.flatten()});
       }},
      {"y.index_put_((rows,), w, accumulate=True)",
       [&](const Tensor& y, Args& a) { return y.index_put_({rows}, a["w"], /*accumulate=*/true), Tensor(); }},
      {"y.index_put_((rows, cols), w, accumulate=True)",
       [&](const Tensor& y, Args& a) {
    return y.index_put_({rows, cols}, a["w"], true), Tensor();
       }},
      {"y.index_put_((rows, cols), 1.5, accumulate=True)",
       [&](const Tensor& y, Args&) {
    return y.index_put_({rows, cols}, 1.5, true), Tensor();
       }},
      {"y[1:].index_put_((rows // 2, cols), w, accumulate=True)",
       [&](const Tensor& y, Args& a) {
    return y.index({Slice(1)}).index_put_({longs({0, 1, 0}), cols}, a["w"], true), Tensor();
       }},
      };
  for (const auto& [name, fn] : cases) {
    const tg_fixtures::Case& c = tg_fixtures::load_case("golden", "habits_inplace", name);
    const Tensor x = c.tensor("x").requires_grad_();
    Args args;
    for (const char* k : {"w", "c"}) {
      if (c.has_tensor(k)) args[k] = c.tensor(k).requires_grad_();
    }
    const Tensor y = x * 1;
    Tensor out = fn(y, args);
    if (!out.defined()) out = y;
    CHECK(matches(out, c, "output"));
    (out * c.tensor("gout")).sum().backward();
    CHECK(matches(x.grad(), c, "grad_x"));
    for (auto& [k, t] : args) CHECK(matches(t.grad(), c, "grad_" + k));
  }
}

TEST_CASE("In-place ops on views of a tensor without grad give it a history", "[inplace_views][habits]") {
  const tg_fixtures::Case& c =
      tg_fixtures::load_case("golden", "habits_inplace", "y = zeros(3, 4); y[1].copy_(a); y[:, 2].mul_(b)");
  const Tensor a = c.tensor("a").requires_grad_();
  const Tensor b = c.tensor("b").requires_grad_();
  const Tensor y = tg::zeros({3, 4}, tg::kFloat64);
  y[1].copy_(a);
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  y.index({Slice(), 2}).mul_(b);
  CHECK(matches(y, c, "output"));
  (y * c.tensor("gout")).sum().backward();
  CHECK(matches(a.grad(), c, "grad_a"));
  CHECK(matches(b.grad(), c, "grad_b"));
}

TEST_CASE("The base and the view name their new histories as PyTorch does", "[inplace_views]") {
  const Tensor x = tg_test::leaf64({{1.0, -2.0}, {3.0, -4.0}});
  const Tensor y = x * 1;
  const Tensor row = y[1];
  CHECK(row.grad_fn_name() == "SelectBackward");
  const Tensor col = y.t()[0];
  col.mul_(2.0);
  CHECK(y.grad_fn_name() == "CopySlicesBackward");
  CHECK(col.grad_fn_name() == "AsStridedBackward");
  CHECK(row.grad_fn_name() == "AsStridedBackward");  // y changed under it: regenerated from y
  CHECK(values(y) == std::vector<double>{2, -2, 6, -4});
  CHECK(values(row) == std::vector<double>{6, -4});
}

TEST_CASE("Gradient checks through in-place ops on views", "[inplace_views][gradcheck]") {
  const Tensor x = tg_test::away_from_zero64({3, 4}, 11);
  const Tensor w = tg_test::away_from_zero64({4}, 12);
  const Tensor c = tg_test::uniform64({3}, 0.5, 2.0, 13);
  const Tensor x3 = tg_test::away_from_zero64({2, 3, 4}, 14);
  SECTION("slices, select and transposes, with each in-place family") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      issue_example(y);
      return y;
        },
        {x}));
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y.index({Slice(), Slice(1, 3)}).mul_(in[1].slice(0, 0, 2));  // elementwise with a tensor
      y[0] += in[1];                                               // compound
      y.index({Slice(), 3}) /= in[2];
      y.t()[1].sub_(in[2]);
      tg::leaky_relu_(y.t().slice(0, 2, 4), 0.1);  // an activation in place
      return y;
        },
        {x, w, c}));
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0].tanh() * 1;
      y.index({Slice(1), Slice(tg::None, tg::None, 3)}).clamp_(-0.5, 0.5);
      y.index({Slice(), 0}).masked_fill_(mask({1, 0, 1}), 0.25);
      y[1].copy_(in[1]);
      y.index({2, Slice(1, 3)}).fill_(1.5);
      y.index({0, Slice(2)}).zero_();
      return y * in[0];
        },
        {x, w}));
  }
  SECTION("views of views, a diagonal-like strided view, permute and index_put_ on a view") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      const Tensor v = y.index({Slice(1)}).t();  // [4, 2] over rows 1..2
      v[2].mul_(in[1].slice(0, 0, 2));
      v.index({Slice(tg::None, tg::None, 2), 1}).add_(in[1].slice(0, 2, 4));
      return y;
        },
        {x, w}));
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y.view(-1).slice(0, 0, 12, 5).mul_(in[1]);  // the diagonal of the [3, 4] matrix
      return y.exp();
        },
        {x, c}));
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y.permute(2, 0, 1)[3].mul_(in[0].select(2, 0));
      y.index({Slice(), 1}).index_put_({Slice(), longs({0, 3})}, in[1].slice(0, 0, 2).unsqueeze(0).expand(2, 2));
      return y;
        },
        {x3, w}));
  }
  SECTION("a view used after its base changed, and the base after its view changed") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      const Tensor row = y[0];
      const Tensor wide = y.unsqueeze(0).expand(2, 3, 4);  // regenerated with stride-0 dims
      y.mul_(in[0]);
      row.add_(in[1]);
      return tg::cat({row * 2, wide.sum(0).flatten(), y.flatten()});
        },
        {x, w}));
  }
  SECTION("the other operand is a view of the same base") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y[0].mul_(y[1]);
      y[2].add_(y.t()[1]);  // column 1 of y, which holds y[2][1], the element being written
      y[1].copy_(y[0]);
      return y;
        },
        {tg_test::away_from_zero64({4, 4}, 16)}));
  }
  SECTION("retain_graph: a second backward through CopySlices gives the same gradient") {
    const Tensor y = x * 1;
    y.t()[1].mul_(w.slice(0, 0, 3));
    const Tensor loss = (y * y).sum();
    loss.backward({}, /*retain_graph=*/true);
    const std::vector<double> first = values(x.grad());
    loss.backward();
    std::vector<double> twice = first;
    for (double& g : twice) g *= 2;
    CHECK(tg_test::all_close(values(x.grad()), twice));
  }
  SECTION("a base that does not require grad, with non-contiguous strides") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor b = tg::zeros({4, 3}, tg::kFloat64).t().detach();  // [3, 4], strides [1, 3]
      b[1].copy_(in[0]);
      b.index({Slice(), 2}).mul_(in[1]);
      b.index({Slice(), 2}).add_(in[1]);
      return b * 1;
        },
        {w, c}));
  }
  SECTION("index_put_ with accumulate and repeated indices") {
    const Tensor v = tg_test::away_from_zero64({5}, 15);
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y.index_put_({longs({0, 2, 0, 0, 1}), longs({1, 3, 1, 1, 0})}, in[1], /*accumulate=*/true);
      return y * y;
        },
        {x, v}));
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      const Tensor y = in[0] * 1;
      y.index_put_({Slice(), longs({3, 3})}, in[1].unsqueeze(1).expand(3, 2), true);  // basic + advanced
      y.index_put_({Slice(0, 2)}, in[1].slice(0, 0, 1), true);                        // basic only
      return y;
        },
        {x, c}));
  }
}

TEST_CASE("index_put_ with accumulate sums repeated indices, also without autograd", "[inplace_views][index]") {
  const Tensor counts = tg::zeros({4}, tg::kInt64);
  counts.index_put_({longs({1, 3, 1, 1})}, 1.0, /*accumulate=*/true);
  CHECK(counts.to_vector<std::int64_t>() == I64{0, 3, 0, 1});
  const Tensor y = tg::zeros({2, 3});
  y.index_put_({longs({0, 0}), longs({2, 2})}, tg::tensor({1.5, 2.0}), true);
  y.index_put_({longs({0, 0}), longs({2, 2})}, tg::tensor({1.0, 1.0}));  // without: one write wins
  CHECK(values(y) == std::vector<double>{0, 0, 1, 0, 0, 0});
  CHECK_TG_ERROR(tg::zeros({3}, tg::kBool).index_put_({longs({0})}, 1.0, true),
                 StartsWith("index_put_: accumulate=true") && Contains("bool"));
}

TEST_CASE("A view and its base share one version counter, which still catches saved tensors",
          "[inplace_views][bad_input]") {
  const Tensor x = tg_test::leaf64({{0.5, -1.0, 2.0}, {1.5, 0.25, -0.75}});
  const Tensor y = x * 1;
  const Tensor v = y[0];
  const std::uint64_t before = y.version();
  v.mul_(2.0);
  CHECK(y.version() == before + 1);
  CHECK(v.version() == y.version());
  y.t()[2].add_(1.0);
  CHECK(v.version() == before + 2);

  SECTION("an output saved for backward, written through a view") {
    const Tensor t = x.tanh();  // TanhBackward saves t
    const Tensor loss = t.sum();
    t[1].mul_(3.0);
    CHECK(tg_test::error_of([&] { loss.backward(); }) ==
          "backward of TanhBackward: a tensor it saved (shape [2, 3]) was modified by the in-place op 'mul_' after "
          "it was saved (version 1, expected 0); clone() it before modifying it in place");
  }
  SECTION("an input saved for backward, written through a view of a view") {
    const Tensor z = x * 1;
    const Tensor w = tg_test::leaf64({1.0, 2.0, 3.0});
    const Tensor loss = (z * w).sum();  // MulBackward saves z and w
    z.index({Slice(1)}).t()[0].add_(1.0);
    // Run once: the backward frees what it ran through before it reaches MulBackward.
    CHECK_THAT(tg_test::error_of([&] { loss.backward(); }),
               StartsWith("backward of MulBackward: a tensor it saved (shape [2, 3])") && Contains("'add_'") &&
                   Contains("version 1, expected 0"));
  }
}

TEST_CASE("An in-place op on a view of a leaf that requires grad is an error", "[inplace_views][bad_input]") {
  const Tensor x = tg_test::leaf64({{1.0, 2.0}, {3.0, 4.0}});
  const Tensor w = tg_test::leaf64({5.0, 6.0});
  const std::string words = "a view of a leaf Variable that requires grad is being used in an in-place operation";
  CHECK_TG_ERROR(x[0].mul_(2.0),
                 StartsWith("mul_: " + words) && Contains("view of shape [2] into a leaf of shape [2, 2]"));
  CHECK_TG_ERROR(x.t()[1].add_(w), StartsWith("add_: " + words));
  CHECK_TG_ERROR(x.transpose(0, 1).relu_(), StartsWith("relu_: " + words));
  CHECK_TG_ERROR(tg::leaky_relu_(x[1], 0.1), StartsWith("leaky_relu_: " + words));
  CHECK_TG_ERROR(x[0].copy_(w), StartsWith("copy_: " + words));
  CHECK_TG_ERROR(x[0].fill_(0.0), StartsWith("fill_: " + words));
  CHECK_TG_ERROR(x[0].masked_fill_(mask({1, 0}), 0.0), StartsWith("masked_fill_: " + words));
  CHECK_TG_ERROR(x.index({Slice(0, 1)}).index_put_({0}, w, true), StartsWith("index_put_: " + words));
  CHECK_TG_ERROR(x.view(-1).slice(0, 0, 4, 3).clamp_(0.0, 1.0), StartsWith("clamp_: " + words));
  CHECK(values(x) == std::vector<double>{1, 2, 3, 4});  // nothing was written
  {
    tg::NoGradGuard no_grad;  // how optimizers write into parameters
    x[0].mul_(2.0);
  }
  CHECK(values(x) == std::vector<double>{2, 4, 3, 4});
}

TEST_CASE("An in-place op that autograd records on an untracked view is an error", "[inplace_views][bad_input]") {
  const Tensor y = tg_test::leaf64({1.0, 2.0, 3.0}) * 1;
  const Tensor w = tg_test::leaf64({1.0, 2.0, 3.0});
  CHECK_TG_ERROR(y.detach().mul_(w), StartsWith("mul_: in-place modification of a view that autograd does not track") &&
                                         Contains("detach()") && Contains("[3]"));
  Tensor v;
  {
    tg::NoGradGuard no_grad;
    v = tg::zeros({2, 3}, tg::kFloat64)[0];
  }
  CHECK_TG_ERROR(v.copy_(w), StartsWith("copy_: in-place modification of a view that autograd does not track"));
  // A base whose elements overlap (a detached expand) cannot take a gradient per element.
  const Tensor wide = tg::zeros({3}, tg::kFloat64).expand(2, 3).detach();
  CHECK_TG_ERROR(wide[0].copy_(w), StartsWith("copy_: cannot write in place into a view of a tensor whose elements "
                                              "overlap (dim 0 of shape [2, 3] has stride 0"));
}

TEST_CASE("In-place view graphs free their nodes, and a long chain of them runs and dies iteratively",
          "[inplace_views][memory]") {
  const std::int64_t before = tg::autograd::live_node_count();
  {
    const Tensor x = tg_test::leaf64({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    const Tensor y = x * 1;
    const Tensor saved_view = y[1];
    const Tensor z = saved_view * y[0];  // saves views of y (without their base)
    y.t()[0].mul_(2.0);
    (y.sum() + 0.0).backward();
    CHECK(values(x.grad()) == std::vector<double>{2, 1, 1, 2, 1, 1});
  }
  CHECK(tg::autograd::live_node_count() == before);
  {
    const Tensor x = tg_test::leaf64({1.0, 2.0, 3.0});
    const Tensor y = x * 1;
    for (int i = 0; i < 20000; ++i) y.slice(0, i % 3, i % 3 + 1).mul_(1.0);
    y.sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{1, 1, 1});
  }
  CHECK(tg::autograd::live_node_count() == before);
}

TEST_CASE("nn::LeakyReLU(inplace) works on a view under autograd", "[inplace_views][nn]") {
  const Tensor x = tg_test::leaf64({{-1.0, 2.0}, {3.0, -4.0}});
  const Tensor y = x * 1;
  tg::nn::LeakyReLU act(0.5, /*inplace=*/true);
  act.forward(y.t()[1]);
  CHECK(values(y) == std::vector<double>{-1, 2, 3, -2});
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1, 1, 0.5});
}
