// Index ops (tapegrad/core/ops/index.h): index_select, gather, scatter_add, embedding,
// masked_fill, where, tril/triu, one_hot, topk, cumsum; values, gradients and bad inputs.
#include "support/prelude.h"

namespace {

Tensor bools(const std::vector<bool>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }

}  // namespace

TEST_CASE("index_select, gather, scatter_add and embedding pick and add the expected elements",
          "[model-ops][values][index]") {
  const Tensor x = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::index_select(x, 1, index64({2, 0, 2}, {3}))) == std::vector<double>{3, 1, 3, 6, 4, 6});
  CHECK(values(tg::index_select(x, 0, index64({1}, {1}))) == std::vector<double>{4, 5, 6});
  CHECK(values(tg::gather(x, 1, index64({0, 0, 2, 1}, {2, 2}))) == std::vector<double>{1, 1, 6, 5});
  CHECK(values(tg::gather(x, 0, index64({1, 0, 1}, {1, 3}))) == std::vector<double>{4, 2, 6});
  const Tensor sa = tg::scatter_add(tg::zeros({3}), 0, index64({0, 2, 0, 2, 2}, {5}), tg::tensor({1, 2, 3, 4, 5}));
  CHECK(values(sa) == std::vector<double>{4, 0, 11});
  const Tensor sa2 = tg::scatter_add(tg::ones({2, 3}), 1, index64({2, 2, 0, 1}, {2, 2}), tg::tensor({{1, 2}, {3, 4}}));
  CHECK(values(sa2) == std::vector<double>{1, 1, 4, 4, 5, 1});
  const Tensor w = tg::tensor({{0, 0}, {1, 10}, {2, 20}});
  const Tensor e = tg::embedding(w, index64({2, 1, 2, 0}, {2, 2}), /*padding_idx=*/0);
  CHECK(shape_of(e) == Shape{2, 2, 2});
  CHECK(values(e) == std::vector<double>{2, 20, 1, 10, 2, 20, 0, 0});
}

TEST_CASE("one_hot: int64 rows of zeros and ones, num_classes -1 is max + 1", "[model-ops][values][index]") {
  const Tensor h = tg::one_hot(index64({0, 2, 1}, {3}), 4);
  CHECK(h.dtype() == tg::kInt64);
  CHECK(shape_of(h) == Shape{3, 4});
  CHECK(ints(h) == std::vector<std::int64_t>{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0});
  const Tensor inferred = tg::one_hot(index64({0, 2, 1, 2}, {2, 2}));
  CHECK(shape_of(inferred) == Shape{2, 2, 3});
  CHECK(ints(inferred) == std::vector<std::int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1});
}

TEST_CASE("topk: values sorted, ties broken by the lower index, k = 0 gives empty results",
          "[model-ops][values][index]") {
  // Tapegrad's documented order. (PyTorch leaves the order of ties unspecified: torch 1.13 on CPU
  // gives indices [2, 4] for the first case.)
  const Tensor x = tg::tensor({1, 3, 3, 2, 3});
  const auto top = tg::topk(x, 2);
  CHECK(values(top.values) == std::vector<double>{3, 3});
  CHECK(ints(top.indices) == std::vector<std::int64_t>{1, 2});
  CHECK(top.indices.dtype() == tg::kInt64);
  const auto low = tg::topk(x, 3, -1, /*largest=*/false);
  CHECK(values(low.values) == std::vector<double>{1, 2, 3});
  CHECK(ints(low.indices) == std::vector<std::int64_t>{0, 3, 1});
  const auto all = tg::topk(tg::tensor({0.5, -1, 7, 2}), 4);
  CHECK(values(all.values) == std::vector<double>{7, 2, 0.5, -1});
  CHECK(ints(all.indices) == std::vector<std::int64_t>{2, 3, 0, 1});
  // Along dim 0 of a matrix: per column.
  const auto cols = tg::topk(tg::tensor({{1, 9}, {5, 2}, {3, 4}}), 2, 0);
  CHECK(shape_of(cols.values) == Shape{2, 2});
  CHECK(values(cols.values) == std::vector<double>{5, 9, 3, 4});
  CHECK(ints(cols.indices) == std::vector<std::int64_t>{1, 0, 2, 2});
  const auto none = tg::topk(tg::ones({2, 5}), 0);
  CHECK(shape_of(none.values) == Shape{2, 0});
  CHECK(shape_of(none.indices) == Shape{2, 0});
}

