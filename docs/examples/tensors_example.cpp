// The program behind docs/tensors.md. Every stride, dtype, shape and message that page states
// is checked here; ctest runs it as the test doc_tensors. The regions between
// "// [doc:NAME]" and "// [/doc:NAME]" are quoted in the page word for word.
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "tapegrad/tapegrad.h"

using doc::check;
using doc::error_of;
using tg::DimVec;
using tg::Tensor;
using I64 = std::vector<std::int64_t>;

// [doc:strides]
void strides_of_a_contiguous_tensor() {
  const Tensor t = tg::arange(24).reshape({2, 3, 4});  // int64 values 0..23 in one storage
  check(t.shape() == DimVec{2, 3, 4});
  check(t.strides() == DimVec{12, 4, 1});  // elements to skip for one step along each dim
  check(t.offset() == 0);
  check(t.is_contiguous());
  // Element [i, j, k] is at storage position offset + 12 i + 4 j + 1 k.
  check(t.at<std::int64_t>({1, 2, 3}) == 1 * 12 + 2 * 4 + 3 * 1);
}
// [/doc:strides]

// [doc:views]
void views_share_storage() {
  const Tensor t = tg::arange(24).reshape({2, 3, 4});  // strides [12, 4, 1]

  const Tensor p = t.permute({2, 0, 1});  // shape [4, 2, 3]: each stride moves with its dim
  check(p.strides() == DimVec{1, 12, 4});

  const Tensor tr = t.transpose(0, 2);  // shape [4, 3, 2]: two dims and their strides swap
  check(tr.strides() == DimVec{1, 4, 12});

  const Tensor u = t.unsqueeze(1);  // shape [2, 1, 3, 4]: a new size-1 dim
  check(u.strides() == DimVec{12, 12, 4, 1});
  check(u.squeeze(1).strides() == t.strides());

  const Tensor s = t.select(1, 2);  // t[:, 2, :], shape [2, 4]: the dim goes, the offset moves
  check(s.strides() == DimVec{12, 1} && s.offset() == 2 * 4);

  const Tensor sl = t.slice(2, 1, 4, 2);  // t[:, :, 1:4:2], shape [2, 3, 2]: stride times step
  check(sl.strides() == DimVec{12, 4, 2} && sl.offset() == 1);
  check(sl.to_vector<std::int64_t>() == I64{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});

  const Tensor col = tg::arange(3).reshape({3, 1});
  const Tensor e = col.expand({3, 4});  // shape [3, 4]: stride 0 repeats an element
  check(e.strides() == DimVec{1, 0});
  check(e.to_vector<std::int64_t>() == I64{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});

  for (const Tensor& v : {p, tr, u, s, sl}) check(v.shares_storage_with(t));
  check(e.shares_storage_with(col));

  // Writing through a view writes the storage every other view sees.
  s.fill_(-1);
  check(t.at<std::int64_t>({0, 2, 0}) == -1 && t.at<std::int64_t>({1, 2, 3}) == -1);
  check(t.version() == 1);  // the in-place write bumped the shared storage's version
}
// [/doc:views]

// [doc:reshape]
void view_and_reshape() {
  const Tensor t = tg::arange(24).reshape({2, 3, 4});
  const Tensor v = t.view({6, -1});  // the -1 is inferred: shape [6, 4]
  check(v.shape() == DimVec{6, 4} && v.strides() == DimVec{4, 1});

  // view() needs strides that can express the new shape, not a contiguous input:
  const Tensor column0 = t.select(2, 0);  // shape [2, 3], strides [12, 4]: not contiguous
  const Tensor flat = column0.view({6});  // one stride, 4, walks both dims
  check(!column0.is_contiguous() && flat.strides() == DimVec{4});
  check(flat.to_vector<std::int64_t>() == I64{0, 4, 8, 12, 16, 20});

  // A permuted tensor cannot be flattened by any stride: view() refuses, reshape() copies.
  const Tensor p = t.permute({2, 0, 1});
  check(error_of([&] { p.view({24}); }) ==
        "view: shape [24] is not compatible with the strides [1, 12, 4] of the input of shape [4, 2, 3] "
        "(the input is not contiguous); use reshape(), which copies");
  const Tensor r = p.reshape({24});
  check(!r.shares_storage_with(t) && r.is_contiguous());
  check(r.to_vector<std::int64_t>()[1] == 4);       // p[0, 0, 1] = t[0, 1, 0]
  check(t.reshape({4, 6}).shares_storage_with(t));  // when a view is possible, reshape is one
}
// [/doc:reshape]

