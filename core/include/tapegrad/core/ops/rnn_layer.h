#pragma once
/// The rnn family's whole-sequence recurrences (src/ops/rnn.cpp): every step of one layer and
/// direction in one tape entry. Backward runs the steps in reverse and then computes the
/// recurrent weight's gradient as one product over all steps ([T B, G]^T x [T B, H]), instead of
/// one thin product and one accumulation per step. The per-step path (the cell ops of
/// tapegrad/core/ops/rnn.h under matmul) is their test oracle.
#include "tapegrad/core/tensor.h"

namespace tg {

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