TEST_CASE("cumsum: running sums along a dim, int64 and bool inputs give int64", "[model-ops][values][index]") {
  const Tensor i = tg::cumsum(index64({1, 2, 3, 4}, {4}), 0);
  CHECK(i.dtype() == tg::kInt64);
  CHECK(ints(i) == std::vector<std::int64_t>{1, 3, 6, 10});
  const Tensor b = tg::cumsum(mask({true, false, true, true}, {4}), 0);
  CHECK(b.dtype() == tg::kInt64);
  CHECK(ints(b) == std::vector<std::int64_t>{1, 1, 2, 3});
  const Tensor m = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::cumsum(m, 1)) == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(values(tg::cumsum(m, 0)) == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(tg::cumsum(m, -1).dtype() == tg::kFloat32);
}

TEST_CASE("tril(ones(4, 4)) is a causal mask, tril and triu with diagonals -1 and 1", "[model-ops][values][index]") {
  const Tensor causal = tg::tril(tg::ones({4, 4}));
  CHECK(values(causal) == std::vector<double>{1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1});
  const Tensor x = tg::arange(1.0, 10.0).reshape({3, 3});
  CHECK(values(tg::tril(x, -1)) == std::vector<double>{0, 0, 0, 4, 0, 0, 7, 8, 0});
  CHECK(values(tg::tril(x, 1)) == std::vector<double>{1, 2, 0, 4, 5, 6, 7, 8, 9});
  CHECK(values(tg::triu(x)) == std::vector<double>{1, 2, 3, 0, 5, 6, 0, 0, 9});
  CHECK(values(tg::triu(x, 1)) == std::vector<double>{0, 2, 3, 0, 0, 6, 0, 0, 0});
  CHECK(values(tg::triu(x, -1)) == std::vector<double>{1, 2, 3, 4, 5, 6, 0, 8, 9});
  // A batch of two 2x3 matrices: each is masked on its own.
  const Tensor batch = tg::tril(tg::ones({2, 2, 3}));
  CHECK(values(batch) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0});
  // The causal mask as used by attention: masked_fill where triu(ones, 1) is set.
  const Tensor scores = tg::zeros({3, 3});
  const Tensor future = tg::triu(tg::ones({3, 3}), 1).gt(0.0);
  const Tensor filled = tg::masked_fill(scores, future, -kInf);
  CHECK(values(filled) == std::vector<double>{0, -kInf, -kInf, 0, 0, -kInf, 0, 0, 0});
}

TEST_CASE("masked_fill with a broadcast (1, T) mask fills the same columns of every row",
          "[model-ops][values][index]") {
  const Tensor x = tg::arange(0.0, 8.0).reshape({2, 4});
  const Tensor pad = mask({false, false, true, true}, {1, 4});
  CHECK(values(tg::masked_fill(x, pad, -1e9)) == std::vector<double>{0, 1, -1e9, -1e9, 4, 5, -1e9, -1e9});
  const Tensor softened = tg::softmax(tg::masked_fill(x, pad, -kInf), 1);
  CHECK(values(softened)[2] == 0.0);
  CHECK(values(softened)[0] + values(softened)[1] == Approx(1.0));
  CHECK(ints(tg::masked_fill(tg::arange(3), mask({true, false, true}, {3}), 7)) == std::vector<std::int64_t>{7, 1, 7});
}

TEST_CASE("where picks from a where cond is true, from b elsewhere, broadcasting all three",
          "[model-ops][values][index]") {
  const Tensor cond = mask({true, false}, {2, 1});
  CHECK(values(tg::where(cond, tg::tensor({{1, 2}, {3, 4}}), tg::tensor({-1, -2}))) ==
        std::vector<double>{1, 2, -1, -2});
  CHECK(values(tg::where(cond, tg::tensor({5, 6}), 0.0)) == std::vector<double>{5, 6, 0, 0});
  CHECK(values(tg::where(cond, 9.0, tg::tensor({5, 6}))) == std::vector<double>{9, 9, 5, 6});
}

