// The fused scaled-dot-product attention (FlashAttention-2's schedule on the CPU). For one batch
// entry (b, h), queries Q [L, E], keys K [S, E], values V [S, Ev], scale c:
//
//   s_ij = c q_i . k_j + mask_ij   (-inf where a bool mask or the causal triangle forbids)
//   p_ij = exp(s_ij - lse_i),  lse_i = log sum_j exp(s_ij)          (the softmax)
//   w_ij = p_ij z_ij,  z_ij = 0 (dropped) or 1 / (1 - p) (kept)       (the dropout)
//   o_i  = sum_j w_ij v_j
//
// Forward. Queries go in blocks of kBlockQ rows, keys in tiles of kBlockK. Each row keeps its
// running maximum m, its running sum l of exp(s - m) and an unnormalised output row acc; a new
// tile with maximum m' rescales both by exp(m - m') (the online softmax), so only a
// [kBlockQ, kBlockK] score tile exists at a time. At the end o = acc / l and lse = m + log l are
// kept for the backward: O(L) besides the output, never [L, S].
//
// Backward, with g = dL/do:
//   dv_j  = sum_i w_ij g_i
//   dw_ij = g_i . v_j,   dp_ij = dw_ij z_ij
//   ds_ij = p_ij (dp_ij - D_i),  D_i = sum_j p_ij dp_ij = sum_j w_ij dw_ij = g_i . o_i
//   dq_i  = c sum_j ds_ij k_j,   dk_j = c sum_i ds_ij q_i
// D_i = g_i . o_i is one pass over the output; p_ij is recomputed tile by tile from q, k and
// lse (no [L, S] kept). The score tiles and every product with a tile go through the BLAS door.
//
// A fully masked row has every s_ij = -inf: its l stays 0, so o_i = 0 and lse_i = -inf, from
// which the backward gets p_ij = 0, hence no gradient from that row (tapegrad's rule, as in the
// composed masked_softmax; PyTorch 1.13 gives NaN).
//
// Parallelism and determinism: the forward runs (entry, query block) pairs in parallel. The
// backward runs entries in parallel when there are at least as many as threads, each entry's
// tiles in a fixed order on one thread; with fewer entries (one long sequence) it runs (entry,
// key tile) tasks for dK and dV, then (entry, query block) tasks for dQ, recomputing each score
// tile in both. Every gradient block is summed by one task over the same tiles in the same
// order in both schedules: no write conflicts, and the same bits whatever the thread count.
//
// Dropout: element (n, i, j) of the [..., L, S] weights is kept when uniform(counter base +
// (n L + i) S + j) >= p, the uniform exactly as tg::rand makes it from the generator's bits,
// so tg::dropout of the composed weights, from the same generator state, drops the same ones.
// The backward regenerates z from (seed, base): nothing of size [L, S] is stored.
#include "tapegrad/core/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/blas.h"
#include "kernels/parallel.h"
#include "kernels/vec_math.h"
#include "random_detail.h"
#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

constexpr const char* kOp = "fused_scaled_dot_product_attention";
constexpr std::int64_t kBlockQ = 64;   // query rows per block
constexpr std::int64_t kBlockK = 128;  // keys per score tile

/// Where the mask's element (n, i, j) lives: offset[n] + i * stride_i + j * stride_j, for a mask
/// broadcast to [..., L, S] (stride 0 along broadcast dims). kind: 0 none, 1 bool, 2 floating.
struct MaskView {
  int kind = 0;
  const void* data = nullptr;
  std::vector<std::int64_t> offset;  // per flattened batch entry n
  std::int64_t stride_i = 0, stride_j = 0;
};

/// The dropout draw: seed and first counter (see the header of this file); p = 0: none.
struct DropoutDraw {
  double p = 0;
  std::uint64_t seed = 0, base = 0;
};

struct Problem {
  std::int64_t N = 0, L = 0, S = 0, E = 0, Ev = 0;
  double scale = 1;
  bool causal = false;
  MaskView mask;
  DropoutDraw drop;
};

