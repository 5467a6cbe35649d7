#pragma once
// The one door to OpenBLAS. tapegrad keeps OpenBLAS single-threaded and runs its own blocks
// as TBB tasks (see ops/matmul.cpp); every GEMM goes through gemm() below, which pins that.
#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace tg::kernels {

/// OpenBLAS runs single-threaded inside tapegrad: TBB is the only thread pool. Checked on
/// every call (a cheap read), so user code that changes OpenBLAS's thread count cannot make
/// BLAS multithreaded inside TBB tasks.
inline void pin_blas_to_one_thread() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

/// Row-major C = op(A) op(B) + beta C, op(A) [M, K], op(B) [K, N].
template <typename T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t M, std::int64_t N, std::int64_t K, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T* C, std::int64_t ldc, T beta = T(0)) {
  pin_blas_to_one_thread();
  const auto m = static_cast<blasint>(M), n = static_cast<blasint>(N), k = static_cast<blasint>(K);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta,
                C, static_cast<blasint>(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta,
                C, static_cast<blasint>(ldc));
}

}  // namespace tg::kernels