TEST_CASE(
    "index, selection, cumsum, conv and pooling ops give the same result on a transposed view as on its "
    "contiguous copy",
    "[model-ops][values][strided]") {
  const Tensor base = randn64({5, 4}, 700);
  const Tensor v = base.t();  // [4, 5], not contiguous
  const Tensor c = v.contiguous();
  REQUIRE_FALSE(v.is_contiguous());
  const Tensor idx = index64({4, 0, 0, 2}, {4});
  CHECK(values(tg::index_select(v, 1, idx)) == values(tg::index_select(c, 1, idx)));
  const Tensor gidx = index64({1, 1, 3, 0, 2, 2, 4, 4}, {4, 2});
  CHECK(values(tg::gather(v, 1, gidx)) == values(tg::gather(c, 1, gidx)));
  CHECK(values(tg::scatter_add(v, 1, gidx, v)) == values(tg::scatter_add(c, 1, gidx, c)));
  CHECK(values(tg::topk(v, 3, 0).values) == values(tg::topk(c, 3, 0).values));
  CHECK(ints(tg::topk(v, 2, 1, false).indices) == ints(tg::topk(c, 2, 1, false).indices));
  CHECK(values(tg::cumsum(v, 1)) == values(tg::cumsum(c, 1)));
  CHECK(values(tg::flip(v, {0, 1})) == values(tg::flip(c, {0, 1})));
  CHECK(values(tg::tril(v, 1)) == values(tg::tril(c, 1)));
  CHECK(values(tg::cat({v, c}, 0)) == values(tg::cat({c, c}, 0)));
  CHECK(values(tg::embedding(v, index64({3, 1}, {2}))) == values(tg::embedding(c, index64({3, 1}, {2}))));
  CHECK(values(tg::masked_fill(v, mask({true, false, true, false, true}, {5}), 0.0)) ==
        values(tg::masked_fill(c, mask({true, false, true, false, true}, {5}), 0.0)));

  const Tensor img = randn64({2, 6, 5, 3}, 701).permute({0, 3, 1, 2});  // [2, 3, 6, 5], channels-last memory
  const Tensor imgc = img.contiguous();
  const Tensor w = randn64({4, 3, 3, 3}, 702).transpose(2, 3);
  const Tensor wc = w.contiguous();
  CHECK(all_close(values(tg::conv2d(img, w, {}, 2, 1)), values(tg::conv2d(imgc, wc, {}, 2, 1)), 1e-12, 1e-12));
  CHECK(values(tg::max_pool2d(img, 3, 2, 1)) == values(tg::max_pool2d(imgc, 3, 2, 1)));
  CHECK(values(tg::avg_pool2d(img, 2)) == values(tg::avg_pool2d(imgc, 2)));
  CHECK(values(tg::adaptive_avg_pool2d(img, {2, 3})) == values(tg::adaptive_avg_pool2d(imgc, {2, 3})));
}

TEST_CASE("index_select with repeated indices: the gradients of repeats add up", "[model-ops][grad][index]") {
  const Tensor idx = index64({2, 0, 2, 2}, {4});
  CHECK(
      tg::gradcheck([&](const Inputs& in) { return tg::index_select(in[0], 1, idx) * tg::index_select(in[0], 1, idx); },
                    {any64({2, 3, 2}, 60)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::index_select(in[0], 0, idx); }, {any64({3, 2}, 61)}));
  const Tensor x = leaf64({0, 0, 0});
  tg::index_select(x, 0, idx).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 3});
}

TEST_CASE("gather with repeated indices along dims 0 and 1: gradients add up", "[model-ops][grad][index]") {
  const Tensor idx1 = index64({0, 0, 3, 1, 2, 2, 2, 0, 1, 3, 3, 3}, {3, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::gather(in[0], 1, idx1); }, {any64({3, 4}, 70)}));
  const Tensor idx0 = index64({2, 2, 0, 1, 2, 0}, {2, 3});  // smaller than the input in dim 1
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::gather(in[0], 0, idx0) * 2.0; }, {any64({3, 4}, 71)}));
  const Tensor x = leaf64({{0, 0, 0}});
  tg::gather(x, 1, index64({1, 1, 1, 2}, {1, 4})).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 3, 1});
}

TEST_CASE("scatter_add with repeated indices: gradients for both self and src", "[model-ops][grad][index]") {
  const Tensor idx = index64({0, 2, 2, 1, 0, 0, 2, 1}, {2, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::scatter_add(in[0], 0, idx, in[1]) * in[0]; },
                      {any64({3, 4}, 80), any64({2, 4}, 81)}));
  // src larger than index (only its first index.shape() elements are used) and dim 1.
  const Tensor idx1 = index64({1, 1, 0, 2, 2, 2}, {2, 3});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::scatter_add(in[0], 1, idx1, in[1]); },
                      {any64({2, 3}, 82), any64({3, 4}, 83)}));
  const Tensor self = leaf64({0, 0, 0}), src = leaf64({1, 2, 3, 4});
  (tg::scatter_add(self, 0, index64({2, 2, 0, 2}, {4}), src) * constant64({10, 20, 30})).sum().backward();
  CHECK(values(self.grad()) == std::vector<double>{10, 20, 30});
  CHECK(values(src.grad()) == std::vector<double>{30, 30, 10, 30});
}

