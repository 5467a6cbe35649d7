// The program behind the "kernel loop" section of docs/tensors.md: how the strided loop of
// core/src/kernels/loop.h lays out `out = a + b` for a few pairs of inputs. It includes that
// private header on purpose (docs/CMakeLists.txt adds core/src to its include path): the page
// describes internals, and this keeps the description true. ctest runs it as doc_kernel_loop.
#include <array>
#include <cstdint>
#include <vector>

#include "check.h"
#include "kernels/loop.h"
#include "tapegrad/tapegrad.h"

using doc::check;
using tg::Tensor;
using I64 = std::vector<std::int64_t>;

// [doc:loop]
/// What the loop of out = a + b looks like: its dims after dropping size-1 dims and merging,
/// the byte strides of (out, a, b) along each, and the runs the kernel is handed.
struct LoopLayout {
  I64 sizes;
  std::vector<std::array<std::int64_t, 3>> strides;  // per merged dim: out, a, b (bytes)
  std::int64_t runs = 0;
  std::int64_t run_length = 0;
  std::array<std::int64_t, 3> inner_strides{};
};

LoopLayout layout_of(const Tensor& a, const Tensor& b) {
  const tg::DimVec shape = tg::broadcast_shapes(a.shape(), b.shape(), "add");
  const Tensor out = tg::empty(shape);
  const auto loop = tg::kernels::make_loop<3>(shape, {&out, &a, &b});
  LoopLayout l;
  for (int d = 0; d < loop.ndim; ++d) {
    l.sizes.push_back(loop.sizes[d]);
    l.strides.push_back({loop.strides[d][0], loop.strides[d][1], loop.strides[d][2]});
  }
  tg::kernels::for_range(loop, 0, loop.numel, [&](char**, const std::int64_t* s, std::int64_t n) {
    ++l.runs;
    l.run_length = n;
    l.inner_strides = {s[0], s[1], s[2]};
  });
  return l;
}

void loop_layouts() {
  const Tensor x = tg::zeros({64, 128});  // float32: 4 bytes per element, 512 per row

  // Contiguous operands: the two dims merge into one run of 8192 elements.
  LoopLayout l = layout_of(x, tg::zeros({64, 128}));
  check(l.sizes == I64{8192} && l.runs == 1 && l.run_length == 8192);
  check(l.inner_strides == std::array<std::int64_t, 3>{4, 4, 4});  // the tight loop

  // A row broadcast along dim 0: b's stride there is 0, so the dims cannot merge.
  l = layout_of(x, tg::zeros({128}));
  check(l.sizes == (I64{64, 128}));
  check(l.strides[0] == std::array<std::int64_t, 3>{512, 512, 0});
  check(l.strides[1] == std::array<std::int64_t, 3>{4, 4, 4});
  check(l.runs == 64 && l.run_length == 128);

  // A column broadcast along dim 1: b is read with inner stride 0, a scalar per run.
  l = layout_of(x, tg::zeros({64, 1}));
  check(l.strides[0] == std::array<std::int64_t, 3>{512, 512, 4});
  check(l.runs == 64 && l.inner_strides == std::array<std::int64_t, 3>{4, 4, 0});

  // A broadcast scalar has stride 0 along every dim, and 0 = 0 * 128 lets the dims merge.
  l = layout_of(x, tg::zeros({1, 1}));
  check(l.sizes == I64{8192} && l.inner_strides == std::array<std::int64_t, 3>{4, 4, 0});

  // A transposed operand: a is read 256 bytes apart along the inner dim (the general loop).
  l = layout_of(tg::zeros({128, 64}).t(), x);
  check(l.strides[1] == std::array<std::int64_t, 3>{4, 256, 4} && l.runs == 64);

  // Size-1 dims are dropped before merging: [2, 1, 3] + [2, 1, 3] is one run of 6.
  l = layout_of(tg::zeros({2, 1, 3}), tg::zeros({2, 1, 3}));
  check(l.sizes == I64{6} && l.runs == 1);
}
// [/doc:loop]

int main() {
  loop_layouts();
  return doc::exit_code();
}
