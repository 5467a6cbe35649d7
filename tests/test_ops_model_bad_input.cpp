// Bad input to the model-building ops (shape_ops.h, index_ops.h, activation.h, conv.h): every
// error is a tg::Error whose message names the op and the offending values.
#include <catch2/catch.hpp>
#include <limits>

#include "helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using tg::Tensor;

namespace {
Tensor index64(const std::vector<std::int64_t>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }
Tensor bools(const std::vector<bool>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }
}  // namespace

// ---- indices ----------------------------------------------------------------------------------------------

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

// ---- joining and splitting -----------------------------------------------------------------------------------

TEST_CASE("cat of mismatched shapes names the dim, the tensor and both shapes", "[model-ops][bad_input][shape]") {
  const Tensor a = tg::ones({2, 3}), b = tg::ones({2, 4}), c = tg::ones({3, 3});
  CHECK_TG_ERROR(tg::cat({a, b}, 0), Contains("cat") && Contains("except in dim 0") && Contains("tensor 1") &&
                                         Contains("[2, 4]") && Contains("[2, 3]") && Contains("4 != 3"));
  CHECK_TG_ERROR(tg::cat({a, a, c}, 1), Contains("cat") && Contains("except in dim 1") && Contains("tensor 2") &&
                                            Contains("[3, 3]") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::cat({a, tg::ones({6})}), Contains("cat") && Contains("tensor 1") && Contains("1 dims") &&
                                                  Contains("[6]") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::cat({a, a}, 2), Contains("cat") && Contains("dim 2") && Contains("out of range"));
  CHECK_TG_ERROR(tg::cat({tg::scalar_tensor(1.0), tg::scalar_tensor(2.0)}),
                 Contains("cat") && Contains("zero-dimensional"));
}

TEST_CASE("cat of different dtypes names both, cat of an empty list says so", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::cat({tg::ones({2}), tg::ones({2}, tg::kFloat64)}),
                 Contains("cat") && Contains("tensor 1") && Contains("float64") && Contains("float32"));
  CHECK_TG_ERROR(tg::cat({}), Contains("cat") && Contains("non-empty"));
  CHECK_TG_ERROR(tg::stack({}), Contains("stack") && Contains("non-empty"));
}

TEST_CASE("stack of different shapes names the tensor and both shapes", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::stack({tg::ones({2}), tg::ones({2}), tg::ones({3})}),
                 Contains("stack") && Contains("tensor 2") && Contains("[3]") && Contains("[2]"));
  CHECK_TG_ERROR(tg::stack({tg::ones({2, 3}), tg::ones({3, 2})}, 1), Contains("stack") && Contains("[3, 2]"));
}

TEST_CASE("stack of different dtypes names stack, not the cat it is built on", "[model-ops][bad_input][shape]") {
  CHECK_TG_ERROR(tg::stack({tg::ones({2}), tg::ones({2}, tg::kFloat64)}),
                 Contains("stack") && Contains("float64") && Contains("float32"));
}

TEST_CASE("split, chunk, narrow: sizes that do not fit name the sizes and the dim", "[model-ops][bad_input][shape]") {
  const Tensor x = tg::ones({5, 4});
  CHECK_TG_ERROR(tg::split(x, {1, 2}), Contains("split") && Contains("[1, 2]") && Contains("add up to 3") &&
                                           Contains("dim 0") && Contains("size 5"));
  CHECK_TG_ERROR(tg::split(x, {2, 3}, 1), Contains("split") && Contains("5") && Contains("size 4"));
  CHECK_TG_ERROR(tg::split(x, {6, -1}), Contains("split") && Contains("non-negative"));
  CHECK_TG_ERROR(tg::split(x, 0), Contains("split") && Contains("positive") && Contains("got 0"));
  CHECK_TG_ERROR(tg::chunk(x, 0), Contains("chunk") && Contains("positive") && Contains("got 0"));
  CHECK_TG_ERROR(tg::narrow(x, 1, 2, 3), Contains("narrow") && Contains("start 2") && Contains("length 3") &&
                                             Contains("dim 1") && Contains("size 4"));
  CHECK_TG_ERROR(tg::narrow(x, 0, 6, 0), Contains("narrow") && Contains("start 6"));
  CHECK_TG_ERROR(tg::narrow(x, 0, 0, -1), Contains("narrow") && Contains("length -1"));
}