TEST_CASE("embedding: gradient of the weight with repeated indices", "[model-ops][grad][index]") {
  const Tensor idx = index64({1, 3, 1, 0, 3, 3}, {2, 3});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::embedding(in[0], idx) * tg::embedding(in[0], idx); },
                      {any64({5, 3}, 90)}));
}

TEST_CASE("embedding: repeated rows sum their gradients, the padding row gets zero", "[model-ops][grad][index]") {
  const Tensor w = any64({5, 2}, 91);
  const Tensor idx = index64({1, 3, 1, 0, 3, 3}, {2, 3});
  // Position p of the output is weighted by p + 1 (both columns): row r's gradient is the sum of
  // the weights of the positions holding r.
  const Tensor pos = tg::arange(1.0, 7.0, 1.0, tg::kFloat64).reshape({2, 3, 1});
  (tg::embedding(w, idx, /*padding_idx=*/0) * pos).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0,    // row 0: padding (index 0 at position 4)
                                                4, 4,    // row 1: positions 1 and 3
                                                0, 0,    // row 2: unused
                                                13, 13,  // row 3: positions 2, 5 and 6
                                                0, 0});  // row 4: unused
}

TEST_CASE("masked_fill with a broadcast mask: the gradient is zero where filled", "[model-ops][grad][index]") {
  const Tensor mask = tg::from_vector(std::vector<bool>{true, false, true}, {3, 1});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::masked_fill(in[0], mask, -7.0) * in[0]; },
                      {any64({2, 3, 4}, 100)}));
  const Tensor x = leaf64({{1, 2}, {3, 4}});
  tg::masked_fill(x, tg::from_vector(std::vector<bool>{false, true}, {1, 2}), 0.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 1, 0});
}