/// z for the keys [j0, j0 + cols) of row i of entry n: 0 (dropped) or 1 / (1 - p) (kept).
template <typename T>
void dropout_row(const Problem& pb, const Generator& gen, std::int64_t n, std::int64_t i, std::int64_t j0,
                 std::int64_t cols, T* z) {
  const T keep = static_cast<T>(1 / (1 - pb.drop.p));
  const std::uint64_t first = pb.drop.base + static_cast<std::uint64_t>((n * pb.L + i) * pb.S + j0);
  for (std::int64_t c = 0; c < cols; ++c) {
    const std::uint64_t bits = gen.bits(first + static_cast<std::uint64_t>(c));
    T u;  // as tg::rand draws it
    if constexpr (std::is_same_v<T, float>) u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
    else u = static_cast<double>(bits >> 11) / 9007199254740992.0;
    z[c] = u < static_cast<T>(pb.drop.p) ? T(0) : keep;
  }
}

/// qs [rows, E] = c Q[i0 : i0 + rows]: the scale applied to the queries before the product, as
/// the composed form does (one pass over [rows, E] instead of one over the score tile).
template <typename T>
void scaled_queries(const Problem& pb, const T* Q, std::int64_t i0, std::int64_t rows, T* qs) {
  const T c = static_cast<T>(pb.scale);
  const T* src = Q + i0 * pb.E;
  for (std::int64_t x = 0; x < rows * pb.E; ++x) qs[x] = src[x] * c;
}

/// The score tile s [rows, ld] for queries [i0, i0 + rows) (scaled, in qs) and keys
/// [j0, j0 + cols) of entry n: one GEMM, then the mask and the causal triangle.
template <typename T>
void score_tile(const Problem& pb, std::int64_t n, const T* qs, const T* K, std::int64_t i0, std::int64_t rows,
                std::int64_t j0, std::int64_t cols, T* s, std::int64_t ld) {
  kernels::gemm<T>(CblasNoTrans, CblasTrans, rows, cols, pb.E, qs, pb.E, K + j0 * pb.E, pb.E, s, ld);
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (std::int64_t r = 0; r < rows; ++r) {
    T* sr = s + r * ld;
    const std::int64_t i = i0 + r;
    if (pb.mask.kind != 0) {
      const std::int64_t off = pb.mask.offset[static_cast<std::size_t>(n)] + i * pb.mask.stride_i;
      const std::int64_t sj = pb.mask.stride_j;
      if (pb.mask.kind == 1) {
        const bool* m = static_cast<const bool*>(pb.mask.data) + off;
        for (std::int64_t col = 0; col < cols; ++col)
          if (m[(j0 + col) * sj]) sr[col] = kNegInf;
      } else {
        const T* m = static_cast<const T*>(pb.mask.data) + off;
        for (std::int64_t col = 0; col < cols; ++col) sr[col] += m[(j0 + col) * sj];
      }
    }
    if (pb.causal)
      for (std::int64_t col = std::max<std::int64_t>(0, i + 1 - j0); col < cols; ++col) sr[col] = kNegInf;
  }
}

/// max of s[0, n), in 8 lanes so that the loop vectorises.
template <typename T>
T row_max(const T* s, std::int64_t n) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  T lane[8] = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
  std::int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] = lane[l] < s[c + l] ? s[c + l] : lane[l];
  for (; c < n; ++c) lane[0] = lane[0] < s[c] ? s[c] : lane[0];
  T mx = lane[0];
  for (int l = 1; l < 8; ++l) mx = mx < lane[l] ? lane[l] : mx;
  return mx;
}

/// s[c] = exp(s[c] - shift) (exactly 0 where s[c] = -inf); returns their sum. Two loops: the
/// first vectorises as softmax's does, the second sums in 8 lanes.
template <typename T>
T exp_row(T* s, std::int64_t n, T shift) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (std::int64_t c = 0; c < n; ++c) {
    const T x = s[c];
    const T e = kernels::exp_impl(x - shift);
    s[c] = x == kNegInf ? T(0) : e;
  }
  T lane[8] = {};
  std::int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] += s[c + l];
  for (; c < n; ++c) lane[0] += s[c];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/// The keys a query block [i0, i0 + rows) can see: [0, key_end).
std::int64_t key_end(const Problem& pb, std::int64_t i0, std::int64_t rows) {
  return pb.causal ? std::min(pb.S, i0 + rows) : pb.S;
}

