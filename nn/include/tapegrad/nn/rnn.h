#pragma once
/// LSTM and GRU (multi-layer, bidirectional, batch_first, dropout between layers, variable
/// lengths) and their single-step cells, with PyTorch's shapes, gate orders, parameter names
/// and initialisation.
///
/// Each layer and direction projects the whole input sequence with one GEMM; each time step
/// then does one recurrent GEMM and one fused gate kernel (core/rnn.h).
#include <optional>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct RNNOptions : public ChainedOptions<RNNOptions> {
  RNNOptions(std::int64_t input_size, std::int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  RNNOptions& num_layers(std::int64_t n) { return assign(num_layers_, n); }
  RNNOptions& bias(bool on) { return assign(bias_, on); }
  RNNOptions& batch_first(bool on) { return assign(batch_first_, on); }
  RNNOptions& dropout(double p) { return assign(dropout_, p); }
  RNNOptions& bidirectional(bool on) { return assign(bidirectional_, on); }
  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }
  std::int64_t num_layers() const { return num_layers_; }
  bool bias() const { return bias_; }
  bool batch_first() const { return batch_first_; }
  double dropout() const { return dropout_; }
  bool bidirectional() const { return bidirectional_; }

 private:
  std::int64_t input_size_, hidden_size_, num_layers_ = 1;
  bool bias_ = true, batch_first_ = false;
  double dropout_ = 0.0;
  bool bidirectional_ = false;
};

/// The recurrent state: h (and c for an LSTM), each [num_layers * num_directions, B, H].
/// Destructures as PyTorch's tuple does: `auto [h_n, c_n] = state;`.
struct RNNState {
  Tensor h, c;
};

/// What LSTM and GRU return: the top layer's outputs for every step, [T, B, D * H] ([B, T, D * H]
/// when batch_first; zeros at padded steps), and the final state, [num_layers * D, B, H]
/// whatever batch_first says (with lengths: the state at each sequence's last real step).
/// Destructures like PyTorch's `out, (h_n, c_n) = lstm(x)`: `auto [out, state] = lstm(x);`.
struct RNNOutput {
  Tensor output;
  RNNState state;
};

namespace detail {
/// The Module interface of a recurrent layer: one tensor in, the output sequence out, which is
/// what Sequential and other code holding a Module pointer call. RNNBase's own forward and
/// operator() (which return the state too) hide this forward's name; the override still runs
/// through a Module pointer or reference.
class SequenceModule : public Module {
 public:
  using Module::Module;
  Tensor forward(const Tensor& input) override { return output_sequence(input); }

 protected:
  virtual Tensor output_sequence(const Tensor& input) = 0;
};
}  // namespace detail

/// Shared by LSTM and GRU: options, parameters and the layer loop.
class RNNBase : public detail::SequenceModule {
 public:
  /// input [T, B, I] (or [B, T, I] when batch_first, or [T, I] unbatched); state as in
  /// RNNOutput (zeros when absent; an LSTM needs both h and c or neither, a GRU takes h only);
  /// lengths: int64 [B] of real lengths (1..T), or undefined. B = 0 gives empty outputs
  /// ([T, 0, D * H], h_n [L * D, 0, H]) as in PyTorch; T = 0 is an error.
  RNNOutput forward(const Tensor& input, const std::optional<RNNState>& state = std::nullopt,
                    const Tensor& lengths = {});
  /// forward, as PyTorch's `lstm(x)` and `lstm(x, (h0, c0))`: `auto [out, state] = lstm(x);`.
  /// Through a Module (inside a Sequential), lstm(x) is the output sequence alone.
  RNNOutput operator()(const Tensor& input, const std::optional<RNNState>& state = std::nullopt,
                       const Tensor& lengths = {});
  void reset() override;
  const RNNOptions& options() const { return options_; }
  /// Parameters of layer l, direction d: weight_ih, weight_hh, bias_ih, bias_hh (biases may be undefined).
  std::vector<Tensor> layer_parameters(std::int64_t layer, std::int64_t direction) const;

 protected:
  RNNBase(std::string type_name, RNNOptions options, std::int64_t gates, bool lstm);
  Tensor output_sequence(const Tensor& input) override { return forward(input).output; }

 private:
  RNNOptions options_;
  std::int64_t gates_;
  bool lstm_;
  std::vector<std::vector<Tensor>> weights_;  // [layer * D + direction] -> w_ih, w_hh, b_ih, b_hh
};

/// Long short-term memory: gates i, f, g, o; weight_ih_l{k} [4H, in], weight_hh_l{k} [4H, H].
class LSTM : public RNNBase {
 public:
  explicit LSTM(RNNOptions options) : RNNBase("LSTM", options, 4, true) {}
  LSTM(std::int64_t input_size, std::int64_t hidden_size) : LSTM(RNNOptions(input_size, hidden_size)) {}
  std::shared_ptr<Module> clone() const override;
};

/// Gated recurrent unit: gates r, z, n; weight_ih_l{k} [3H, in], weight_hh_l{k} [3H, H].
class GRU : public RNNBase {
 public:
  explicit GRU(RNNOptions options) : RNNBase("GRU", options, 3, false) {}
  GRU(std::int64_t input_size, std::int64_t hidden_size) : GRU(RNNOptions(input_size, hidden_size)) {}
  std::shared_ptr<Module> clone() const override;
};

/// What LSTMCell and GRUCell share: their sizes and parameters, for G gates weight_ih [G H, I],
/// weight_hh [G H, H], bias_ih and bias_hh [G H] (undefined without bias), all uniform in
/// +-1/sqrt(H) as in PyTorch.
class RNNCellBase : public Module {
 public:
  void reset() override;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(std::string type_name, std::int64_t input_size, std::int64_t hidden_size, bool bias, std::int64_t gates);
  std::int64_t input_size_, hidden_size_;
  bool bias_;

 private:
  std::int64_t gates_;
};

/// One LSTM step: x [B, I] (or [I]), state (h, c) [B, H] (zeros when absent) -> (h', c').
class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
      : RNNCellBase("LSTMCell", input_size, hidden_size, bias, 4) {}
  RNNState forward(const Tensor& input, const std::optional<RNNState>& state);
  Tensor forward(const Tensor& input) override { return forward(input, std::nullopt).h; }
  std::shared_ptr<Module> clone() const override;
};

/// One GRU step: x [B, I] (or [I]), h [B, H] (zeros when absent) -> h'.
class GRUCell : public RNNCellBase {
 public:
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
      : RNNCellBase("GRUCell", input_size, hidden_size, bias, 3) {}
  Tensor forward(const Tensor& input, const Tensor& h);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  std::shared_ptr<Module> clone() const override;
};

}  // namespace tg::nn
