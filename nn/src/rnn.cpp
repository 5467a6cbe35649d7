// LSTM and GRU layers. For each layer and direction:
//   xproj = x W_ih^T (+ biases)      one GEMM over all T * B rows
//   for each step t (backwards for the reverse direction):
//     hproj = h W_hh^T                 one GEMM
//     h, c  = fused cell(xproj[t], hproj, state)
// Without lengths the loop is one op (lstm_recurrence / gru_recurrence, one tape entry whose
// backward computes W_hh's gradient as one GEMM over all steps); with lengths it is recorded
// step by step, with the state held at padded steps.
// With lengths, a padded step leaves the state as it was and outputs zeros; the reverse
// direction therefore starts at each sequence's last real step, as with PyTorch's packed
// sequences.
#include "tapegrad/nn/rnn.h"

#include <cmath>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/core/ops/rnn.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

void check_options(const RNNOptions& o, const std::string& name) {
  TG_CHECK(o.input_size() > 0, "{}: input_size must be positive, got {}", name, o.input_size());
  TG_CHECK(o.hidden_size() > 0, "{}: hidden_size must be positive, got {}", name, o.hidden_size());
  TG_CHECK(o.num_layers() > 0, "{}: num_layers must be positive, got {}", name, o.num_layers());
  TG_CHECK(o.dropout() >= 0 && o.dropout() <= 1, "{}: dropout must be in [0, 1], got {}", name, o.dropout());
}

/// An LSTM's state has both h and c or neither; a GRU's has no c. Called after each given tensor
/// was checked against its expected shape (so h and c, when both given, already agree).
void check_state(const std::optional<RNNState>& state, const std::string& name, bool lstm) {
  if (!state) return;
  const Tensor &h = state->h, &c = state->c;
  if (!lstm) {
    TG_CHECK(!c.defined(), "{}: the state has a c (shape {}), but a {} keeps only h; pass RNNState{{h}}", name,
             c.shape(), name);
    return;
  }
  TG_CHECK(h.defined() == c.defined(), "{}: the state has {} (shape {}) but no {}; pass both h and c, or neither", name,
           h.defined() ? "h" : "c", h.defined() ? h.shape() : c.shape(), h.defined() ? "c" : "h");
}

struct DirectionOut {
  Tensor output;  // [T, B, H]
  Tensor h, c;    // [B, H]
};

/// One direction of one layer over x [T, B, I]; pad is bool [T, B, 1] (true at padded steps) or undefined.
DirectionOut run_direction(const Tensor& x, const std::vector<Tensor>& w, Tensor h, Tensor c, bool reverse,
                           const Tensor& pad, bool lstm) {
  const std::int64_t T = x.size(0), B = x.size(1), I = x.size(2);
  const Tensor& w_ih = w[0];
  const Tensor& w_hh = w[1];
  const Tensor& b_ih = w[2];
  const Tensor& b_hh = w[3];
  // The LSTM's two biases meet in every gate, so both join the input projection; the GRU's hidden
  // bias sits inside r * (W_hn h + b_hn) and stays with the hidden projection.
  Tensor bias_x = b_ih;
  if (lstm && b_ih.defined()) bias_x = add(b_ih, b_hh);
  const Tensor xproj = linear(x.reshape({T * B, I}), w_ih, bias_x).view({T, B, w_ih.size(0)});
  if (!pad.defined()) {
    // The whole recurrence as one tape entry: backward makes one GEMM for w_hh's gradient.
    const std::int64_t last = reverse ? 0 : T - 1;
    if (lstm) {
      const Tensor hc = lstm_recurrence(xproj, w_hh, h, c, reverse);
      const Tensor output = hc.select(0, 0);
      return {output, output.select(0, last), hc.select(0, 1).select(0, last)};
    }
    const Tensor output = gru_recurrence(xproj, w_hh, b_hh, h, reverse);
    return {output, output.select(0, last), Tensor()};
  }
  const Tensor w_hh_t = w_hh.t();
  std::vector<Tensor> outputs(static_cast<std::size_t>(T));
  for (std::int64_t s = 0; s < T; ++s) {
    const std::int64_t t = reverse ? T - 1 - s : s;
    Tensor hproj = matmul(h, w_hh_t);
    if (!lstm && b_hh.defined()) hproj = add(hproj, b_hh);
    Tensor h_new, c_new;
    if (lstm) {
      const Tensor hc = lstm_cell_fused(xproj.select(0, t), hproj, c);
      h_new = hc.select(0, 0);
      c_new = hc.select(0, 1);
    } else {
      h_new = gru_cell_fused(xproj.select(0, t), hproj, h);
    }
    if (pad.defined()) {
      const Tensor p = pad.select(0, t);
      outputs[static_cast<std::size_t>(t)] = masked_fill(h_new, p, 0.0);
      h = where(p, h, h_new);
      if (lstm) c = where(p, c, c_new);
    } else {
      outputs[static_cast<std::size_t>(t)] = h_new;
      h = h_new;
      c = c_new;
    }
  }
  return {stack(outputs, 0), h, c};
}

}  // namespace