// [doc:contiguous]
void contiguity() {
  const Tensor t = tg::arange(6).reshape({2, 3});
  check(t.contiguous().impl() == t.impl());  // already contiguous: the same tensor, no copy

  const Tensor tt = t.t();  // shape [3, 2], strides [1, 3]
  check(!tt.is_contiguous());
  const Tensor c = tt.contiguous();  // a row-major copy
  check(c.is_contiguous() && c.strides() == DimVec{2, 1} && !c.shares_storage_with(t));
  check(c.to_vector<std::int64_t>() == I64{0, 3, 1, 4, 2, 5});

  // A size-1 dim never breaks contiguity, whatever its stride says.
  const Tensor row1 = t.slice(0, 1, 2);  // shape [1, 3], strides [3, 1], offset 3
  check(row1.is_contiguous());
  // A stride-0 dim does: the elements are not laid out one after another.
  check(!tg::arange(3).expand({2, 3}).is_contiguous());
}
// [/doc:contiguous]

// [doc:dtypes]
void dtypes_and_promotion() {
  const Tensor i = tg::tensor({1, 2, 3}, tg::kInt64);
  const Tensor f = tg::tensor({0.5, 0.5, 0.5});  // float32, the default
  const Tensor d = tg::tensor({1, 1, 1}, tg::kFloat64);

  const Tensor mask = i.gt(1.0);  // comparisons give bool: {false, true, true}
  check(mask.dtype() == tg::kBool);
  check((mask + i).dtype() == tg::kInt64);  // bool < int64
  check((i + f).dtype() == tg::kFloat32);   // int64 < float32
  check((f + d).dtype() == tg::kFloat64);   // float32 < float64

  const Tensor q = i / tg::tensor({2, 2, 2}, tg::kInt64);  // true division: int64 / int64 -> float32
  check(q.dtype() == tg::kFloat32 && q.to_vector<float>() == std::vector<float>{0.5f, 1.0f, 1.5f});

  // A C++ number keeps the tensor's dtype unless it must not:
  check((i + 1.0).dtype() == tg::kInt64);     // an integral number: int64 stays int64
  check((i * 0.5).dtype() == tg::kFloat32);   // a fraction: float32
  check((mask + 1.0).dtype() == tg::kInt64);  // bool with a number: int64
  check((f * 2.0).dtype() == tg::kFloat32);   // a float tensor keeps its own dtype

  check(mask.sum().dtype() == tg::kInt64 && mask.sum().item<std::int64_t>() == 2);  // counting
}
// [/doc:dtypes]

// [doc:broadcast]
void broadcasting() {
  // Shapes are aligned at the right; each pair of sizes must be equal, or one of them 1.
  check(tg::broadcast_shapes({2, 1, 4}, {3, 1}, "example") == DimVec{2, 3, 4});
  check(tg::broadcast_shapes({5}, {}, "example") == DimVec{5});

  const Tensor x = tg::tensor({{1, 2, 3}, {4, 5, 6}});  // [2, 3]
  const Tensor row = tg::tensor({10, 20, 30});          // [3]: added to every row
  const Tensor col = tg::tensor({{100}, {200}});        // [2, 1]: added to every column
  check((x + row).to_vector<float>() == std::vector<float>{11, 22, 33, 14, 25, 36});
  check((x + col).to_vector<float>() == std::vector<float>{101, 102, 103, 204, 205, 206});
  check((row + col).shape() == DimVec{2, 3});  // both stretch: [3] and [2, 1] give [2, 3]

  check(error_of([&] { x + tg::tensor({1, 2}); }) == "add: shapes [2, 3] and [2] cannot be broadcast (dim -1: 3 vs 2)");
}
// [/doc:broadcast]

// [doc:allocator]
void allocator_reuses_blocks() {
  // 4000 bytes: the 4096-byte size class. The tensor dies at the end of the line, and its
  // block goes to this thread's cache; the next request of that class gets it back.
  const auto first = reinterpret_cast<std::uintptr_t>(tg::zeros({1000}).data_ptr());
  const auto second = reinterpret_cast<std::uintptr_t>(tg::zeros({1000}).data_ptr());
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)first, (void)second;  // the cache is off under sanitizers: they must see every malloc
#else
  check(first == second);
#endif
}
// [/doc:allocator]

// [doc:threads]
bool bit_identical(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous(), y = b.contiguous();
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * tg::itemsize(x.dtype())) == 0;
}