TEST_CASE("split, chunk, narrow and unflatten of a 0-d tensor are errors naming the op, as in PyTorch",
          "[model-ops][bad_input][shape][!mayfail]") {
  // torch 1.13: "split expects at least a 1-dimensional tensor", "chunk expects at least a
  // 1-dimensional tensor", "narrow() cannot be applied to a 0-dim tensor.", unflatten: "Dimension
  // specified as 0 but tensor has no dimensions".
  const Tensor s = tg::scalar_tensor(1.0);
  CHECK_TG_ERROR(tg::split(s, 1), Contains("split") && Contains("0-d"));
  CHECK_TG_ERROR(tg::split(s, {1}), Contains("split") && Contains("0-d"));
  CHECK_TG_ERROR(tg::chunk(s, 2), Contains("chunk") && Contains("0-d"));
  CHECK_TG_ERROR(tg::narrow(s, 0, 0, 1), Contains("narrow") && Contains("0-d"));
  CHECK_TG_ERROR(tg::unflatten(s, 0, {1}), Contains("unflatten") && Contains("0-d"));
}

TEST_CASE("flip of a repeated dim, repeat with too few repeats, unflatten with wrong sizes",
          "[model-ops][bad_input][shape]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::flip(x, {1, -1}), Contains("flip") && Contains("dim 1") && Contains("more than once"));
  CHECK_TG_ERROR(tg::flip(x, {2}), Contains("flip") && Contains("dim 2"));
  CHECK_TG_ERROR(tg::repeat(x, {2}),
                 Contains("repeat") && Contains("1 repeats") && Contains("2 dims") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::repeat(x, {2, -1}), Contains("repeat") && Contains("non-negative"));
  CHECK_TG_ERROR(tg::unflatten(x, 1, {2, 2}), Contains("unflatten") && Contains("[2, 2]") && Contains("3"));
  CHECK_TG_ERROR(tg::flatten(tg::ones({2, 3, 4}), 2, 1),
                 Contains("flatten") && Contains("start_dim 2") && Contains("end_dim 1"));
}

// ---- convolution ---------------------------------------------------------------------------------------------

TEST_CASE("conv2d: a kernel larger than the padded input names both sizes", "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({1, 1, 5, 2})),
                 Contains("conv2d") && Contains("kernel") && Contains("5x2") && Contains("padded input (3x4)"));
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({1, 1, 3, 3}), {}, 1, 0, 2),  // dilated 3x3 spans 5x5
                 Contains("conv2d") && Contains("5x5 with dilation") && Contains("3x3 without") && Contains("(3x4)"));
  CHECK_NOTHROW(tg::conv2d(x, tg::ones({1, 1, 5, 2}), {}, 1, 1));  // padded to 5x6 it fits
}

TEST_CASE("conv2d: negative padding, zero or negative stride, zero dilation or groups name the values",
          "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 5, 5}), w = tg::ones({2, 2, 3, 3});
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, {-1, 0}), Contains("conv2d") && Contains("negative padding (-1, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 0), Contains("conv2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, {1, -2}), Contains("conv2d") && Contains("stride") && Contains("(1, -2)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, 0, 0), Contains("conv2d") && Contains("dilation") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, 0, 1, 0), Contains("conv2d") && Contains("groups") && Contains("got 0"));
}

TEST_CASE("conv2d: groups must divide the input and output channels", "[model-ops][bad_input][conv]") {
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 3, 5, 5}), tg::ones({4, 1, 3, 3}), {}, 1, 0, 1, 2),
                 Contains("conv2d") && Contains("groups (2)") && Contains("input channels (3)"));
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 4, 5, 5}), tg::ones({3, 2, 3, 3}), {}, 1, 0, 1, 2),
                 Contains("conv2d") && Contains("groups (2)") && Contains("output channels (3)"));
}

