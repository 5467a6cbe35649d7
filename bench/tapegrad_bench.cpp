// tapegrad's half of the side-by-side benchmark: the workloads of the PyTorch reference
// (../shared/bench/torch_reference.py) on the same shapes, timed the same way.
//
//   tapegrad_bench                              # every workload, 2 threads
//   tapegrad_bench --threads 1 tiny_mlp         # one workload
//   tapegrad_bench --list                       # names, warmup and iteration counts
//
// Method (the reference's `timed`): run the step `warmup` times, then time `iters` single
// steps with a monotonic clock, and print one JSON line per workload with the same keys as
// the reference: workload, framework, threads, median/min/max ms per step, peak RSS in MB.
// --warmup / --iters override the counts (for profiling under callgrind; comparisons use the
// defaults). bench/compare.py runs this program and the reference alternately.
//
// Adding a workload: write a `make_<name>()` that builds the inputs and returns the step,
// and add a row to kWorkloads with the reference's warmup and iteration counts. A workload
// with no counterpart in the reference either has one in bench/torch_extra.py (conv2d_fwd_bwd,
// max_pool2d_fwd_bwd, max_pool2d_fwd, lstm_layer, lstm_attention_sgd, adam_10m: same names, shapes and
// counts there) or is a baseline for a target, not a race (sgemm_1024).
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.h"
#include "tapegrad/tapegrad.h"

#ifndef TAPEGRAD_BENCH_VERSION
#define TAPEGRAD_BENCH_VERSION "unknown"
#endif

