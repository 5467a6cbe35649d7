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

}  // namespace tg