TEST_CASE("where with a broadcast condition: gradients to both branches", "[model-ops][grad][index]") {
  const Tensor cond = tg::from_vector(std::vector<bool>{true, false, true}, {3, 1});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::where(cond, in[0], in[1]); },
                      {any64({3, 4}, 110), any64({4}, 111)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::where(cond, in[0], 0.5) + tg::where(cond, -1.0, in[0]); },
                      {any64({3, 4}, 112)}));
  const Tensor a = leaf64({{1, 1}, {1, 1}}), b = leaf64({1, 1});
  tg::where(tg::from_vector(std::vector<bool>{true, false}, {2, 1}), a, b).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{1, 1, 0, 0});
  CHECK(values(b.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("tril and triu with diagonal -1, 0, 1 on a batch of 3x4 matrices: gradients", "[model-ops][grad][index]") {
  const Tensor x = any64({2, 3, 4}, 120);
  for (std::int64_t k : {-1, 0, 1}) {
    INFO("diagonal " << k);
    CHECK(tg::gradcheck([k](const Inputs& in) { return tg::tril(in[0], k) * in[0]; }, {x}));
    CHECK(tg::gradcheck([k](const Inputs& in) { return tg::triu(in[0], k) * in[0]; }, {x}));
  }
  const Tensor y = leaf64({{1, 1, 1}, {1, 1, 1}, {1, 1, 1}});
  tg::tril(y, -1).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("topk values, largest and smallest, along the last dim and dim 0: gradients", "[model-ops][grad][index]") {
  const Tensor x = distinct64({3, 5});
  for (bool largest : {true, false}) {
    INFO("largest " << largest);
    CHECK(tg::gradcheck([largest](const Inputs& in) { return tg::topk(in[0], 2, -1, largest).values; }, {x}));
    CHECK(tg::gradcheck([largest](const Inputs& in) { return tg::topk(in[0], 2, 0, largest).values; }, {x}));
  }
  const Tensor y = leaf64({0.5, 3.0, -1.0, 2.0});
  (tg::topk(y, 2).values * constant64({10, 1})).sum().backward();  // 3.0 gets 10, 2.0 gets 1
  CHECK(values(y.grad()) == std::vector<double>{0, 10, 0, 1});
}

TEST_CASE("cumsum along dims 0 and 1: gradients are reversed running sums", "[model-ops][grad][index]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::cumsum(in[0], 0); }, {any64({4, 3}, 130)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::cumsum(in[0], 1) * in[0]; }, {any64({4, 3}, 131)}));
  const Tensor x = leaf64({1, 1, 1, 1});
  tg::cumsum(x, 0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 3, 2, 1});
}

TEST_CASE("index out of range: index_select, gather, scatter_add name the index, the dim and its size",
          "[model-ops][bad_input][index]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::index_select(x, 1, index64({0, 3}, {2})),
                 Contains("index_select") && Contains("index 3") && Contains("dim 1") && Contains("size 3"));
  CHECK_TG_ERROR(tg::index_select(x, 0, index64({7}, {1})),
                 Contains("index_select") && Contains("index 7") && Contains("size 2"));
  CHECK_TG_ERROR(tg::gather(x, 1, index64({0, 5}, {1, 2})),
                 Contains("gather") && Contains("index 5") && Contains("dim 1") && Contains("size 3"));
  CHECK_TG_ERROR(tg::scatter_add(x, 0, index64({2, 0}, {1, 2}), tg::ones({1, 2})),
                 Contains("scatter_add") && Contains("index 2") && Contains("dim 0") && Contains("size 2"));
}

TEST_CASE("negative indices are rejected by index_select, gather and scatter_add, as in PyTorch",
          "[model-ops][bad_input][index]") {
  // torch 1.13: index_select -> "index out of range in self"; gather and scatter_add ->
  // "index -1 is out of bounds for dimension 0 with size 3". None of them wraps.
  const Tensor x = tg::tensor({1, 2, 3});
  CHECK_TG_ERROR(tg::index_select(x, 0, index64({-1}, {1})),
                 Contains("index_select") && Contains("-1") && Contains("3"));
  CHECK_TG_ERROR(tg::gather(x, 0, index64({-1}, {1})), Contains("gather") && Contains("-1") && Contains("3"));
  CHECK_TG_ERROR(tg::scatter_add(x, 0, index64({-1}, {1}), tg::ones({1})),
                 Contains("scatter_add") && Contains("-1") && Contains("3"));
}

TEST_CASE("index out of range: embedding and one_hot name the index and the number of rows or classes",
          "[model-ops][bad_input][index]") {
  const Tensor w = tg::ones({5, 2});
  CHECK_TG_ERROR(tg::embedding(w, index64({1, 5}, {2})),
                 Contains("embedding") && Contains("index 5") && Contains("5 rows"));
  CHECK_TG_ERROR(tg::embedding(w, index64({-1}, {1})),
                 Contains("embedding") && Contains("index -1") && Contains("5 rows"));
  CHECK_TG_ERROR(tg::one_hot(index64({0, 4}, {2}), 3),
                 Contains("one_hot") && Contains("index 4") && Contains("3 classes"));
  CHECK_TG_ERROR(tg::one_hot(index64({-2}, {1}), 3), Contains("one_hot") && Contains("index -2"));
  CHECK_TG_ERROR(tg::one_hot(tg::zeros({0}, tg::kInt64)), Contains("one_hot") && Contains("num_classes"));
}

TEST_CASE("embedding with a padding_idx outside the rows is an error, as in PyTorch", "[model-ops][bad_input][index]") {
  // torch 1.13: F.embedding(idx, ones(5, 2), padding_idx=5) -> "Padding_idx must be within num_embeddings".
  CHECK_TG_ERROR(tg::embedding(tg::ones({5, 2}), index64({0}, {1}), 5),
                 Contains("embedding") && Contains("padding_idx") && Contains("5"));
}

TEST_CASE("masked_fill of an int64 tensor with a value that does not fit is an error, as in PyTorch",
          "[model-ops][bad_input][index]") {
  // torch 1.13: arange(3).masked_fill(mask, -inf) -> "value cannot be converted to type int64_t
  // without overflow". Casting -inf to int64 is undefined behaviour in C++.
  const Tensor m = tg::ones({3}, tg::kBool);
  CHECK_TG_ERROR(tg::masked_fill(tg::arange(3), m, -std::numeric_limits<double>::infinity()),
                 Contains("masked_fill") && Contains("int64") && Contains("-inf"));
  CHECK_TG_ERROR(tg::masked_fill(tg::arange(3), m, 1e30), Contains("masked_fill") && Contains("int64"));
}

TEST_CASE("non-int64 index tensors are rejected, naming the op and the dtype", "[model-ops][bad_input][index]") {
  const Tensor x = tg::ones({3, 3});
  const Tensor fidx = tg::tensor({0, 1});  // float32
  CHECK_TG_ERROR(tg::index_select(x, 0, fidx), Contains("index_select") && Contains("int64") && Contains("float32"));
  CHECK_TG_ERROR(tg::gather(x, 0, fidx.reshape({1, 2})), Contains("gather") && Contains("float32"));
  CHECK_TG_ERROR(tg::scatter_add(x, 0, fidx.reshape({1, 2}), x), Contains("scatter_add") && Contains("float32"));
  CHECK_TG_ERROR(tg::embedding(x, fidx), Contains("embedding") && Contains("float32"));
  CHECK_TG_ERROR(tg::one_hot(bools({true}, {1}), 2), Contains("one_hot") && Contains("bool"));
}

TEST_CASE("gather and scatter_add: index and src of the wrong rank or size", "[model-ops][bad_input][index]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::gather(x, 1, index64({0, 1}, {2})),
                 Contains("gather") && Contains("[2]") && Contains("[2, 3]") && Contains("1 dims"));
  CHECK_TG_ERROR(tg::gather(x, 1, tg::zeros({3, 1}, tg::kInt64)),
                 Contains("gather") && Contains("[3, 1]") && Contains("dim 0") && Contains("3 > 2"));
  CHECK_TG_ERROR(tg::scatter_add(x, 1, tg::zeros({2, 2}, tg::kInt64), tg::ones({2, 1})),
                 Contains("scatter_add") && Contains("[2, 2]") && Contains("[2, 1]"));
  CHECK_TG_ERROR(tg::embedding(tg::ones({5}), index64({0}, {1})), Contains("embedding") && Contains("[5]"));
}