RNNBase::RNNBase(std::string type_name, RNNOptions options, std::int64_t gates, bool lstm)
    : SequenceModule(std::move(type_name)), options_(options), gates_(gates), lstm_(lstm) {
  check_options(options_, this->type_name());
  reset();
}

RNNOutput RNNBase::operator()(const Tensor& input, const std::optional<RNNState>& state, const Tensor& lengths) {
  RNNOutput out = forward(input, state, lengths);
  note_output(out.output);
  return out;
}

void RNNBase::reset() {
  const auto& o = options_;
  const std::int64_t D = o.bidirectional() ? 2 : 1, H = o.hidden_size(), G = gates_ * H;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  weights_.clear();
  for (std::int64_t l = 0; l < o.num_layers(); ++l) {
    const std::int64_t in = l == 0 ? o.input_size() : H * D;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      std::vector<Tensor> w(4);
      w[0] = register_parameter("weight_ih" + suffix, empty({G, in}));
      w[1] = register_parameter("weight_hh" + suffix, empty({G, H}));
      if (o.bias()) {
        w[2] = register_parameter("bias_ih" + suffix, empty({G}));
        w[3] = register_parameter("bias_hh" + suffix, empty({G}));
      }
      weights_.push_back(w);
    }
  }
  for (const Tensor& p : parameters(false)) init::uniform_(p, -bound, bound);  // PyTorch: every weight U(+-1/sqrt(H))
}

std::vector<Tensor> RNNBase::layer_parameters(std::int64_t layer, std::int64_t direction) const {
  const std::int64_t D = options_.bidirectional() ? 2 : 1;
  TG_CHECK(layer >= 0 && layer < options_.num_layers() && direction >= 0 && direction < D,
           "{}: there is no layer {} direction {} (num_layers {}, directions {})", type_name(), layer, direction,
           options_.num_layers(), D);
  return weights_[static_cast<std::size_t>(layer * D + direction)];
}

RNNOutput RNNBase::forward(const Tensor& input, const std::optional<RNNState>& state, const Tensor& lengths) {
  const auto& o = options_;
  const std::string& name = type_name();
  TG_CHECK(input.dim() == 2 || input.dim() == 3, "{}: expected a 2-D (unbatched) or 3-D input, got shape {}", name,
           input.shape());
  TG_CHECK(input.size(-1) == o.input_size(), "{}: expected input_size {} in the last dim, got {} (input shape {})",
           name, o.input_size(), input.size(-1), input.shape());
  check_input_dtype(fmt::format("{}({} -> {})", name, o.input_size(), o.hidden_size()), input, weights_[0][0]);
  const bool unbatched = input.dim() == 2;
  Tensor x = unbatched ? input.unsqueeze(1) : (o.batch_first() ? input.transpose(0, 1) : input);  // [T, B, I]
  const std::int64_t T = x.size(0), B = x.size(1), H = o.hidden_size(), D = o.bidirectional() ? 2 : 1;
  const std::int64_t L = o.num_layers();
  // PyTorch: "Expected sequence length to be larger than 0 in RNN". An empty batch is fine (the
  // loops below run over zero rows and give empty outputs and states).
  TG_CHECK(T > 0, "{}: input has 0 time steps (input shape {}{}); a sequence needs at least one step", name,
           input.shape(), unbatched ? ", unbatched [T, I]" : (o.batch_first() ? ", batch_first [B, T, I]" : ""));

  // Initial state: [L * D, B, H] (or [L * D, H] unbatched), zeros when absent.
  auto initial = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return zeros({L * D, B, H}, input.dtype());
    const DimVec want = unbatched ? DimVec{L * D, H} : DimVec{L * D, B, H};
    TG_CHECK(same_values(s.shape(), want), "{}: expected {} of shape {}, got {}", name, what, want, s.shape());
    return unbatched ? s.unsqueeze(1) : s;
  };
  const Tensor h0 = initial(state ? state->h : Tensor(), "h0");
  const Tensor c0 = lstm_ ? initial(state ? state->c : Tensor(), "c0") : Tensor();
  check_state(state, name, lstm_);

  Tensor pad;  // bool [T, B, 1]: true where t >= length
  if (lengths.defined()) {
    TG_CHECK(lengths.dtype() == kInt64, "{}: lengths must be int64, got {}", name, dtype_name(lengths.dtype()));
    TG_CHECK(lengths.dim() == 1 && lengths.size(0) == B, "{}: lengths must have shape [{}], got {}", name, B,
             lengths.shape());
    for (auto len : lengths.to_vector<std::int64_t>())
      TG_CHECK(len >= 1 && len <= T, "{}: each length must be in [1, {}], got {}", name, T, len);
    pad = ge(arange(T).view({T, 1, 1}), lengths.view({1, B, 1}));
    // Padded steps are never read: zeroing them keeps whatever they hold (NaN, inf) out of the
    // projections, and their gradient is exactly zero.
    x = masked_fill(x, pad, 0.0);
  }

  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = x;
  for (std::int64_t l = 0; l < L; ++l) {
    std::vector<Tensor> outs;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t k = l * D + d;
      DirectionOut r = run_direction(layer_input, weights_[static_cast<std::size_t>(k)], h0.select(0, k),
                                     lstm_ ? c0.select(0, k) : Tensor(), d == 1, pad, lstm_);
      outs.push_back(r.output);
      h_n.push_back(r.h);
      if (lstm_) c_n.push_back(r.c);
    }
    layer_input = D == 1 ? outs[0] : cat(outs, 2);
    if (l + 1 < L && o.dropout() > 0 && is_training()) layer_input = dropout(layer_input, o.dropout(), true);
  }
  RNNOutput out;
  out.output = unbatched ? layer_input.squeeze(1) : (o.batch_first() ? layer_input.transpose(0, 1) : layer_input);
  out.state.h = stack(h_n, 0);
  if (lstm_) out.state.c = stack(c_n, 0);
  if (unbatched) {
    out.state.h = out.state.h.squeeze(1);
    if (lstm_) out.state.c = out.state.c.squeeze(1);
  }
  return out;
}

