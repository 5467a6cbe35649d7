#pragma once
// Products cut into blocks that run as TBB tasks, each a single-threaded GEMM (kernels/blas.h).
//
// The cut depends on the shape alone, never on the thread count: OpenBLAS's result for an
// element can depend on how the matrix is blocked, so a thread-dependent cut (OpenBLAS's own
// threading included) would give different bits with 1 and 2 threads. A tall product is cut
// into row blocks; a wide one (N > M) into column blocks. Each output element is computed by
// exactly one block with the same summation order whatever runs it.
//
// Row blocks each repack the whole of B, so they stay few and tall (>= 256 rows). Column blocks
// each pack only their own columns of B and repack A, which is cheap when M is small: the
// thin recurrent products of an LSTM ([32, 256] x [256, 1024]) are cut into 128-column blocks
// so they use a second core.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/blas.h"
#include "kernels/parallel.h"

namespace tg::kernels {

struct MatLayout {
  bool ok = false;
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  std::int64_t ld = 1;
};

/// How BLAS can read a rows x cols matrix with strides (sr, sc), if it can.
inline MatLayout layout_of(std::int64_t rows, std::int64_t cols, std::int64_t sr, std::int64_t sc) {
  if ((sc == 1 || cols == 1) && (rows == 1 || sr >= std::max<std::int64_t>(cols, 1)))
    return {true, CblasNoTrans, rows == 1 ? std::max<std::int64_t>(cols, 1) : sr};
  if ((sr == 1 || rows == 1) && (cols == 1 || sc >= std::max<std::int64_t>(rows, 1)))
    return {true, CblasTrans, cols == 1 ? std::max<std::int64_t>(rows, 1) : sc};
  return {};
}

inline constexpr double kBlockWork = 2.0 * 1024 * 1024;  // multiply-adds per task, at least
inline constexpr std::int64_t kMaxBlocks = 8;
inline constexpr std::int64_t kMinRowBlock = 256;
inline constexpr std::int64_t kMinColBlock = 128;
inline constexpr double kParallelWork = 256.0 * 1024;  // below this the whole product runs inline

/// The number of blocks a [M, N] x K product is cut into, and whether by rows.
inline std::int64_t gemm_block_count(std::int64_t M, std::int64_t N, std::int64_t K, bool& by_rows) {
  const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  by_rows = M >= N;
  const std::int64_t extent = by_rows ? M : N;
  const std::int64_t most = std::max<std::int64_t>(extent / (by_rows ? kMinRowBlock : kMinColBlock), 1);
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(work / kBlockWork), 1, std::min(kMaxBlocks, most));
}

/// No epilogue: the GEMM's output is left as it is.
struct NoEpilogue {
  template <typename T>
  void operator()(T*, std::int64_t, std::int64_t, std::int64_t) const {}
};

/// C_i = op(A_i) op(B_i) + beta C_i for the nb matrices of a batch (operands(i) gives A_i and B_i;
/// C_i is [M, N] at C + i M N with leading dimension ldc), each cut into blocks by its shape alone.
/// epilogue(block, rows, cols, ldc) runs on each block of C right after the task's GEMM wrote it
/// (linear_activation's ReLU/GELU), while the block is still in cache.
template <typename T, typename Operands, typename Epilogue = NoEpilogue>
void gemm_blocks(const MatLayout& la, const MatLayout& lb, std::int64_t M, std::int64_t N, std::int64_t K,
                 std::int64_t nb, T* C, Operands operands, T beta = T(0), std::int64_t ldc = -1,
                 Epilogue epilogue = {}) {
  if (ldc < 0) ldc = N;
  const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  bool by_rows = true;
  const std::int64_t blocks = gemm_block_count(M, N, K, by_rows);
  const std::int64_t extent = by_rows ? M : N;
  auto run = [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t i = t / blocks, blk = t % blocks;
      // Block boundaries on multiples of 16 (the kernels' unrolling), the last one at the end.
      const std::int64_t lo = blk == 0 ? 0 : (extent * blk / blocks) / 16 * 16;
      const std::int64_t hi = blk == blocks - 1 ? extent : (extent * (blk + 1) / blocks) / 16 * 16;
      if (hi <= lo) continue;
      auto [A, B] = operands(i);
      T* Ci = C + i * M * ldc;
      if (by_rows) {
        const T* Ab = A + lo * (la.trans == CblasNoTrans ? la.ld : 1);
        gemm<T>(la.trans, lb.trans, hi - lo, N, K, Ab, la.ld, B, lb.ld, Ci + lo * ldc, ldc, beta);
        epilogue(Ci + lo * ldc, hi - lo, N, ldc);
      } else {
        const T* Bb = B + lo * (lb.trans == CblasNoTrans ? 1 : lb.ld);
        gemm<T>(la.trans, lb.trans, M, hi - lo, K, A, la.ld, Bb, lb.ld, Ci + lo, ldc, beta);
        epilogue(Ci + lo, M, hi - lo, ldc);
      }
    }
  };
  const std::int64_t tasks = nb * blocks;
  if (tasks == 1 || work * static_cast<double>(nb) <= kParallelWork) run(0, tasks);
  else parallel_for(tasks, 1, run);
}

/// One product C = op(A) op(B) + beta C (C [M, N] with leading dimension ldc), cut as above.
template <typename T>
void parallel_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t M, std::int64_t N, std::int64_t K, const T* A,
                   std::int64_t lda, const T* B, std::int64_t ldb, T* C, std::int64_t ldc, T beta = T(0)) {
  gemm_blocks<T>(
      MatLayout{true, ta, lda}, MatLayout{true, tb, ldb}, M, N, K, 1, C,
      [&](std::int64_t) {
    return std::pair{A, B};
      },
      beta, ldc);
}

}  // namespace tg::kernels
