// The PyTorch habits checklist: each idiom a PyTorch user types without looking compiles in
// tapegrad's spelling and gives PyTorch's values. The first TEST_CASE follows the "From
// PyTorch" table of docs/tensors.md row by row (each block is headed by its row); the values of
// indexing, index assignment and compound ops come from tests/golden/make_habits_fixtures.py
// (torch 1.13), gradients included. Then gradient checks and the errors of bad indices.
#include <sstream>

#include "support/fixtures.h"
#include "support/prelude.h"
#include "tapegrad/core/format.h"

namespace {

using tg::Ellipsis;
using tg::None;
using tg::Slice;
using Doubles = std::vector<double>;

I64 dims(const Tensor& t) { return t.shape().vec(); }

/// 0..n-1 as float64, in the given shape.
Tensor iota(tg::IntArrayRef shape) { return tg::arange(tg::numel_of(shape)).to(tg::kFloat64).reshape(shape); }

/// The fixture's tensor `key` equals t (shape and values, float64 round-off).
bool matches(const Tensor& t, const tg_fixtures::Case& c, const std::string& key) {
  const tg_fixtures::StoredTensor& s = c.stored(key);
  if (dims(t) != s.shape) {
    UNSCOPED_INFO(c.name << ": " << key << " has shape " << tg::shape_str(t.shape()) << ", PyTorch's is "
                         << tg::shape_str(s.shape));
    return false;
  }
  UNSCOPED_INFO(c.name << ": " << key);
  return tg_test::all_close(values(t), s.values, 1e-12, 1e-12);
}

const Tensor kMask3x4 = tg::tensor({{1, 0, 1, 1}, {0, 0, 0, 1}, {1, 1, 0, 0}}) != 0.0;
const Tensor kMask4x5 = tg::tensor({{1, 0, 0, 1, 0}, {0, 1, 1, 0, 0}, {0, 0, 0, 0, 1}, {1, 1, 0, 0, 1}}) != 0.0;
Tensor longs(const I64& v) { return tg::from_vector(v, {static_cast<std::int64_t>(v.size())}); }

}  // namespace