template <typename T>
void attention_forward(const Problem& pb, const T* q, const T* k, const T* v, T* out, T* lse) {
  const std::int64_t blocks = (pb.L + kBlockQ - 1) / kBlockQ;
  const Generator gen(pb.drop.seed);
  kernels::parallel_for(pb.N * blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<T> s(static_cast<std::size_t>(kBlockQ * kBlockK)), z(static_cast<std::size_t>(kBlockK));
    std::vector<T> acc(static_cast<std::size_t>(kBlockQ * pb.Ev)), m(kBlockQ), l(kBlockQ);
    std::vector<T> qs(static_cast<std::size_t>(kBlockQ * pb.E));
    constexpr T kNegInf = -std::numeric_limits<T>::infinity();
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t n = t / blocks, i0 = (t % blocks) * kBlockQ, rows = std::min(kBlockQ, pb.L - i0);
      const T* Q = q + n * pb.L * pb.E;
      const T* K = k + n * pb.S * pb.E;
      const T* V = v + n * pb.S * pb.Ev;
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), T(0));
      const std::int64_t kend = key_end(pb, i0, rows);
      scaled_queries(pb, Q, i0, rows, qs.data());
      for (std::int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
        const std::int64_t cols = std::min(kBlockK, kend - j0);
        score_tile<T>(pb, n, qs.data(), K, i0, rows, j0, cols, s.data(), kBlockK);
        for (std::int64_t r = 0; r < rows; ++r) {
          T* sr = s.data() + r * kBlockK;
          const T m_new = std::max(m[r], row_max(sr, cols));
          if (m_new == kNegInf) {  // every key so far masked: nothing to add
            std::fill(sr, sr + cols, T(0));
            continue;
          }
          const T alpha = m[r] == kNegInf ? T(0) : kernels::exp_impl(m[r] - m_new);
          const T sum = exp_row(sr, cols, m_new);
          if (pb.drop.p > 0) {
            dropout_row<T>(pb, gen, n, i0 + r, j0, cols, z.data());
            for (std::int64_t c = 0; c < cols; ++c) sr[c] *= z[c];
          }
          l[r] = l[r] * alpha + sum;
          m[r] = m_new;
          if (alpha != T(1)) {
            T* ar = acc.data() + r * pb.Ev;
            for (std::int64_t e = 0; e < pb.Ev; ++e) ar[e] *= alpha;
          }
        }
        kernels::gemm<T>(CblasNoTrans, CblasNoTrans, rows, pb.Ev, cols, s.data(), kBlockK, V + j0 * pb.Ev, pb.Ev,
                         acc.data(), pb.Ev, T(1));
      }
      for (std::int64_t r = 0; r < rows; ++r) {
        T* o = out + (n * pb.L + i0 + r) * pb.Ev;
        const T* ar = acc.data() + r * pb.Ev;
        if (l[r] == T(0)) {  // a fully masked row
          std::fill(o, o + pb.Ev, T(0));
          lse[n * pb.L + i0 + r] = kNegInf;
          continue;
        }
        const T inv = T(1) / l[r];
        for (std::int64_t e = 0; e < pb.Ev; ++e) o[e] = ar[e] * inv;
        lse[n * pb.L + i0 + r] = m[r] + std::log(l[r]);
      }
    }
  });
}

/// One entry's operands and gradients in the backward.
template <typename T>
struct EntryGrads {
  const T *Q, *K, *V, *G, *D;
  T *dQ, *dK, *dV;
};

/// The tiles one backward task works on: p, w = p z, z and ds for one (query block, key tile).
template <typename T>
struct BackwardTiles {
  std::vector<T> p, w, z, ds, qs;
  explicit BackwardTiles(const Problem& pb)
      : p(static_cast<std::size_t>(kBlockQ * kBlockK)),
        w(p.size()),
        z(pb.drop.p > 0 ? p.size() : 0),
        ds(p.size()),
        qs(static_cast<std::size_t>(kBlockQ * pb.E)) {}
};