TEST_CASE("conv2d: a weight for the wrong number of input channels names expected and actual",
          "[model-ops][bad_input][conv]") {
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 3, 5, 5}), tg::ones({4, 2, 3, 3})),
                 Contains("conv2d") && Contains("[4, 2, 3, 3]") && Contains("expects 2 input channels") &&
                     Contains("input has 3") && Contains("[1, 3, 5, 5]"));
  CHECK_TG_ERROR(
      tg::conv2d(tg::ones({1, 4, 5, 5}), tg::ones({4, 1, 3, 3}), {}, 1, 0, 1, 2),
      Contains("conv2d") && Contains("groups=2") && Contains("expects 2 input channels") && Contains("input has 4"));
}

TEST_CASE("conv2d: wrong ranks, wrong bias shape and mismatched dtypes name the shapes and dtypes",
          "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 5, 5}), w = tg::ones({3, 2, 3, 3});
  CHECK_TG_ERROR(tg::conv2d(tg::ones({5, 5}), w),
                 Contains("conv2d") && Contains("3-D or 4-D input") && Contains("[5, 5]"));
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 1, 2, 5, 5}), w), Contains("conv2d") && Contains("[1, 1, 2, 5, 5]"));
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({3, 2, 3})),
                 Contains("conv2d") && Contains("4-D weight") && Contains("[3, 2, 3]"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({2})),
                 Contains("conv2d") && Contains("bias") && Contains("[3]") && Contains("[2]"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({1, 3})), Contains("conv2d") && Contains("bias") && Contains("[1, 3]"));
  CHECK_TG_ERROR(tg::conv2d(x, w.to(tg::kFloat64)), Contains("conv2d") && Contains("float32") && Contains("float64"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({3}, tg::kFloat64)),
                 Contains("conv2d") && Contains("bias is float64") && Contains("float32"));
  CHECK_TG_ERROR(tg::conv2d(x.to(tg::kInt64), w.to(tg::kInt64)), Contains("conv2d") && Contains("int64"));
}

TEST_CASE("conv1d: the same checks, with 1-d sizes in the messages", "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 8}), w = tg::ones({3, 2, 3});
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 1, 3}), tg::ones({1, 1, 5})),
                 Contains("conv1d") && Contains("kernel (5 with dilation, 5 without)") && Contains("padded input (3)"));
  CHECK_TG_ERROR(tg::conv1d(x, tg::ones({1, 2, 3}), {}, 1, 0, 4),
                 Contains("conv1d") && Contains("9 with dilation") && Contains("(8)"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 1, -1), Contains("conv1d") && Contains("negative padding -1"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 0), Contains("conv1d") && Contains("stride must be positive, got 0"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, -3), Contains("conv1d") && Contains("got -3"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 1, 0, 0), Contains("conv1d") && Contains("dilation") && Contains("got 0"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 3, 8}), tg::ones({4, 1, 3}), {}, 1, 0, 1, 2),
                 Contains("conv1d") && Contains("groups (2)") && Contains("input channels (3)"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 4, 8}), tg::ones({3, 2, 3}), {}, 1, 0, 1, 2),
                 Contains("conv1d") && Contains("output channels (3)"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 3, 8}), tg::ones({4, 2, 3})),
                 Contains("conv1d") && Contains("[4, 2, 3]") && Contains("expects 2 input channels") &&
                     Contains("input has 3") && Contains("[1, 3, 8]"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({8}), w), Contains("conv1d") && Contains("2-D or 3-D input") && Contains("[8]"));
  CHECK_TG_ERROR(tg::conv1d(x, tg::ones({3, 2, 3, 1})),
                 Contains("conv1d") && Contains("3-D weight") && Contains("[3, 2, 3, 1]"));
  CHECK_TG_ERROR(tg::conv1d(x, w, tg::ones({4})),
                 Contains("conv1d") && Contains("bias") && Contains("[3]") && Contains("[4]"));
  CHECK_TG_ERROR(tg::conv1d(x.to(tg::kFloat64), w), Contains("conv1d") && Contains("float64") && Contains("float32"));
}

// ---- pooling -------------------------------------------------------------------------------------------------