namespace {

using namespace tg_bench;

// ---- micro-benchmarks (forward only) ----------------------------------------------------------

Step make_matmul_1024() {
  tg::Tensor a = tg::randn({1024, 1024}), b = tg::randn({1024, 1024});
  return [a, b] { consume(tg::matmul(a, b)); };
}

/// The bare OpenBLAS rate on matmul_1024's shapes (make_raw_sgemm): matmul_1024 is held to >= 90%
/// of it, measured in the same run. tapegrad keeps OpenBLAS single-threaded (its matmul splits
/// work over TBB), so the step sets OpenBLAS's thread count for this workload only.
Step make_sgemm_1024() { return make_raw_sgemm(1024); }

Step make_add_16m() {
  tg::Tensor a = tg::randn({std::int64_t{1} << 24}), b = tg::randn({std::int64_t{1} << 24});
  return [a, b] { consume(tg::add(a, b)); };
}

Step make_softmax_4096x1024() {
  tg::Tensor a = tg::randn({4096, 1024});
  return [a] { consume(tg::softmax(a, -1)); };
}

// ---- per-op overhead: a tiny MLP at batch 1 ------------------------------------------------------

/// A leaf initialised like PyTorch's nn.Linear default: uniform(-1/sqrt(in), 1/sqrt(in)), for
/// the weight and the bias alike.
tg::Tensor linear_init(tg::IntArrayRef shape, std::int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  tg::Tensor p;
  {
    tg::NoGradGuard no_grad;
    p = tg::sub(tg::mul(tg::rand(shape), 2.0 * bound), bound);
  }
  p.requires_grad_();
  return p;
}

/// The reference's Linear(32,32)-Tanh-Linear(32,32)-Tanh-Linear(32,1), mse_loss, SGD(lr=1e-2),
/// from raw ops: each Linear is tg::linear (one node; the weight [out, in] as nn.Linear holds
/// it), the loss is mean((out - y)^2). Step:
/// zero_grad, forward, backward, update. zero_grad(false) zeroes in place as torch 1.13's
/// Optimizer.zero_grad() does by default (set_to_none=False), so both sides do the same work.
Step make_tiny_mlp() {
  struct Mlp {
    tg::Tensor w1, b1, w2, b2, w3, b3, x, y;
    tg::optim::SGD opt;
  };
  tg::Tensor w1 = linear_init({32, 32}, 32), b1 = linear_init({32}, 32);
  tg::Tensor w2 = linear_init({32, 32}, 32), b2 = linear_init({32}, 32);
  tg::Tensor w3 = linear_init({1, 32}, 32), b3 = linear_init({1}, 32);
  tg::Tensor x = tg::randn({1, 32}), y = tg::randn({1, 1});
  auto m = std::make_shared<Mlp>(Mlp{w1, b1, w2, b2, w3, b3, x, y, tg::optim::SGD({w1, b1, w2, b2, w3, b3}, 1e-2)});
  return [m] {
    m->opt.zero_grad(/*set_to_none=*/false);
    tg::Tensor h = tg::tanh(tg::linear(m->x, m->w1, m->b1));
    h = tg::tanh(tg::linear(h, m->w2, m->b2));
    tg::Tensor out = tg::linear(h, m->w3, m->b3);
    tg::Tensor loss = tg::mean(tg::pow(tg::sub(out, m->y), 2.0));
    loss.backward();
    m->opt.step();
    consume(loss);
  };
}

// ---- issue 3: convolution and pooling (peers in bench/torch_extra.py) ---------------------------

/// conv2d of x [64, 32, 32, 32] with weight [64, 32, 3, 3] and bias [64], padding 1 (all three
/// require grad), then backward of out.sum(). Gradients accumulate across steps, as on the
/// torch side (nothing zeroes them there either).
Step make_conv2d_fwd_bwd() {
  tg::Tensor x = randn_leaf({64, 32, 32, 32}), w = randn_leaf({64, 32, 3, 3}), b = randn_leaf({64});
  return [x, w, b] {
    tg::Tensor loss = tg::sum(tg::conv2d(x, w, b, /*stride=*/1, /*padding=*/1));
    loss.backward();
    consume(loss);
  };
}

/// max_pool2d(x, 2) of x [64, 32, 32, 32] requiring grad, then backward of out.sum().
Step make_max_pool2d_fwd_bwd() {
  tg::Tensor x = randn_leaf({64, 32, 32, 32});
  return [x] {
    tg::Tensor loss = tg::sum(tg::max_pool2d(x, 2));
    loss.backward();
    consume(loss);
  };
}

/// max_pool2d(x, 2) of x [64, 32, 32, 32] not requiring grad: forward only.
Step make_max_pool2d_fwd() {
  tg::Tensor x = tg::randn({64, 32, 32, 32});
  return [x] { consume(tg::max_pool2d(x, 2)); };
}

// ---- issue 4: recurrent layers ------------------------------------------------------------------

/// One nn::LSTM(128, 256) layer, seq-first, on x [T=64, B=32, 128] requiring grad, zero initial
/// state: forward, then backward of output.sum() (parameter gradients accumulate, as in torch).
Step make_lstm_layer() {
  auto lstm = std::make_shared<tg::nn::LSTM>(128, 256);
  tg::Tensor x = randn_leaf({64, 32, 128});
  return [lstm, x] {
    tg::Tensor loss = tg::sum(lstm->forward(x, std::nullopt).output);
    loss.backward();
    consume(loss);
  };
}

/// The reference's LstmAttention: Embedding(10000, 128) -> LSTM(128, 256, batch_first) ->
/// additive attention pooling with a learned query att_w [256] (initialised randn * 0.05) ->
/// Linear(256, 5).
class LstmAttention : public tg::nn::Module {
 public:
  LstmAttention() : Module("LstmAttention") {
    emb = register_module("emb", std::make_shared<tg::nn::Embedding>(10000, 128));
    lstm = register_module("lstm", std::make_shared<tg::nn::LSTM>(tg::nn::RNNOptions(128, 256).batch_first(true)));
    tg::Tensor q;
    {
      tg::NoGradGuard no_grad;
      q = tg::mul(tg::randn({256}), 0.05);
    }
    att_w = register_parameter("att_w", q);
    out = register_module("out", std::make_shared<tg::nn::Linear>(256, 5));
  }
  /// tokens int64 [B, T] -> logits [B, 5].
  tg::Tensor forward(const tg::Tensor& tokens) override {
    tg::Tensor h = lstm->forward(emb->forward(tokens), std::nullopt).output;  // [B, T, H]
    tg::Tensor alpha = tg::softmax(tg::matmul(tg::tanh(h), att_w), 1);        // [B, T]
    tg::Tensor context = tg::sum(tg::mul(h, alpha.unsqueeze(-1)), {1});       // [B, H]
    return out->forward(context);
  }
  std::shared_ptr<tg::nn::Embedding> emb;
  std::shared_ptr<tg::nn::LSTM> lstm;
  tg::Tensor att_w;
  std::shared_ptr<tg::nn::Linear> out;
};

/// The reference's lstm_attention training step: tokens randint(0, 10000, [32, 64]), classes
/// randint(0, 5, [32]), Adam(lr=1e-3). lstm_attention_sgd is the same step with SGD(lr=1e-3)
/// (torch_extra.py has its peer): the difference between the two is the optimizer's share.
template <typename Opt, typename Options>
Step make_lstm_attention_with() {
  auto model = std::make_shared<LstmAttention>();
  tg::Tensor x = tg::randint(0, 10000, {32, 64});  // drawn in the reference's order
  tg::Tensor y = tg::randint(0, 5, {32});
  return make_classifier_step<Opt>(model, x, y, Options(1e-3));
}
Step make_lstm_attention() { return make_lstm_attention_with<tg::optim::Adam, tg::optim::AdamOptions>(); }
Step make_lstm_attention_sgd() { return make_lstm_attention_with<tg::optim::SGD, tg::optim::SGDOptions>(); }

// ---- the reference's mlp and layernorm_fwd_bwd ----------------------------------------------------

/// Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10) on x randn [128, 784],
/// classes randint(0, 10, [128]); cross_entropy; Adam(lr=1e-3).
Step make_mlp() {
  namespace nn = tg::nn;
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(784, 512), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(512, 512),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(512, 10)});
  tg::Tensor x = tg::randn({128, 784});  // drawn in the reference's order
  tg::Tensor y = tg::randint(0, 10, {128});
  return make_classifier_step<tg::optim::Adam>(model, x, y, tg::optim::AdamOptions(1e-3));
}