/// For queries [i0, i0 + rows) and keys [j0, j0 + cols) of entry n: p (recomputed from the
/// scores and lse), w = p z and ds = c p (dw z - D) with dw = G_i V_j^T. Every task that needs
/// a tile computes it with this one function, so the tile has the same bits wherever it is made.
template <typename T>
void backward_tile(const Problem& pb, const Generator& gen, std::int64_t n, const EntryGrads<T>& e, const T* LSE,
                   std::int64_t i0, std::int64_t rows, std::int64_t j0, std::int64_t cols, BackwardTiles<T>& t) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const T c = static_cast<T>(pb.scale);
  scaled_queries(pb, e.Q, i0, rows, t.qs.data());
  score_tile<T>(pb, n, t.qs.data(), e.K, i0, rows, j0, cols, t.p.data(), kBlockK);
  for (std::int64_t r = 0; r < rows; ++r) {
    T* pr = t.p.data() + r * kBlockK;
    T* wr = t.w.data() + r * kBlockK;
    const T row_lse = LSE[i0 + r];
    if (row_lse == kNegInf) {  // a fully masked row: no gradient
      std::fill(pr, pr + cols, T(0));
      std::fill(wr, wr + cols, T(0));
      if (pb.drop.p > 0) std::fill(t.z.data() + r * kBlockK, t.z.data() + r * kBlockK + cols, T(0));
      continue;
    }
    exp_row(pr, cols, row_lse);
    if (pb.drop.p > 0) {
      T* zr = t.z.data() + r * kBlockK;
      dropout_row<T>(pb, gen, n, i0 + r, j0, cols, zr);
      for (std::int64_t col = 0; col < cols; ++col) wr[col] = pr[col] * zr[col];
    } else {
      std::copy(pr, pr + cols, wr);
    }
  }
  // dW = G_i V_j^T, then dS = c P (dW Z - D) in place
  kernels::gemm<T>(CblasNoTrans, CblasTrans, rows, cols, pb.Ev, e.G + i0 * pb.Ev, pb.Ev, e.V + j0 * pb.Ev, pb.Ev,
                   t.ds.data(), kBlockK);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* pr = t.p.data() + r * kBlockK;
    T* dsr = t.ds.data() + r * kBlockK;
    const T Di = e.D[i0 + r];
    if (pb.drop.p > 0) {
      const T* zr = t.z.data() + r * kBlockK;
      for (std::int64_t col = 0; col < cols; ++col) dsr[col] = c * pr[col] * (dsr[col] * zr[col] - Di);
    } else {
      for (std::int64_t col = 0; col < cols; ++col) dsr[col] = c * pr[col] * (dsr[col] - Di);
    }
  }
}

/// The first query block that sees a key of the tile starting at j0 (causal: queries i >= j0).
std::int64_t first_query_block(const Problem& pb, std::int64_t j0) {
  return pb.causal ? std::min(j0 / kBlockQ * kBlockQ, pb.L) : 0;
}

/// dV_j += W^T G_i and dK_j += c dS^T Q_i (c is already in ds).
template <typename T>
void add_key_grads(const Problem& pb, const EntryGrads<T>& e, std::int64_t i0, std::int64_t rows, std::int64_t j0,
                   std::int64_t cols, const BackwardTiles<T>& t) {
  kernels::gemm<T>(CblasTrans, CblasNoTrans, cols, pb.Ev, rows, t.w.data(), kBlockK, e.G + i0 * pb.Ev, pb.Ev,
                   e.dV + j0 * pb.Ev, pb.Ev, T(1));
  kernels::gemm<T>(CblasTrans, CblasNoTrans, cols, pb.E, rows, t.ds.data(), kBlockK, e.Q + i0 * pb.E, pb.E,
                   e.dK + j0 * pb.E, pb.E, T(1));
}

/// dQ_i += c dS K_j.
template <typename T>
void add_query_grads(const Problem& pb, const EntryGrads<T>& e, std::int64_t i0, std::int64_t rows, std::int64_t j0,
                     std::int64_t cols, const BackwardTiles<T>& t) {
  kernels::gemm<T>(CblasNoTrans, CblasNoTrans, rows, pb.E, cols, t.ds.data(), kBlockK, e.K + j0 * pb.E, pb.E,
                   e.dQ + i0 * pb.E, pb.E, T(1));
}