TEST_CASE("max_pool2d: padding over half the kernel, a kernel larger than the padded input, zero stride",
          "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::max_pool2d(x, 3, 1, 2),
                 Contains("max_pool2d") && Contains("padding (2, 2)") && Contains("half the kernel size (3, 3)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, {2, 3}, 1, {0, 2}), Contains("max_pool2d") && Contains("padding (0, 2)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 4), Contains("max_pool2d") && Contains("4x4") && Contains("padded input (3x4)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 1, 0, 3),
                 Contains("max_pool2d") && Contains("4x4 with dilation") && Contains("(3x4)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 0), Contains("max_pool2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, tg::Int2(1, -1)),
                 Contains("max_pool2d") && Contains("stride") && Contains("(1, -1)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 0), Contains("max_pool2d") && Contains("kernel size") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 2, -1), Contains("max_pool2d") && Contains("negative padding (-1, -1)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 1, 0, 0), Contains("max_pool2d") && Contains("dilation") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(tg::ones({4, 4}), 2), Contains("max_pool2d") && Contains("[4, 4]"));
  CHECK_TG_ERROR(tg::max_pool2d(tg::ones({1, 4, 4}, tg::kInt64), 2), Contains("max_pool2d") && Contains("int64"));
}

TEST_CASE("avg_pool2d: padding over half the kernel, a kernel larger than the padded input, zero stride",
          "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::avg_pool2d(x, 3, 1, 2),
                 Contains("avg_pool2d") && Contains("padding (2, 2)") && Contains("half the kernel size (3, 3)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, {5, 2}),
                 Contains("avg_pool2d") && Contains("5x2") && Contains("padded input (3x4)"));
  CHECK_NOTHROW(tg::avg_pool2d(x, {5, 2}, 1, {1, 0}));  // padded to 5x4 it fits
  CHECK_TG_ERROR(tg::avg_pool2d(x, 2, 0), Contains("avg_pool2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, {0, 2}), Contains("avg_pool2d") && Contains("kernel size") && Contains("(0, 2)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, 2, 2, {0, -1}), Contains("avg_pool2d") && Contains("negative padding (0, -1)"));
  CHECK_TG_ERROR(tg::avg_pool2d(tg::ones({2, 1, 1, 4, 4}), 2), Contains("avg_pool2d") && Contains("[2, 1, 1, 4, 4]"));
}

TEST_CASE("adaptive pools: an output size of 0 names the size", "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 2, 5, 5});
  CHECK_TG_ERROR(tg::adaptive_avg_pool2d(x, {0, 2}),
                 Contains("adaptive_avg_pool2d") && Contains("output size") && Contains("(0, 2)"));
  CHECK_TG_ERROR(tg::adaptive_max_pool2d(x, 0),
                 Contains("adaptive_max_pool2d") && Contains("output size") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::adaptive_avg_pool2d(tg::ones({1, 2, 0, 5}), 1),
                 Contains("adaptive_avg_pool2d") && Contains("0x5"));
  CHECK_TG_ERROR(tg::adaptive_max_pool2d(tg::ones({5, 5}), 1), Contains("adaptive_max_pool2d") && Contains("[5, 5]"));
}

// ---- activations, statistics, dropout ----------------------------------------------------------------------------

TEST_CASE("gelu with an unknown approximation, softplus with beta <= 0, dropout with p below 0 or above 1",
          "[model-ops][bad_input][activation]") {
  const Tensor x = tg::ones({3});
  CHECK_TG_ERROR(tg::gelu(x, "fast"), Contains("gelu") && Contains("\"fast\"") && Contains("none") && Contains("tanh"));
  CHECK_TG_ERROR(tg::gelu(x, "Tanh"), Contains("gelu") && Contains("\"Tanh\""));
  CHECK_TG_ERROR(tg::softplus(x, 0.0), Contains("softplus") && Contains("beta") && Contains("got 0"));
  CHECK_TG_ERROR(tg::softplus(x, -2.0), Contains("softplus") && Contains("got -2"));
  CHECK_TG_ERROR(tg::dropout(x, 1.5), Contains("dropout") && Contains("[0, 1]") && Contains("1.5"));
  CHECK_TG_ERROR(tg::dropout(x, -0.1), Contains("dropout") && Contains("-0.1"));
  CHECK_TG_ERROR(tg::dropout(x, 2.0, /*training=*/false), Contains("dropout") && Contains("got 2"));
}

TEST_CASE("clamp and clamp_ with neither bound say that one is needed", "[model-ops][bad_input][activation]") {
  const Tensor x = tg::ones({3});
  CHECK_TG_ERROR(tg::clamp(x, std::nullopt, std::nullopt), Contains("clamp") && Contains("min") && Contains("max"));
  CHECK_TG_ERROR(tg::clamp_(x, std::nullopt), Contains("clamp_") && Contains("at least one"));
}