/// nn::LayerNorm(1024) on x randn [4096, 1024] requiring grad: forward, backward of sum().
Step make_layernorm_fwd_bwd() {
  auto norm = std::make_shared<tg::nn::LayerNorm>(std::vector<std::int64_t>{1024});
  tg::Tensor x = randn_leaf({4096, 1024});
  return [norm, x] {
    tg::Tensor loss = tg::sum(norm->forward(x));
    loss.backward();
    consume(loss);
  };
}

// ---- issue 5: the optimizer step ----------------------------------------------------------------

/// One Adam(lr=1e-3) step over 10M float32 parameters held as ten 1M-element tensors with fixed
/// random gradients (torch_extra.py: torch.optim.Adam(foreach=True) on the same tensors).
Step make_adam_10m() {
  std::vector<tg::Tensor> params;
  for (int i = 0; i < 10; ++i) {
    tg::Tensor p = tg::randn({1000, 1000}).requires_grad_();
    p.set_grad(tg::randn({1000, 1000}));
    params.push_back(p);
  }
  auto opt = std::make_shared<tg::optim::Adam>(params, tg::optim::AdamOptions(1e-3));
  return [opt, params] {
    opt->step();
    consume(params[0]);
  };
}

// ---- linear as one node against its three-node composition (ours only) -------------------------

/// Forward and backward of y = x W^T + b with x [rows, n] requiring grad and W [n, n], b [n]
/// parameters: tg::linear (one node) or, when composed, matmul(x, W.t()) + b (three nodes: t,
/// matmul, add, and a transposed weight gradient).
Step make_linear_step(std::int64_t rows, std::int64_t n, bool composed) {
  tg::Tensor x = randn_leaf({rows, n}), w = randn_leaf({n, n}), b = randn_leaf({n});
  return [x, w, b, composed] {
    tg::Tensor y = composed ? tg::add(tg::matmul(x, w.t()), b) : tg::linear(x, w, b);
    tg::Tensor loss = tg::sum(y);
    loss.backward();
    x.zero_grad(true);
    w.zero_grad(true);
    b.zero_grad(true);
    consume(loss);
  };
}
Step make_linear_512() { return make_linear_step(128, 512, false); }
Step make_linear_512_composed() { return make_linear_step(128, 512, true); }
Step make_linear_32() { return make_linear_step(1, 32, false); }
Step make_linear_32_composed() { return make_linear_step(1, 32, true); }

// ---- the table -----------------------------------------------------------------------------------

struct Workload {
  const char* name;
  Step (*make)();
  int warmup;
  int iters;
};

// Names, warmup and iteration counts as in torch_reference.py's WORKLOADS (sgemm_1024: ours
// only), then the extra workloads with torch_extra.py's names and counts.
const Workload kWorkloads[] = {
    {"tiny_mlp", make_tiny_mlp, 100, 2000},
    {"matmul_1024", make_matmul_1024, 3, 30},
    {"sgemm_1024", make_sgemm_1024, 3, 30},
    {"sgemm_peak", make_sgemm_peak, 2, 10},
    {"add_16m", make_add_16m, 3, 30},
    {"softmax_4096x1024", make_softmax_4096x1024, 3, 30},
    {"mlp", make_mlp, 5, 50},
    {"lstm_attention", make_lstm_attention, 3, 20},
    {"transformer", make_transformer, 2, 10},
    {"cnn_cbam", make_cnn_cbam, 2, 10},
    {"long_attention", make_long_attention, 1, 5},
    {"layernorm_fwd_bwd", make_layernorm_fwd_bwd, 3, 20},
    // Not in the reference: the torch side is bench/torch_extra.py, with the same counts.
    {"long_attention_composed", make_long_attention_composed, 1, 5},
    {"lstm_attention_sgd", make_lstm_attention_sgd, 3, 20},
    {"adam_10m", make_adam_10m, 3, 20},
    {"conv2d_fwd_bwd", make_conv2d_fwd_bwd, 2, 10},
    {"max_pool2d_fwd_bwd", make_max_pool2d_fwd_bwd, 3, 20},
    {"max_pool2d_fwd", make_max_pool2d_fwd, 3, 30},
    {"lstm_layer", make_lstm_layer, 3, 20},
    // Ours only: the Linear node against its composition (issue 9).
    {"linear_512", make_linear_512, 5, 100},
    {"linear_512_composed", make_linear_512_composed, 5, 100},
    {"linear_32", make_linear_32, 100, 5000},
    {"linear_32_composed", make_linear_32_composed, 100, 5000},
};