template <typename T>
void attention_backward(const Problem& pb, const T* q, const T* k, const T* v, const T* out, const T* lse, const T* g,
                        T* dq, T* dk, T* dv) {
  const Generator gen(pb.drop.seed);
  // D_i = g_i . o_i for every row of every entry.
  std::vector<T> D(static_cast<std::size_t>(pb.N * pb.L));
  kernels::parallel_for(pb.N * pb.L, 256, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      T d = 0;
      for (std::int64_t x = 0; x < pb.Ev; ++x) d += g[i * pb.Ev + x] * out[i * pb.Ev + x];
      D[static_cast<std::size_t>(i)] = d;
    }
  });
  auto entry = [&](std::int64_t n) {
    return EntryGrads<T>{q + n * pb.L * pb.E, k + n * pb.S * pb.E,  v + n * pb.S * pb.Ev, g + n * pb.L * pb.Ev,
                         D.data() + n * pb.L, dq + n * pb.L * pb.E, dk + n * pb.S * pb.E, dv + n * pb.S * pb.Ev};
  };
  const std::int64_t tiles = (pb.S + kBlockK - 1) / kBlockK, blocks = (pb.L + kBlockQ - 1) / kBlockQ;
  if (pb.N >= get_num_threads()) {
    // Enough entries for every thread: one task per entry, each tile made once and used for
    // dQ, dK and dV together.
    kernels::parallel_for(pb.N, 1, [&](std::int64_t n0, std::int64_t n1) {
      BackwardTiles<T> t(pb);
      for (std::int64_t n = n0; n < n1; ++n) {
        const EntryGrads<T> e = entry(n);
        std::fill(e.dQ, e.dQ + pb.L * pb.E, T(0));
        std::fill(e.dK, e.dK + pb.S * pb.E, T(0));
        std::fill(e.dV, e.dV + pb.S * pb.Ev, T(0));
        for (std::int64_t j0 = 0; j0 < pb.S; j0 += kBlockK) {
          const std::int64_t cols = std::min(kBlockK, pb.S - j0);
          for (std::int64_t i0 = first_query_block(pb, j0); i0 < pb.L; i0 += kBlockQ) {
            const std::int64_t rows = std::min(kBlockQ, pb.L - i0);
            backward_tile(pb, gen, n, e, lse + n * pb.L, i0, rows, j0, cols, t);
            add_key_grads(pb, e, i0, rows, j0, cols, t);
            add_query_grads(pb, e, i0, rows, j0, cols, t);
          }
        }
      }
    });
    return;
  }
  // Fewer entries than threads (one long sequence, one head): the key tiles are tasks of their
  // own for dK and dV, and then the query blocks for dQ, each tile made twice. Each gradient block
  // is still summed by one task over the same tiles in the same order as above, so the bits do not
  // depend on which schedule ran.
  kernels::parallel_for(pb.N * tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    BackwardTiles<T> t(pb);
    for (std::int64_t task = t0; task < t1; ++task) {
      const std::int64_t n = task / tiles, j0 = (task % tiles) * kBlockK, cols = std::min(kBlockK, pb.S - j0);
      const EntryGrads<T> e = entry(n);
      std::fill(e.dK + j0 * pb.E, e.dK + (j0 + cols) * pb.E, T(0));
      std::fill(e.dV + j0 * pb.Ev, e.dV + (j0 + cols) * pb.Ev, T(0));
      for (std::int64_t i0 = first_query_block(pb, j0); i0 < pb.L; i0 += kBlockQ) {
        const std::int64_t rows = std::min(kBlockQ, pb.L - i0);
        backward_tile(pb, gen, n, e, lse + n * pb.L, i0, rows, j0, cols, t);
        add_key_grads(pb, e, i0, rows, j0, cols, t);
      }
    }
  });
  kernels::parallel_for(pb.N * blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
    BackwardTiles<T> t(pb);
    for (std::int64_t task = t0; task < t1; ++task) {
      const std::int64_t n = task / blocks, i0 = (task % blocks) * kBlockQ, rows = std::min(kBlockQ, pb.L - i0);
      const EntryGrads<T> e = entry(n);
      std::fill(e.dQ + i0 * pb.E, e.dQ + (i0 + rows) * pb.E, T(0));
      for (std::int64_t j0 = 0; j0 < pb.S && first_query_block(pb, j0) <= i0; j0 += kBlockK) {
        const std::int64_t cols = std::min(kBlockK, pb.S - j0);
        backward_tile(pb, gen, n, e, lse + n * pb.L, i0, rows, j0, cols, t);
        add_query_grads(pb, e, i0, rows, j0, cols, t);
      }
    }
  });
}