TEST_CASE("statistics: norm with an unsupported p, logsumexp without dims, var of integers",
          "[model-ops][bad_input][stats]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::norm(x, 3.0), Contains("norm") && Contains("got 3"));
  CHECK_TG_ERROR(tg::logsumexp(x, {}), Contains("logsumexp") && Contains("dims"));
  CHECK_TG_ERROR(tg::var(tg::ones({3}, tg::kInt64)), Contains("var") && Contains("int64"));
  CHECK_TG_ERROR(tg::gelu(tg::ones({3}, tg::kInt64)), Contains("gelu") && Contains("int64"));
}

TEST_CASE("logsumexp over a dim out of range names logsumexp, not the amax inside it",
          "[model-ops][bad_input][stats]") {
  CHECK_TG_ERROR(tg::logsumexp(tg::ones({2, 3}), {2}), Contains("logsumexp") && Contains("dim 2"));
}

// ---- in place ------------------------------------------------------------------------------------------------------

TEST_CASE("leaky_relu_ with a negative slope while recording cannot be differentiated and says so",
          "[model-ops][bad_input][inplace]") {
  const Tensor leaf = tg::ones({3}, tg::kFloat64).requires_grad_();
  const Tensor y = leaf * 2.0;
  CHECK_TG_ERROR(tg::leaky_relu_(y, -0.1), Contains("leaky_relu_") && Contains("-0.1") && Contains("slope"));
  // Without recording a negative slope is fine.
  const Tensor plain = tg::tensor({-1.0, 2.0});
  tg::leaky_relu_(plain, -0.5);
  CHECK(tg_test::values(plain) == std::vector<double>{0.5, 2});
  {
    tg::NoGradGuard guard;
    CHECK_NOTHROW(tg::leaky_relu_(y, -0.1));
  }
}

TEST_CASE("relu_, leaky_relu_, clamp_, masked_fill_ on a leaf that requires grad are errors naming the op",
          "[model-ops][bad_input][inplace]") {
  const Tensor leaf = tg::ones({3}).requires_grad_();
  CHECK_TG_ERROR(tg::relu_(leaf), Contains("relu_") && Contains("leaf") && Contains("[3]"));
  CHECK_TG_ERROR(tg::leaky_relu_(leaf), Contains("leaky_relu_") && Contains("leaf"));
  CHECK_TG_ERROR(tg::clamp_(leaf, 0.0), Contains("clamp_") && Contains("leaf"));
  CHECK_TG_ERROR(tg::masked_fill_(leaf, tg::ones({3}, tg::kBool), 0.0), Contains("masked_fill_") && Contains("leaf"));
  CHECK(tg_test::values(leaf) == std::vector<double>{1, 1, 1});  // nothing was written
  tg::NoGradGuard guard;
  CHECK_NOTHROW(tg::relu_(leaf));
}

TEST_CASE("in-place writes into an expanded tensor (overlapping elements) are errors naming the op and the dim",
          "[model-ops][bad_input][inplace]") {
  const Tensor base = tg::tensor({{-1.0}, {2.0}});
  const Tensor wide = base.expand({2, 3});
  CHECK_TG_ERROR(tg::relu_(wide), Contains("relu_") && Contains("overlap") && Contains("dim 1") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::leaky_relu_(wide), Contains("leaky_relu_") && Contains("overlap"));
  CHECK_TG_ERROR(tg::clamp_(wide, 0.0), Contains("clamp_") && Contains("overlap"));
  CHECK_TG_ERROR(tg::masked_fill_(wide, tg::ones({2, 3}, tg::kBool), 0.0),
                 Contains("masked_fill_") && Contains("overlap"));
  CHECK(tg_test::values(base) == std::vector<double>{-1, 2});
}

TEST_CASE("masked_fill_ with a mask that does not broadcast to self names both shapes",
          "[model-ops][bad_input][inplace]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::masked_fill_(x, tg::ones({2, 2, 3}, tg::kBool), 0.0),
                 Contains("masked_fill_") && Contains("[2, 2, 3]") && Contains("[2, 3]"));
}