TEST_CASE("topk with k larger than the dim names k and the size", "[model-ops][bad_input][index]") {
  CHECK_TG_ERROR(tg::topk(tg::ones({2, 5}), 6), Contains("topk") && Contains("6") && Contains("size 5"));
  CHECK_TG_ERROR(tg::topk(tg::ones({2, 5}), 3, 0), Contains("topk") && Contains("3") && Contains("size 2"));
  CHECK_TG_ERROR(tg::topk(tg::ones({5}), -1), Contains("topk") && Contains("-1"));
}

TEST_CASE("masked_fill and where: non-bool masks name the dtype, wrong shapes name both shapes",
          "[model-ops][bad_input][index]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::masked_fill(x, tg::ones({2, 3}), 0.0),
                 Contains("masked_fill") && Contains("bool") && Contains("float32"));
  CHECK_TG_ERROR(tg::masked_fill(x, tg::ones({3}, tg::kInt64), 0.0), Contains("masked_fill") && Contains("int64"));
  CHECK_TG_ERROR(tg::masked_fill(x, bools({true, false, true, false}, {4}), 0.0),
                 Contains("masked_fill") && Contains("[2, 3]") && Contains("[4]"));
  CHECK_TG_ERROR(tg::masked_fill(x, tg::ones({2, 2, 3}, tg::kBool), 0.0),
                 Contains("masked_fill") && Contains("[2, 2, 3]") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::masked_fill_(x, tg::ones({2, 3}), 0.0), Contains("masked_fill_") && Contains("float32"));
  CHECK_TG_ERROR(tg::where(tg::ones({2, 3}, tg::kInt64), x, x),
                 Contains("where") && Contains("bool") && Contains("int64"));
  CHECK_TG_ERROR(tg::where(tg::ones({4}, tg::kBool), x, x), Contains("where") && Contains("[4]") && Contains("[2, 3]"));
}

TEST_CASE("tril and triu of a 1-D tensor name the shape", "[model-ops][bad_input][index]") {
  CHECK_TG_ERROR(tg::tril(tg::ones({4})), Contains("tril") && Contains("2 dims") && Contains("[4]"));
  CHECK_TG_ERROR(tg::triu(tg::scalar_tensor(1.0)), Contains("triu") && Contains("[]"));
}

TEST_CASE("masked_fill_ with a mask that does not broadcast to self names both shapes",
          "[model-ops][bad_input][inplace]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::masked_fill_(x, tg::ones({2, 2, 3}, tg::kBool), 0.0),
                 Contains("masked_fill_") && Contains("[2, 2, 3]") && Contains("[2, 3]"));
}