/// mask's placement when broadcast to [batch..., L, S] (the batch flattened to N entries).
MaskView mask_view(const Tensor& mask, IntArrayRef target) {
  MaskView mv;
  mv.kind = mask.dtype() == kBool ? 1 : 2;
  mv.data = mask.data_ptr();
  const auto nd = static_cast<std::int64_t>(target.size()), md = mask.dim();
  auto stride_of = [&](std::int64_t d) -> std::int64_t {  // d indexes target
    const std::int64_t dm = d - (nd - md);
    if (dm < 0 || mask.size(dm) == 1) return 0;
    return mask.strides()[dm];
  };
  mv.stride_i = stride_of(nd - 2);
  mv.stride_j = stride_of(nd - 1);
  std::int64_t N = 1;
  for (std::int64_t d = 0; d + 2 < nd; ++d) N *= target[d];
  mv.offset.resize(static_cast<std::size_t>(N));
  for (std::int64_t n = 0; n < N; ++n) {
    std::int64_t rest = n, off = 0;
    for (std::int64_t d = nd - 3; d >= 0; --d) {
      off += (rest % target[d]) * stride_of(d);
      rest /= target[d];
    }
    mv.offset[static_cast<std::size_t>(n)] = off;
  }
  return mv;
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                  std::optional<double> scale) {
  TG_CHECK(q.defined() && k.defined() && v.defined(), "{}: q, k and v must be defined tensors", kOp);
  TG_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2,
           "{}: q, k and v need at least 2 dims [..., L, E], got shapes {}, {} and {}", kOp, q.shape(), k.shape(),
           v.shape());
  TG_CHECK(is_floating(q.dtype()) && q.dtype() == k.dtype() && q.dtype() == v.dtype(),
           "{}: q, k and v must have one floating dtype, got {}, {} and {}", kOp, dtype_name(q.dtype()),
           dtype_name(k.dtype()), dtype_name(v.dtype()));
  TG_CHECK(q.dim() == k.dim() && q.dim() == v.dim() &&
               same_values(IntArrayRef(q.shape().data(), static_cast<std::size_t>(q.dim() - 2)),
                           IntArrayRef(k.shape().data(), static_cast<std::size_t>(k.dim() - 2))) &&
               same_values(IntArrayRef(q.shape().data(), static_cast<std::size_t>(q.dim() - 2)),
                           IntArrayRef(v.shape().data(), static_cast<std::size_t>(v.dim() - 2))),
           "{}: q, k and v need the same leading (batch) dims, got shapes {}, {} and {}", kOp, q.shape(), k.shape(),
           v.shape());
  TG_CHECK(q.size(-1) == k.size(-1),
           "{}: q and k need the same embedding size in their last dim, got {} ({}) and {} ({})", kOp, q.size(-1),
           q.shape(), k.size(-1), k.shape());
  TG_CHECK(k.size(-2) == v.size(-2), "{}: k and v need the same sequence length S in dim -2, got {} ({}) and {} ({})",
           kOp, k.size(-2), k.shape(), v.size(-2), v.shape());
  TG_CHECK(q.size(-1) >= 1 && v.size(-1) >= 1 && k.size(-2) >= 1,
           "{}: needs E >= 1, Ev >= 1 and S >= 1, got q {}, k {} and v {}", kOp, q.shape(), k.shape(), v.shape());
  TG_CHECK(dropout_p >= 0 && dropout_p < 1, "{}: dropout_p must be in [0, 1), got {}", kOp, dropout_p);
  TG_CHECK(!scale || std::isfinite(*scale), "{}: scale must be finite, got {}", kOp, scale.value_or(0));
  if (!mask.defined()) return;
  TG_CHECK(mask.dtype() == kBool || is_floating(mask.dtype()),
           "{}: attn_mask must be bool (true = may not attend) or floating (added to the scores), got {}", kOp,
           dtype_name(mask.dtype()));
  DimVec target(IntArrayRef(q.shape().data(), static_cast<std::size_t>(q.dim() - 1)));
  target.push_back(k.size(-2));
  bool fits = mask.dim() <= q.dim();
  for (std::int64_t d = 0; fits && d < mask.dim(); ++d) {
    const std::int64_t t = target[static_cast<std::size_t>(q.dim() - mask.dim() + d)];
    fits = mask.size(d) == 1 || mask.size(d) == t;
  }
  TG_CHECK(fits, "{}: attn_mask of shape {} does not broadcast to the attention scores' shape {}", kOp, mask.shape(),
           target);
  TG_CHECK(!(mask.dtype() != kBool && autograd::needs_grad(mask)),
           "{}: a floating attn_mask that requires grad is not supported (its gradient would be [..., L, S]); "
           "use the composed scaled_dot_product_attention",
           kOp);
}

}  // namespace