TEST_CASE("From PyTorch: every row of the table in docs/tensors.md", "[habits]") {
  const Tensor x = iota({2, 3, 4});  // torch.arange(24.).view(2, 3, 4)

  // x.shape[-1], x.size(-1), x.shape[0]
  CHECK(x.shape()[-1] == 4);
  CHECK(x.size(-1) == 4);
  CHECK(x.shape()[0] == 2);
  CHECK(x.sizes()[-3] == 2);
  CHECK(x.strides()[-2] == 4);

  // x.view(B, T, H, d); x.reshape(2, -1); x.view(-1)
  CHECK(dims(iota({2, 3, 8}).view(2, 3, 2, 4)) == I64{2, 3, 2, 4});
  CHECK(dims(x.reshape(2, -1)) == I64{2, 12});
  CHECK(dims(x.view(-1)) == I64{24});
  CHECK(dims(x.view({4, 6})) == I64{4, 6});  // the brace form still works

  // x.permute(0, 2, 1); x.transpose(1, 2); x.mT is x.transpose(-2, -1)
  CHECK(dims(x.permute(0, 2, 1)) == I64{2, 4, 3});
  CHECK(x.permute(0, 2, 1).at<double>({1, 3, 2}) == 23.0);
  CHECK(dims(x.transpose(1, 2)) == I64{2, 4, 3});

  // x.expand(2, -1, -1); x.repeat(2, 1)
  CHECK(dims(iota({1, 3, 4}).expand(2, -1, -1)) == I64{2, 3, 4});
  CHECK(values(tg::tensor({1, 2}).repeat(2, 1)) == Doubles{1, 2, 1, 2});

  // x.flatten(), x.flatten(1), x.unflatten(1, (2, 2))
  CHECK(dims(x.flatten()) == I64{24});
  CHECK(dims(x.flatten(1)) == I64{2, 12});
  CHECK(dims(x.unflatten(-1, {2, 2})) == I64{2, 3, 2, 2});

  // x.squeeze(0), x.unsqueeze(-1)
  CHECK(dims(iota({1, 3}).squeeze(0)) == I64{3});
  CHECK(dims(x.unsqueeze(-1)) == I64{2, 3, 4, 1});

  // q, k, v = x.chunk(3, -1); x.split(2); x.split([1, 3], dim=-1); x.narrow(0, 1, 1)
  const auto parts = iota({2, 6}).chunk(3, -1);
  REQUIRE(parts.size() == 3);
  CHECK(values(parts[1]) == Doubles{2, 3, 8, 9});
  CHECK(x.split(1).size() == 2);
  const auto sizes = x.split({1, 3}, -1);
  CHECK((dims(sizes[0]) == I64{2, 3, 1} && dims(sizes[1]) == I64{2, 3, 3}));
  CHECK(values(x.narrow(0, 1, 1).flatten())[0] == 12.0);

  // x.sum(-1), x.mean(-1, keepdim=True), x.sum((0, 1)), torch.sum(x, -1)
  CHECK(values(iota({2, 3}).sum(-1)) == Doubles{3, 12});
  CHECK(dims(x.mean(-1, true)) == I64{2, 3, 1});
  CHECK(values(x.mean(-1, true).flatten()) == Doubles{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  CHECK(values(x.sum({0, 1})) == Doubles{60, 66, 72, 78});
  CHECK(values(tg::sum(iota({2, 3}), -1)) == Doubles{3, 12});

  // x.max(), values, indices = x.max(dim=1), x.amax(-1), x.argmax()
  CHECK(x.max().item() == 23.0);
  CHECK(x.min().item() == 0.0);
  auto [vals, idx] = iota({2, 3}).max(1);
  CHECK(values(vals) == Doubles{2, 5});
  CHECK(idx.to_vector<std::int64_t>() == I64{2, 2});
  CHECK(values(x.amax(-1).flatten()) == Doubles{3, 7, 11, 15, 19, 23});

  // x.var(-1, unbiased=False), x.std(-1), x.norm(), x.norm(1, dim=-1), x.logsumexp(-1)
  const Tensor r = tg::tensor({{1, 2, 3, 4}, {2, 4, 6, 8}}, tg::kFloat64);
  CHECK(tg_test::all_close(values(r.var(-1, false)), {1.25, 5.0}));
  CHECK(tg_test::all_close(values(r.std(-1)), {1.2909944487358056, 2.5819888974716112}));
  CHECK(tg_test::all_close(values(r.norm()), {12.247448713915890}));
  CHECK(values(r.norm(1, -1)) == Doubles{10, 20});
  CHECK(tg_test::all_close(values(r.logsumexp(-1)), {4.440189698561196, 8.145077938960782}));

  // x.softmax(-1), x.log_softmax(-1)
  CHECK(tg_test::all_close(values(tg::tensor({0, 0}, tg::kFloat64).softmax(-1)), {0.5, 0.5}));
  CHECK(tg_test::all_close(values(tg::tensor({0, 0}, tg::kFloat64).log_softmax(-1)),
                           {-0.69314718055994529, -0.69314718055994529}));

  // x.clamp(min=0), x.clamp(0, 1), x.clamp_min(0)
  const Tensor s = tg::tensor({-1.5, 0.5, 2.0}, tg::kFloat64);
  CHECK(values(s.clamp(0.0)) == Doubles{0, 0.5, 2});
  CHECK(values(s.clamp(0, 1)) == Doubles{0, 0.5, 1});
  CHECK(values(s.clamp_min(0)) == Doubles{0, 0.5, 2});

  // x.abs().pow(2).sqrt(), x.exp().log(), x.tanh(), x.sigmoid(), x.relu()
  CHECK(values(s.abs().pow(2).sqrt()) == Doubles{1.5, 0.5, 2});
  CHECK(values(s.relu()) == Doubles{0, 0.5, 2});
  CHECK(tg_test::all_close(values(s.exp().log()), {-1.5, 0.5, 2}));

  // x @ w
  CHECK(values(iota({2, 2}).matmul(iota({2, 2}))) == Doubles{2, 3, 6, 11});

  // 2 * x + 1, 1 - x, 1 / x, -x
  CHECK(values(2 * s + 1) == Doubles{-2, 2, 5});
  CHECK(values(1 - s) == Doubles{2.5, 0.5, -1});
  CHECK(values(1 / s) == Doubles{1 / -1.5, 2, 0.5});
  CHECK(values(-s) == Doubles{1.5, -0.5, -2});

  // x == y, x != 0, 0 < x, x >= y (bool tensors)
  const Tensor u = tg::tensor({-1.5, 1.0, 2.0}, tg::kFloat64);
  CHECK((s == u).to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK((s != 0).to_vector<bool>() == std::vector<bool>{true, true, true});
  CHECK((0 < s).to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK((s >= u).dtype() == tg::kBool);

  // x += y, x -= 1, x *= 2, x /= 4 (in place)
  const Tensor acc = tg::zeros({3}, tg::kFloat64);
  acc += s;
  acc -= 1;
  acc *= 2;
  acc /= 4;
  CHECK(values(acc) == Doubles{-1.25, -0.25, 0.5});

  // x.masked_fill(mask, 0), x.where(cond, y), x.gather(1, idx), x.index_select(0, idx), x.cumsum(0)
  const Tensor m = iota({2, 3});
  CHECK(values(m.masked_fill(m > 3, 0.0)) == Doubles{0, 1, 2, 3, 0, 0});
  CHECK(values(m.where(m > 3, -1.0)) == Doubles{-1, -1, -1, -1, 4, 5});
  CHECK(values(m.gather(1, tg::from_vector(I64{2, 0}, {2, 1}))) == Doubles{2, 3});
  CHECK(values(m.index_select(0, longs({1}))) == Doubles{3, 4, 5});
  CHECK(values(m.cumsum(1)) == Doubles{0, 1, 3, 3, 7, 12});

  // torch.cat([a, b], dim=1), torch.stack([a, b])
  CHECK(dims(tg::cat({m, m}, 1)) == I64{2, 6});
  CHECK(dims(tg::stack({m, m})) == I64{2, 2, 3});

  // x[1], x[-1], x[:, 1:-1:2], x[None, ..., 0], x[mask], x[idx], x[..., ::2]
  CHECK(values(m[1]) == Doubles{3, 4, 5});
  CHECK(values(m[-1]) == Doubles{3, 4, 5});
  CHECK(values(iota({2, 5}).index({Slice(), Slice(1, -1, 2)})) == Doubles{1, 3, 6, 8});
  CHECK(dims(x.index({None, Ellipsis, 0})) == I64{1, 2, 3});
  CHECK(values(m[m > 3]) == Doubles{4, 5});
  CHECK(values(m.index({longs({1, 1, 0})}).flatten()) == Doubles{3, 4, 5, 3, 4, 5, 0, 1, 2});
  CHECK(values(m.index({"...", Slice(None, None, 2)})) == Doubles{0, 2, 3, 5});

  // x[:, 1:3] = 0, x[mask] = v, x[idx] = v
  const Tensor w = iota({2, 3});
  w.index_put_({Slice(), Slice(1, 3)}, 0.0);
  CHECK(values(w) == Doubles{0, 0, 0, 3, 0, 0});
  w.index_put_({w == 0}, tg::tensor({7.0}, tg::kFloat64));
  CHECK(values(w) == Doubles{7, 7, 7, 3, 7, 7});
  w.index_put_({longs({1})}, tg::tensor({1, 2, 3}, tg::kFloat64));
  CHECK(values(w) == Doubles{7, 7, 7, 1, 2, 3});

  // x.index_put_((i,), v, accumulate=True), y.t()[0].mul_(2), y[0] += v
  w.index_put_({longs({0, 0})}, tg::tensor({1, 1, 1}, tg::kFloat64), true);
  CHECK(values(w) == Doubles{9, 9, 9, 1, 2, 3});
  const Tensor yv = iota({2, 3}).requires_grad_() * 1;
  yv.t()[0].mul_(2);
  yv[0] += iota({3});
  CHECK(values(yv) == Doubles{0, 2, 4, 6, 4, 5});

  // x.item(), x.to(torch.float64), x.detach(), x.clone(), x.contiguous()
  CHECK(m.sum().item<double>() == 15.0);
  CHECK(m.to(tg::kFloat32).dtype() == tg::kFloat32);
  CHECK(m.t().contiguous().is_contiguous());

  // print(x), str(x.shape), x.dtype
  std::ostringstream os;
  os << tg::tensor({1, 2});
  CHECK(os.str() == tg::to_string(tg::tensor({1, 2})));
  CHECK(tg::shape_str(x.shape()) == "[2, 3, 4]");
  CHECK(std::string(tg::dtype_name(x.dtype())) == "float64");
}

TEST_CASE("Indexing reads give PyTorch's values and gradients", "[habits]") {
  // Each fixture case is named by its Python expression; the lambda is tapegrad's spelling.
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> reads =
      {
          {"x[1]", [](const Tensor& x) { return x[1]; }},
          {"x[-1]", [](const Tensor& x) { return x[-1]; }},
          {"x[:, 1:-1:2]",
           [](const Tensor& x) {
    return x.index({Slice(), Slice(1, -1, 2)});
           }},
          {"x[None, ..., 0]",
           [](const Tensor& x) {
    return x.index({None, Ellipsis, 0});
           }},
                                                                                  {"x[..., ::2]",
                                                                                   [](const Tensor& x) {
    return x.index({Ellipsis, Slice(None, None, 2)});
                                                                                   }},
      {"x[-2:, :, 1:100]",
       [](const Tensor& x) {
    return x.index({Slice(-2, None), Slice(), Slice(1, 100)});
       }},
      {"x[1, :, [4, 0, 4]]",
       [](const Tensor& x) {
    return x.index({1, Slice(), longs({4, 0, 4})});
       }},
      {"x[[0, 2], :, [1, 3]]",
       [](const Tensor& x) {
    return x.index({longs({0, 2}), Slice(), longs({1, 3})});
       }},
      {"x[:, [[0, 1], [2, 0]], [1, 3]]",
       [](const Tensor& x) {
    return x.index({Slice(), tg::from_vector(I64{0, 1, 2, 0}, {2, 2}), longs({1, 3})});
       }},
      {"x[[2, -1, 0]]",
       [](const Tensor& x) {
    return x.index({longs({2, -1, 0})});
       }},
      {"x[None, [0, 2]]",
       [](const Tensor& x) {
    return x.index({None, longs({0, 2})});
       }},
      {"x[mask_3x4]", [](const Tensor& x) { return x[kMask3x4]; }},
      {"x[:, mask_4x5]",
       [](const Tensor& x) {
    return x.index({Slice(), kMask4x5});
       }},
      };
  for (const auto& [name, read] : reads) {
    const tg_fixtures::Case& c = tg_fixtures::load_case("golden", "habits_index", name);
    const Tensor x = c.tensor("x").requires_grad_();
    const Tensor out = read(x);
    CHECK(matches(out, c, "output"));
    (out * c.tensor("gout")).sum().backward();
    CHECK(matches(x.grad(), c, "grad_x"));
  }
}

TEST_CASE("Index assignment gives PyTorch's values and gradients", "[habits]") {
  using Write = std::function<void(const Tensor& y, const Tensor& v)>;
  const std::vector<std::pair<std::string, Write>> writes =
      {
          {"y[1] = v", [](const Tensor& y, const Tensor& v) { y.index_put_({1}, v); }},
          {"y[:, 1:3] = v",
           [](const Tensor& y, const Tensor& v) {
    y.index_put_({Slice(), Slice(1, 3)}, v);
           }},
          {"y[..., 0] = 0.5",
           [](const Tensor& y, const Tensor&) {
    y.index_put_({Ellipsis, 0}, 0.5);
           }},
                                                   {"y[[0, 2], :, [1, 3]] = v",
                                                    [](const Tensor& y, const Tensor& v) {
    y.index_put_({longs({0, 2}), Slice(), longs({1, 3})}, v);
                                                    }},
      {"y[mask_3x4] = v", [](const Tensor& y, const Tensor& v) { y.index_put_({kMask3x4}, v); }},
      {"y[:, [3, 0]] = v",
       [](const Tensor& y, const Tensor& v) {
    y.index_put_({Slice(), longs({3, 0})}, v);
       }},
      {"y[1, [0, 2], 1:4] = v",
       [](const Tensor& y, const Tensor& v) {
    y.index_put_({1, longs({0, 2}), Slice(1, 4)}, v);
       }},
      };
  for (const auto& [name, write] : writes) {
    const tg_fixtures::Case& c = tg_fixtures::load_case("golden", "habits_index_put", name);
    const Tensor x = c.tensor("x").requires_grad_();
    const Tensor v = c.has_tensor("v") ? c.tensor("v").requires_grad_() : Tensor();
    const Tensor y = x * 1;
    const std::uint64_t before = y.version();
    write(y, v);
    CHECK(y.version() == before + 1);
    CHECK(y.grad_fn_name() == "IndexPutBackward");
    CHECK(matches(y, c, "output"));
    (y * c.tensor("gout")).sum().backward();
    CHECK(matches(x.grad(), c, "grad_x"));
    if (v.defined()) CHECK(matches(v.grad(), c, "grad_v"));
  }
}

TEST_CASE("Compound assignment is in place, recorded, and gives PyTorch's gradients", "[habits]") {
  using Ops = std::function<void(const Tensor& y, const Tensor& b, const Tensor& c)>;
  const std::vector<std::pair<std::string, Ops>> cases =
      {
          {"y += b",
           [](const Tensor& y, const Tensor& b, const Tensor&) {
    y += b;
           }},
          {"y -= b", [](const Tensor& y, const Tensor& b, const Tensor&) { y -= b; }},
          {"y *= b", [](const Tensor& y, const Tensor& b, const Tensor&) { y *= b; }},
          {"y /= c", [](const Tensor& y, const Tensor&, const Tensor& c) { y /= c; }},
          {"y += 2; y -= 0.5; y *= 3; y /= 4",
           [](const Tensor& y, const Tensor&, const Tensor&) {
    y += 2;
    y -= 0.5;
    y *= 3;
    y /= 4;
           }},
                                                 {"y *= b; y += c; y /= c; y -= b",
                                                  [](const Tensor& y, const Tensor& b, const Tensor& c) {
    y *= b;
    y += c;
    y /= c;
    y -= b;
                                                  }},
      {"y += b (b of shape [4])", [](const Tensor& y, const Tensor& b, const Tensor&) { y += b; }},
      {"y /= c (c of shape [4])", [](const Tensor& y, const Tensor&, const Tensor& c) { y /= c; }},
      };
  for (const auto& [name, ops] : cases) {
    const tg_fixtures::Case& f = tg_fixtures::load_case("golden", "habits_compound", name);
    const Tensor a = f.tensor("a").requires_grad_(), b = f.tensor("b").requires_grad_(),
                 c = f.tensor("c").requires_grad_();
    const Tensor y = a * 2;
    const Tensor alias = y;  // another handle: in place means every handle sees the change
    ops(y, b, c);
    CHECK(matches(alias, f, "output"));
    (y * f.tensor("gout")).sum().backward();
    const std::vector<std::pair<std::string, Tensor>> leaves = {{"a", a}, {"b", b}, {"c", c}};
    for (const auto& [key, leaf] : leaves) {
      const std::string g = std::string("grad_") + key;
      if (f.has_tensor(g)) CHECK(matches(leaf.grad(), f, g));
      else CHECK_FALSE(leaf.grad().defined());
    }
  }
}

TEST_CASE("Compound assignment follows PyTorch's in-place rules", "[habits]") {
  const Tensor leaf = tg::ones({2}, tg::kFloat64).requires_grad_();
  CHECK(error_of([&] { leaf += 1; }) ==
        "add_: a leaf tensor that requires grad (shape [2]) cannot be modified in place while grad mode is on; wrap "
        "the update in NoGradGuard, or clone() it");
  CHECK(error_of([&] { leaf /= leaf; }).rfind("div_: a leaf tensor that requires grad", 0) == 0);
  {
    tg::NoGradGuard no_grad;  // an optimizer-style update of a leaf
    leaf -= 0.5;
  }
  CHECK(values(leaf) == Doubles{0.5, 0.5});
  const Tensor y = leaf * 1;
  const std::uint64_t v0 = y.version();
  y *= 3;
  y /= 2;
  CHECK(y.version() == v0 + 2);
  CHECK(y.grad_fn_name() == "DivBackward");
  // A tensor saved for backward and then changed in place is caught at backward time.
  const Tensor e = leaf.exp();  // exp saves its output
  e += 1;
  CHECK(error_of([&] { e.sum().backward(); }).find("was modified by the in-place op 'add_'") != std::string::npos);
  const Tensor ints = tg::arange(3);
  CHECK(error_of([&] { ints /= 2; }) ==
        "div_: true division gives floats, which cannot be written in place into a int64 tensor; use div()");
  ints *= 2;
  CHECK(ints.to_vector<std::int64_t>() == I64{0, 2, 4});
}

TEST_CASE("Gradient checks through index, index_put_ and compound ops", "[habits]") {
  const Tensor x = tg_test::uniform64({3, 4, 5}, -1, 1, 7);
  const Tensor v = tg_test::uniform64({2, 5}, -1, 1, 8);
  const Tensor b = tg_test::uniform64({4, 5}, 0.5, 1.5, 9);
  const Tensor idx = longs({2, 0, 2});
  CHECK(tg::gradcheck([&](const Inputs& in) { return in[0].index({Slice(), idx, Slice(None, None, 2)}); }, {x}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return in[0].index({longs({0, 2}), Slice(1, 3), longs({4, 0})}); }, {x}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return in[0].index({None, 1, kMask4x5}); }, {x}));
  CHECK(tg::gradcheck(
      [&](const Inputs& in) {
    const Tensor y = in[0] * 1;
    y.index_put_({Slice(), idx.narrow(0, 0, 2)}, in[1]);  // v [2, 5] broadcast over dim 0
    return y;
      },
      {x, v}));
  CHECK(tg::gradcheck(
      [&](const Inputs& in) {
    const Tensor y = in[0] * 1;
    y.index_put_({kMask3x4}, in[1].select(0, 0));
    return y;
      },
      {x, v}));
  CHECK(tg::gradcheck(
      [&](const Inputs& in) {
    const Tensor y = in[0].exp() * 1;
    y += in[1];
    y *= in[1];
    y -= in[0];
    y /= in[1];
    return y;
      },
      {x, b}));
}

TEST_CASE("Reads and writes through indices are views and copies as in PyTorch", "[habits]") {
  const Tensor x = iota({3, 4});
  const Tensor row = x[1];
  CHECK(row.shares_storage_with(x));                              // basic indexing: a view
  CHECK(x.index({Slice(), Slice(1, 3)}).shares_storage_with(x));  // slices too
  CHECK_FALSE(x.index({longs({0})}).shares_storage_with(x));      // a tensor index copies
  x.index_put_({0, Slice(None, 2)}, tg::tensor({-1, -2}, tg::kFloat64));
  CHECK(values(x[0]) == Doubles{-1, -2, 2, 3});
  x.index_put_({longs({2, 2})}, x[0]);  // the value shares x's memory: read before written
  CHECK(values(x[2]) == Doubles{-1, -2, 2, 3});
  const Tensor t = x.t();  // writing through a non-contiguous tensor
  t.index_put_({longs({3}), longs({1})}, 9.0);
  CHECK(x.at<double>({1, 3}) == 9.0);
  const Tensor ints = tg::arange(6).reshape(2, 3);
  ints.index_put_({ints > 3}, 0.0);
  CHECK(ints.to_vector<std::int64_t>() == I64{0, 1, 2, 3, 0, 0});
  CHECK(dims(x.index({})) == I64{3, 4});
  CHECK(dims(x.index({longs({})})) == I64{0, 4});
}

TEST_CASE("shape(), size(), stride() and indexing reject indices out of range with tg::Error", "[habits]") {
  const Tensor x = tg::zeros({2, 3, 4});
  CHECK(error_of([&] { (void)x.shape()[3]; }) ==
        "shape()[3]: index 3 is out of range for a tensor of 3 dims (shape [2, 3, 4]); valid indices are -3 to 2");
  CHECK(error_of([&] { (void)x.shape()[-4]; }) ==
        "shape()[-4]: index -4 is out of range for a tensor of 3 dims (shape [2, 3, 4]); valid indices are -3 to 2");
  CHECK(error_of([&] { (void)x.strides()[5]; }) ==
        "strides()[5]: index 5 is out of range for a tensor of 3 dims (strides [12, 4, 1]); valid indices are -3 "
        "to 2");
  CHECK(error_of([&] { (void)tg::scalar_tensor(1.0).shape()[0]; }) ==
        "shape()[0]: index 0 is out of range: a 0-d tensor has no dims (shape [])");
  auto copy = x.shape();  // a copy keeps the checks
  CHECK(error_of([&] { copy[3] = 1; }).rfind("shape()[3]: index 3 is out of range", 0) == 0);
  CHECK(error_of([&] { (void)x.size(3); }) ==
        "size: dim 3 is out of range for a tensor of 3 dimensions (expected in [-3, 2])");
  CHECK(error_of([&] { (void)x.stride(-4); }) ==
        "stride: dim -4 is out of range for a tensor of 3 dimensions (expected in [-3, 2])");

  CHECK(error_of([&] { (void)x[2]; }) == "select: index 2 is out of range for dim 0 of size 2");
  CHECK(error_of([&] { (void)x[-3]; }) == "select: index -3 is out of range for dim 0 of size 2");
  CHECK(error_of([&] {
          (void)x.index({0, 3});
        }) == "index: index 3 is out of range for dim 1 of size 3 (shape [2, 3, 4])");
  CHECK(error_of([&] {
          (void)x.index({Ellipsis, -5});
        }) == "index: index -5 is out of range for dim 2 of size 4 (shape [2, 3, 4])");
  CHECK(error_of([&] {
          (void)x.index({Slice(), longs({1, 3})});
        }) == "index: index 3 is out of range for dim 1 of size 3");
  CHECK(error_of([&] { (void)x.index({longs({-3})}); }) == "index: index -3 is out of range for dim 0 of size 2");
  CHECK(error_of([&] {
          (void)x.index({0, 0, 0, 0});
        }) == "index: too many indices for a tensor of 3 dims (shape [2, 3, 4]): the index takes 4 dims");
  CHECK(error_of([&] {
          (void)x.index({Ellipsis, 0, Ellipsis});
        }) == "index: an index can have only one Ellipsis (...), got 2");
  CHECK(error_of([&] { (void)x.index({Slice(None, None, -1)}); }) ==
        "index: a slice step must be positive, got -1 (dim 0)");
  CHECK(error_of([&] { (void)x.index({tg::zeros({2})}); }) ==
        "index: tensors used as indices must be int64 or bool, got float32");
  CHECK(error_of([&] { (void)x[kMask3x4]; }) ==
        "index: the bool mask's shape [3, 4] does not match the shape [2, 3] of the dims 0 to 1 it indexes (tensor "
        "shape [2, 3, 4])");
  CHECK(error_of([&] {
          (void)x.index({longs({0, 1}), longs({0, 1, 2})});
        }) == "index: shapes [2] and [3] cannot be broadcast (dim -1: 2 vs 3)");
  CHECK_NOTHROW((void)x.index({"..."}));
  CHECK(error_of([&] { (void)x.index({":"}); }) ==
        "index: the only string an index takes is \"...\" (Ellipsis), got \":\"");

  CHECK(error_of([&] { x.index_put_({longs({5})}, 1.0); }) ==
        "index_put_: index 5 is out of range for dim 0 of size 2");
  CHECK(error_of([&] {
          x.index_put_({0}, tg::zeros({2, 4}));
        }) == "index_put_: shapes [3, 4] and [2, 4] cannot be broadcast (dim -2: 3 vs 2)");
  CHECK(error_of([&] {
          x.index_put_({0}, tg::zeros({2, 3, 4}));
        }) == "index_put_: the value's shape [2, 3, 4] does not broadcast to the indexed shape [3, 4]");
  const Tensor leaf = tg::zeros({2}).requires_grad_();
  CHECK(error_of([&] { leaf.index_put_({0}, 1.0); }).rfind("index_put_: a leaf tensor that requires grad", 0) == 0);
  CHECK(x.index({"..."}).shares_storage_with(x));
}