const Workload* find_workload(std::string_view name) {
  for (const Workload& w : kWorkloads)
    if (name == w.name) return &w;
  return nullptr;
}

// ---- timing and output ---------------------------------------------------------------------------

std::vector<double> timed(const Step& step, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    const auto t = std::chrono::steady_clock::now();
    step();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return samples;
}

/// statistics.median: the middle value, or the mean of the two middle values.
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/// A number as Python's json.dumps(round(x, digits)) writes it: shortest round-trip form, with
/// a ".0" on integral values.
std::string py_float(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  x = std::round(x * scale) / scale;
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int usage_error(const char* prog, const std::string& message) {
  std::fprintf(stderr, "%s: %s\nusage: %s [--threads N] [--warmup N] [--iters N] [--list] [workload ...]\n", prog,
               message.c_str(), prog);
  return 2;
}

bool parse_int(const char* s, int& out) {
  const char* end = s + std::strlen(s);
  const auto res = std::from_chars(s, end, out);
  return res.ec == std::errc() && res.ptr == end;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, warmup_override = -1, iters_override = -1;
  std::vector<const Workload*> selected;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    int* target = nullptr;
    std::string_view option;
    for (auto [flag, dst] : {std::pair{"--threads", &threads}, std::pair{"--warmup", &warmup_override},
                             std::pair{"--iters", &iters_override}}) {
      const std::string_view f = flag;
      if (arg == f || (arg.size() > f.size() && arg.substr(0, f.size() + 1) == std::string(f) + "=")) {
        target = dst;
        option = f;
      }
    }
    if (target) {
      const char* value = nullptr;
      if (arg.size() > option.size()) value = argv[i] + option.size() + 1;
      else if (i + 1 < argc) value = argv[++i];
      const int minimum = target == &warmup_override ? 0 : 1;
      if (!value || !parse_int(value, *target) || *target < minimum)
        return usage_error(argv[0], "bad value for " + std::string(option));
    } else if (arg == "--list") {
      for (const Workload& w : kWorkloads) std::printf("%s warmup=%d iters=%d\n", w.name, w.warmup, w.iters);
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      usage_error(argv[0], "tapegrad's side of bench/compare.py; prints one JSON line per workload");
      return 0;
    } else if (arg.starts_with("-")) {
      return usage_error(argv[0], "unknown option " + std::string(arg));
    } else if (const Workload* w = find_workload(arg)) {
      selected.push_back(w);
    } else {
      return usage_error(argv[0], "unknown workload '" + std::string(arg) + "' (see --list)");
    }
  }
  if (selected.empty())
    for (const Workload& w : kWorkloads) selected.push_back(&w);

  try {
    tg::set_num_threads(threads);
    tg::manual_seed(0);
    for (const Workload* w : selected) {
      const int warmup = warmup_override >= 0 ? warmup_override : w->warmup;
      const int iters = iters_override >= 0 ? iters_override : w->iters;
      const std::vector<double> samples = timed(w->make(), warmup, iters);
      std::printf(
          "{\"workload\": \"%s\", \"framework\": \"tapegrad-%s\", \"threads\": %d, \"median_ms\": %s, "
          "\"min_ms\": %s, \"max_ms\": %s, \"peak_rss_mb\": %s}\n",
          w->name, TAPEGRAD_BENCH_VERSION, threads, py_float(median(samples), 4).c_str(),
          py_float(*std::min_element(samples.begin(), samples.end()), 4).c_str(),
          py_float(*std::max_element(samples.begin(), samples.end()), 4).c_str(), py_float(peak_rss_mb(), 1).c_str());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tapegrad_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