Tensor fused_scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                          double dropout_p, bool is_causal, std::optional<double> scale,
                                          Generator* generator) {
  check_inputs(q, k, v, attn_mask, dropout_p, scale);
  Problem pb;
  pb.L = q.size(-2), pb.S = k.size(-2), pb.E = q.size(-1), pb.Ev = v.size(-1);
  pb.N = 1;
  for (std::int64_t d = 0; d + 2 < q.dim(); ++d) pb.N *= q.size(d);
  pb.scale = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(pb.E));
  pb.causal = is_causal;
  DimVec out_shape(IntArrayRef(q.shape().data(), static_cast<std::size_t>(q.dim() - 1)));
  DimVec score_shape(out_shape);
  score_shape.push_back(pb.S);
  out_shape.push_back(pb.Ev);
  const Tensor qc = detail::as_contiguous(q), kc = detail::as_contiguous(k), vc = detail::as_contiguous(v);
  Tensor mask;
  if (attn_mask.defined()) {
    mask = attn_mask.dtype() == kBool ? attn_mask : detail::convert(attn_mask, q.dtype()).detach();
    pb.mask = mask_view(mask, score_shape);
  }
  if (dropout_p > 0) {
    Generator* gen = generator;
    const std::uint64_t count =
        static_cast<std::uint64_t>(pb.N) * static_cast<std::uint64_t>(pb.L) * static_cast<std::uint64_t>(pb.S);
    pb.drop.base = detail::reserve_counters(gen, count);
    pb.drop.seed = gen->seed();
    pb.drop.p = dropout_p;
  }
  Tensor out = detail::new_empty(out_shape, q.dtype(), kOp);
  Tensor lse = detail::new_empty({pb.N, pb.L}, q.dtype(), kOp);
  dispatch_floating(q.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    attention_forward<T>(pb, qc.data<T>(), kc.data<T>(), vc.data<T>(), out.data<T>(), lse.data<T>());
  });
  if (autograd::needs_grad(q, k, v)) {
    autograd::record("fused_scaled_dot_product_attention", out, {&q, &k, &v},
                     [sq = SavedTensor::input(qc), sk = SavedTensor::input(kc), sv = SavedTensor::input(vc),
                      so = SavedTensor::output(out), lse, mask, pb](BackwardContext& c) {
      const Tensor g = detail::as_contiguous(c.grad());
      const Tensor &qv = c.unpack(sq), &kv = c.unpack(sk), &vv = c.unpack(sv), &ov = c.unpack(so);
      Tensor dq = detail::new_empty(qv.shape(), qv.dtype()), dk = detail::new_empty(kv.shape(), kv.dtype());
      Tensor dv = detail::new_empty(vv.shape(), vv.dtype());
      dispatch_floating(qv.dtype(), "fused_scaled_dot_product_attention_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        attention_backward<T>(pb, qv.data<T>(), kv.data<T>(), vv.data<T>(), ov.data<T>(), lse.data<T>(), g.data<T>(),
                              dq.data<T>(), dk.data<T>(), dv.data<T>());
      });
      if (c.needs(0)) c.set(0, dq);
      if (c.needs(1)) c.set(1, dk);
      if (c.needs(2)) c.set(2, dv);
    });
  }
  return out;
}

}  // namespace tg