void thread_count_does_not_change_results() {
  const int default_threads = tg::get_num_threads();
  auto compute = [](int threads) {
    tg::set_num_threads(threads);
    tg::manual_seed(0);
    const Tensor x = tg::randn({1 << 20});  // 64 blocks of 16384 for a full reduction
    const Tensor m = x.view({1024, 1024});
    return std::vector<Tensor>{
        x, x.sum(), m.sum({0}), m.mean({1}), (x * 2.0 + 1.0).tanh(), m.slice(0, 0, 512).matmul(m.slice(1, 0, 512))};
  };
  const std::vector<Tensor> one = compute(1), four = compute(4);
  tg::set_num_threads(default_threads);
  for (std::size_t k = 0; k < one.size(); ++k) check(bit_identical(one[k], four[k]));
}
// [/doc:threads]

// [doc:printing]
void printing_and_debugging() {
  const Tensor x = tg::tensor({{1.5, 2}, {3, 4}});
  check(tg::to_string(x) ==
        "tensor([[1.5000, 2.0000],\n"
        "        [3.0000, 4.0000]], shape=[2, 2], dtype=float32)");
  std::ostringstream os;
  os << x;  // the same text; so is fmt::format("{}", x)
  check(os.str() == tg::to_string(x) && fmt::format("{}", x) == os.str());
  const Tensor w = tg::tensor({1.0, 2.0}).requires_grad_();
  check(tg::to_string(w) == "tensor([1., 2.], shape=[2], dtype=float32, requires_grad=True)");
  check(tg::to_string(w * 2.0) == "tensor([2., 4.], shape=[2], dtype=float32, grad_fn=<MulBackward>)");
  check((w * 2.0).grad_fn_name() == "MulBackward");
  check(tg::shape_str(x.shape()) == "[2, 2]" && fmt::format("{}", x.shape()) == "[2, 2]");
  check(std::string(tg::dtype_name(x.dtype())) == "float32");
  check(x.shape()[-1] == 2);  // negative indices count from the end; out of range is an error
  check(error_of([&] { (void)x.shape()[2]; }) ==
        "shape()[2]: index 2 is out of range for a tensor of 2 dims (shape [2, 2]); valid indices are -2 to 1");
}
// [/doc:printing]

// [doc:errors]
void error_messages() {
  const Tensor a = tg::zeros({2, 3}), b = tg::zeros({4, 5});
  check(error_of([&] { tg::matmul(a, b); }) == "matmul: cannot multiply [2, 3] by [4, 5] (3 != 4)");
  check(error_of([&] { a.select(1, 3); }) == "select: index 3 is out of range for dim 1 of size 3");
  check(error_of([&] { a.sum({2}); }) ==
        "sum: dim 2 is out of range for a tensor of 2 dimensions (expected in [-2, 1])");
  check(error_of([&] { tg::arange(3).tanh(); }) ==
        "tanh: expected a floating-point tensor (float32 or float64), got int64");
}
// [/doc:errors]

// [doc:limits]
void shape_limits() {
  const std::int64_t n40 = std::int64_t{1} << 40, n62 = std::int64_t{1} << 62, n32 = std::int64_t{1} << 32;
  const std::string too_many = "zeros: shape [1099511627776, 1099511627776] has more than 2^63-1 elements";
  check(error_of([&] { tg::zeros({n40, n40}); }) == too_many);
  check(error_of([&] { tg::ones({n62}); }) ==
        "ones: shape [4611686018427387904] of float32 needs more than 2^63-1 bytes "
        "(4611686018427387904 elements of 4 bytes each)");
  check(error_of([&] { tg::zeros({2, -1}); }) == "zeros: negative dimension -1 in shape [2, -1]");
  // An expanded view takes no memory, so it may have up to 2^63-1 elements...
  const Tensor col = tg::ones({1, 1}).expand({n32, 1}), row = tg::ones({1, 1}).expand({1, n32});
  check(col.numel() == n32);
  // ...but a result of 2^64 elements is refused by the op that would make it.
  check(error_of([&] { (void)(col * row); }) == "mul: shape [4294967296, 4294967296] has more than 2^63-1 elements");
  check(error_of([&] { tg::arange(0.0, 1e30); }) ==
        "arange: the range from 0 to 1e+30 with step 1 has 1e+30 elements, more than 2^63-1");
}
// [/doc:limits]

int main() {
  strides_of_a_contiguous_tensor();
  views_share_storage();
  view_and_reshape();
  contiguity();
  dtypes_and_promotion();
  broadcasting();
  allocator_reuses_blocks();
  thread_count_does_not_change_results();
  printing_and_debugging();
  error_messages();
  shape_limits();
  return doc::exit_code();
}
