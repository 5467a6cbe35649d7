#pragma once
/// The rnn family (src/ops/rnn.cpp): the fused pointwise steps of the recurrent cells, one kernel
/// and one tape entry per step; the composed cells are their test oracle.
#include "tapegrad/core/tensor.h"

namespace tg {

/// One LSTM step after the two projections: gates = gates_x + gates_h ([B, 4H], PyTorch's gate
/// order i, f, g, o), c [B, H] -> [2, B, H] holding h' = o tanh(c') and c' = f c + i g.
Tensor lstm_cell_fused(const Tensor& gates_x, const Tensor& gates_h, const Tensor& c);

/// One GRU step after the two projections: gx = W_i x + b_i and gh = W_h h + b_h ([B, 3H], gate
/// order r, z, n), h [B, H] -> h' = (1 - z) n + z h, with r = sigmoid(gx_r + gh_r),
/// z = sigmoid(gx_z + gh_z) and n = tanh(gx_n + r gh_n).
Tensor gru_cell_fused(const Tensor& gx, const Tensor& gh, const Tensor& h);

/// The whole-sequence recurrences: every step of one layer and direction in one tape entry.
/// Backward runs the steps in reverse, then computes the recurrent weight's gradient as one
/// product over all steps ([T B, G]^T x [T B, H]) instead of one thin product per step. The
/// per-step path (the cell ops above under matmul) is their test oracle.
/// LSTM recurrence after the input projection: xproj [T, B, 4H] (x W_ih^T + b_ih + b_hh, gate
/// order i, f, g, o), w_hh [4H, H], h0 and c0 [B, H] -> [2, T, B, H]: h_t and c_t of every step.
/// With reverse the steps run from T - 1 down to 0 (a bidirectional layer's second direction).
Tensor lstm_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                       bool reverse = false);

/// GRU recurrence after the input projection: xproj [T, B, 3H] (x W_ih^T + b_ih, gate order r, z,
/// n), w_hh [3H, H], b_hh [3H] (or undefined), h0 [B, H] -> [T, B, H]: h_t of every step.
Tensor gru_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                      bool reverse = false);

}  // namespace tg