std::shared_ptr<Module> LSTM::clone() const { return clone_as(*this); }
std::shared_ptr<Module> GRU::clone() const { return clone_as(*this); }

// ---- cells ---------------------------------------------------------------------------------------

RNNCellBase::RNNCellBase(std::string type_name, std::int64_t input_size, std::int64_t hidden_size, bool bias,
                         std::int64_t gates)
    : Module(std::move(type_name)), input_size_(input_size), hidden_size_(hidden_size), bias_(bias), gates_(gates) {
  check_options(RNNOptions(input_size, hidden_size), this->type_name());
  RNNCellBase::reset();
}

void RNNCellBase::reset() {
  const std::int64_t H = hidden_size_, G = gates_;
  weight_ih = register_parameter("weight_ih", empty({G * H, input_size_}));
  weight_hh = register_parameter("weight_hh", empty({G * H, H}));
  bias_ih = bias_ ? register_parameter("bias_ih", empty({G * H})) : Tensor();
  bias_hh = bias_ ? register_parameter("bias_hh", empty({G * H})) : Tensor();
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  for (const Tensor& p : parameters(false)) init::uniform_(p, -bound, bound);
}

std::shared_ptr<Module> LSTMCell::clone() const { return clone_as(*this); }
std::shared_ptr<Module> GRUCell::clone() const { return clone_as(*this); }

RNNState LSTMCell::forward(const Tensor& input, const std::optional<RNNState>& state) {
  TG_CHECK((input.dim() == 1 || input.dim() == 2) && input.size(-1) == input_size_,
           "LSTMCell: expected input [B, {}] or [{}], got shape {}", input_size_, input_size_, input.shape());
  const bool unbatched = input.dim() == 1;
  const Tensor x = unbatched ? input.unsqueeze(0) : input;
  const std::int64_t B = x.size(0);
  auto init = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return zeros({B, hidden_size_}, input.dtype());
    const Tensor v = unbatched ? s.unsqueeze(0) : s;
    TG_CHECK(v.dim() == 2 && v.size(0) == B && v.size(1) == hidden_size_,
             "LSTMCell: expected {} of shape [{}, {}], got {}", what, B, hidden_size_, s.shape());
    return v;
  };
  const Tensor h = init(state ? state->h : Tensor(), "h"), c = init(state ? state->c : Tensor(), "c");
  check_state(state, "LSTMCell", true);
  Tensor gx = matmul(x, weight_ih.t());
  if (bias_) gx = add(gx, add(bias_ih, bias_hh));
  const Tensor hc = lstm_cell_fused(gx, matmul(h, weight_hh.t()), c);
  RNNState out{hc.select(0, 0), hc.select(0, 1)};
  if (unbatched) out = {out.h.squeeze(0), out.c.squeeze(0)};
  return out;
}

Tensor GRUCell::forward(const Tensor& input, const Tensor& h_in) {
  TG_CHECK((input.dim() == 1 || input.dim() == 2) && input.size(-1) == input_size_,
           "GRUCell: expected input [B, {}] or [{}], got shape {}", input_size_, input_size_, input.shape());
  const bool unbatched = input.dim() == 1;
  const Tensor x = unbatched ? input.unsqueeze(0) : input;
  const std::int64_t B = x.size(0);
  Tensor h = h_in.defined() ? (unbatched ? h_in.unsqueeze(0) : h_in) : zeros({B, hidden_size_}, input.dtype());
  TG_CHECK(h.dim() == 2 && h.size(0) == B && h.size(1) == hidden_size_, "GRUCell: expected h of shape [{}, {}], got {}",
           B, hidden_size_, h_in.shape());
  Tensor gx = matmul(x, weight_ih.t()), gh = matmul(h, weight_hh.t());
  if (bias_) {
    gx = add(gx, bias_ih);
    gh = add(gh, bias_hh);
  }
  const Tensor out = gru_cell_fused(gx, gh, h);
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace tg::nn
