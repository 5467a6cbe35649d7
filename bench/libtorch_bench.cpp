// The C++ peer: every workload of the PyTorch reference (../shared/bench/torch_reference.py) and
// of bench/torch_extra.py in libtorch, PyTorch's C++ frontend (Debian's libtorch-dev 1.13.1),
// which is what a C++ user would otherwise pick. Same shapes, models, optimizers, warmup and
// iteration counts, same timing method and JSON keys as the Python side:
//
//   libtorch_bench [--threads N] [workload ...]    # default: every workload, 2 threads
//   libtorch_bench --list
//
// Threads as the Python side: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to
// N before the libraries start (the program re-executes itself once with them set, since OpenBLAS
// reads them when it is loaded), then torch::set_num_threads(N).
//
// Differences from the Python side that a C++ user also gets: libtorch's C++ Adam loops over the
// parameters one at a time (no foreach variant), so adam_10m compares against that.
#include <sys/resource.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace F = torch::nn::functional;
using Step = std::function<void()>;

volatile float g_sink = 0.0f;
void consume(const torch::Tensor& t) { g_sink = t.reshape({-1})[0].item<float>(); }

torch::Tensor randn_leaf(at::IntArrayRef shape) { return torch::randn(shape).requires_grad_(); }

/// zero_grad (in place, as torch 1.13's default), cross_entropy, backward, step.
template <typename Model, typename Opt>
Step classifier_step(Model model, std::shared_ptr<Opt> opt, torch::Tensor x, torch::Tensor y) {
  return [model, opt, x, y]() mutable {
    opt->zero_grad();  // 1.13's C++ zero_grad zeroes in place
    torch::Tensor loss = F::cross_entropy(model->forward(x), y);
    loss.backward();
    opt->step();
    consume(loss);
  };
}

// ---- W1: mlp -----------------------------------------------------------------------------------

Step make_mlp() {
  torch::nn::Sequential model(torch::nn::Linear(784, 512), torch::nn::ReLU(), torch::nn::Linear(512, 512),
                              torch::nn::ReLU(), torch::nn::Linear(512, 10));
  auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({128, 784}), y = torch::randint(0, 10, {128});
  return classifier_step(model, opt, x, y);
}

// ---- W2: lstm_attention ------------------------------------------------------------------------

struct LstmAttentionImpl : torch::nn::Module {
  LstmAttentionImpl()
      : emb(register_module("emb", torch::nn::Embedding(10000, 128))),
        lstm(register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(128, 256).batch_first(true)))),
        att_w(register_parameter("att_w", torch::randn({256}) * 0.05)),
        out(register_module("out", torch::nn::Linear(256, 5))) {}
  torch::Tensor forward(const torch::Tensor& tokens) {
    torch::Tensor h = std::get<0>(lstm->forward(emb->forward(tokens)));             // [B, T, H]
    torch::Tensor alpha = torch::softmax(torch::matmul(torch::tanh(h), att_w), 1);  // [B, T]
    torch::Tensor context = (h * alpha.unsqueeze(-1)).sum(1);                       // [B, H]
    return out->forward(context);
  }
  torch::nn::Embedding emb;
  torch::nn::LSTM lstm;
  torch::Tensor att_w;
  torch::nn::Linear out;
};
TORCH_MODULE(LstmAttention);

Step make_lstm_attention() {
  LstmAttention model;
  auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randint(0, 10000, {32, 64}), y = torch::randint(0, 5, {32});
  return classifier_step(model, opt, x, y);
}

Step make_lstm_attention_sgd() {
  LstmAttention model;
  auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(1e-3));
  torch::Tensor x = torch::randint(0, 10000, {32, 64}), y = torch::randint(0, 5, {32});
  return classifier_step(model, opt, x, y);
}

// ---- W3: transformer (the reference's post-LN layers, written the same way) ----------------------

struct MultiHeadAttentionImpl : torch::nn::Module {
  MultiHeadAttentionImpl(int64_t d, int64_t heads, double dropout)
      : h(heads),
        dk(d / heads),
        q(register_module("q", torch::nn::Linear(d, d))),
        k(register_module("k", torch::nn::Linear(d, d))),
        v(register_module("v", torch::nn::Linear(d, d))),
        o(register_module("o", torch::nn::Linear(d, d))),
        drop(register_module("drop", torch::nn::Dropout(dropout))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
    auto split = [&](const torch::Tensor& t) { return t.view({B, T, h, dk}).transpose(1, 2); };
    torch::Tensor qh = split(q->forward(x)), kh = split(k->forward(x)), vh = split(v->forward(x));
    torch::Tensor scores = torch::matmul(qh, kh.transpose(-2, -1)) / std::sqrt(static_cast<double>(dk));
    torch::Tensor ctx = torch::matmul(torch::softmax(scores, -1), vh).transpose(1, 2).reshape({B, T, D});
    return norm->forward(x + drop->forward(o->forward(ctx)));
  }
  int64_t h, dk;
  torch::nn::Linear q, k, v, o;
  torch::nn::Dropout drop;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(MultiHeadAttention);

struct EncoderLayerImpl : torch::nn::Module {
  EncoderLayerImpl(int64_t d, int64_t heads, int64_t ff, double dropout)
      : att(register_module("att", MultiHeadAttention(d, heads, dropout))),
        ffn(register_module(
            "ff", torch::nn::Sequential(torch::nn::Linear(d, ff), torch::nn::ReLU(), torch::nn::Linear(ff, d)))),
        drop(register_module("drop", torch::nn::Dropout(dropout))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = att->forward(x);
    return norm->forward(x + drop->forward(ffn->forward(x)));
  }
  MultiHeadAttention att;
  torch::nn::Sequential ffn;
  torch::nn::Dropout drop;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(EncoderLayer);

struct TransformerImpl : torch::nn::Module {
  explicit TransformerImpl(int64_t vocab = 1000, int64_t d = 256, int64_t heads = 4, int64_t ff = 1024,
                           int64_t layers = 2, int64_t max_len = 512, double dropout = 0.1)
      : emb(register_module("emb", torch::nn::Embedding(vocab, d))), out(nullptr), d_model(d) {
    torch::Tensor pos = torch::arange(max_len).unsqueeze(1);
    torch::Tensor div = torch::exp(torch::arange(0, d, 2) * (-std::log(10000.0) / static_cast<double>(d)));
    torch::Tensor table = torch::zeros({max_len, d});
    using torch::indexing::None;
    using torch::indexing::Slice;
    table.index_put_({Slice(), Slice(0, None, 2)}, torch::sin(pos * div));
    table.index_put_({Slice(), Slice(1, None, 2)}, torch::cos(pos * div));
    pe = register_buffer("pe", table);
    this->layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) this->layers->push_back(EncoderLayer(d, heads, ff, dropout));
    out = register_module("out", torch::nn::Linear(d, vocab));
  }
  torch::Tensor forward(const torch::Tensor& tokens) {
    using torch::indexing::Slice;
    torch::Tensor x =
        emb->forward(tokens) * std::sqrt(static_cast<double>(d_model)) + pe.index({Slice(0, tokens.size(1))});
    for (const auto& layer : *layers) x = layer->as<EncoderLayer>()->forward(x);
    return out->forward(x);
  }
  torch::nn::Embedding emb;
  torch::Tensor pe;
  torch::nn::ModuleList layers;
  torch::nn::Linear out;
  int64_t d_model;
};
TORCH_MODULE(Transformer);

Step make_transformer() {
  Transformer model;
  auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randint(0, 1000, {16, 128});
  torch::Tensor y = torch::flip(x, {1});
  return [model, opt, x, y]() mutable {
    opt->zero_grad();
    torch::Tensor logits = model->forward(x);
    torch::Tensor loss = F::cross_entropy(logits.reshape({-1, 1000}), y.reshape({-1}));
    loss.backward();
    opt->step();
    consume(loss);
  };
}

// ---- W4: cnn_cbam ------------------------------------------------------------------------------

struct ChannelAttentionImpl : torch::nn::Module {
  ChannelAttentionImpl(int64_t c, int64_t reduction = 8)
      : mlp(register_module("mlp", torch::nn::Sequential(torch::nn::Linear(c, c / reduction), torch::nn::ReLU(),
                                                         torch::nn::Linear(c / reduction, c)))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor w = torch::sigmoid(mlp->forward(x.mean({2, 3})) + mlp->forward(x.amax({2, 3})));
    return x * w.unsqueeze(-1).unsqueeze(-1);
  }
  torch::nn::Sequential mlp;
};
TORCH_MODULE(ChannelAttention);

struct SpatialAttentionImpl : torch::nn::Module {
  explicit SpatialAttentionImpl(int64_t kernel = 7)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 1, kernel).padding(kernel / 2)))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor pooled = torch::cat({x.mean(1, true), x.amax(1, true)}, 1);
    return x * torch::sigmoid(conv->forward(pooled));
  }
  torch::nn::Conv2d conv;
};
TORCH_MODULE(SpatialAttention);

struct CbamNetImpl : torch::nn::Module {
  explicit CbamNetImpl(int64_t classes = 10)
      : body(register_module(
            "body",
            torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 32, 3).padding(1)), torch::nn::ReLU(),
                                  ChannelAttention(32), SpatialAttention(), torch::nn::MaxPool2d(2),
                                  torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)), torch::nn::ReLU(),
                                  ChannelAttention(64), SpatialAttention(), torch::nn::MaxPool2d(2)))),
        out(register_module("out", torch::nn::Linear(64, classes))) {}
  torch::Tensor forward(const torch::Tensor& x) { return out->forward(body->forward(x).mean({2, 3})); }
  torch::nn::Sequential body;
  torch::nn::Linear out;
};
TORCH_MODULE(CbamNet);

Step make_cnn_cbam() {
  CbamNet model;
  auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::Tensor x = torch::randn({64, 3, 32, 32}), y = torch::randint(0, 10, {64});
  return classifier_step(model, opt, x, y);
}

// ---- W5: long_attention ------------------------------------------------------------------------

Step make_long_attention() {
  torch::Tensor q = randn_leaf({1, 4, 2048, 64}), k = randn_leaf({1, 4, 2048, 64}), v = randn_leaf({1, 4, 2048, 64});
  return [q, k, v] {
    torch::Tensor ctx = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / 8.0, -1), v);
    torch::Tensor loss = ctx.sum();
    loss.backward();
    consume(loss);
  };
}

// ---- W6: tiny_mlp ------------------------------------------------------------------------------

Step make_tiny_mlp() {
  torch::nn::Sequential model(torch::nn::Linear(32, 32), torch::nn::Tanh(), torch::nn::Linear(32, 32),
                              torch::nn::Tanh(), torch::nn::Linear(32, 1));
  auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(1e-2));
  torch::Tensor x = torch::randn({1, 32}), y = torch::randn({1, 1});
  return [model, opt, x, y]() mutable {
    opt->zero_grad();
    torch::Tensor loss = F::mse_loss(model->forward(x), y);
    loss.backward();
    opt->step();
    consume(loss);
  };
}

// ---- micro-benchmarks --------------------------------------------------------------------------

Step make_matmul_1024() {
  torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  return [a, b] { consume(torch::matmul(a, b)); };
}
Step make_add_16m() {
  torch::Tensor a = torch::randn({1 << 24}), b = torch::randn({1 << 24});
  return [a, b] { consume(a + b); };
}
Step make_softmax_4096x1024() {
  torch::Tensor a = torch::randn({4096, 1024});
  return [a] { consume(torch::softmax(a, -1)); };
}
Step make_layernorm_fwd_bwd() {
  torch::Tensor x = randn_leaf({4096, 1024});
  torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({1024}));
  return [x, norm]() mutable {
    torch::Tensor loss = norm->forward(x).sum();
    loss.backward();
    consume(loss);
  };
}

// ---- torch_extra.py's workloads ----------------------------------------------------------------

Step make_conv2d_fwd_bwd() {
  torch::Tensor x = randn_leaf({64, 32, 32, 32}), w = randn_leaf({64, 32, 3, 3}), b = randn_leaf({64});
  return [x, w, b] {
    torch::Tensor loss = F::conv2d(x, w, F::Conv2dFuncOptions().bias(b).padding(1)).sum();
    loss.backward();
    consume(loss);
  };
}
Step make_max_pool2d_fwd_bwd() {
  torch::Tensor x = randn_leaf({64, 32, 32, 32});
  return [x] {
    torch::Tensor loss = F::max_pool2d(x, F::MaxPool2dFuncOptions(2)).sum();
    loss.backward();
    consume(loss);
  };
}
Step make_max_pool2d_fwd() {
  torch::Tensor x = torch::randn({64, 32, 32, 32});
  return [x] { consume(F::max_pool2d(x, F::MaxPool2dFuncOptions(2))); };
}
Step make_lstm_layer() {
  torch::nn::LSTM lstm(128, 256);
  torch::Tensor x = randn_leaf({64, 32, 128});
  return [lstm, x]() mutable {
    torch::Tensor loss = std::get<0>(lstm->forward(x)).sum();
    loss.backward();
    consume(loss);
  };
}
Step make_adam_10m() {
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 10; ++i) {
    torch::Tensor p = torch::randn({1000, 1000}).requires_grad_();
    p.mutable_grad() = torch::randn({1000, 1000});
    params.push_back(p);
  }
  auto opt = std::make_shared<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
  return [opt, params] {
    torch::NoGradGuard no_grad;
    opt->step();
    consume(params[0]);
  };
}

// ---- the table, timing and output --------------------------------------------------------------

struct Workload {
  const char* name;
  Step (*make)();
  int warmup, iters;
};

const Workload kWorkloads[] = {
    {"mlp", make_mlp, 5, 50},
    {"lstm_attention", make_lstm_attention, 3, 20},
    {"transformer", make_transformer, 2, 10},
    {"cnn_cbam", make_cnn_cbam, 2, 10},
    {"long_attention", make_long_attention, 1, 5},
    {"tiny_mlp", make_tiny_mlp, 100, 2000},
    {"matmul_1024", make_matmul_1024, 3, 30},
    {"add_16m", make_add_16m, 3, 30},
    {"softmax_4096x1024", make_softmax_4096x1024, 3, 30},
    {"layernorm_fwd_bwd", make_layernorm_fwd_bwd, 3, 20},
    {"conv2d_fwd_bwd", make_conv2d_fwd_bwd, 2, 10},
    {"max_pool2d_fwd_bwd", make_max_pool2d_fwd_bwd, 3, 20},
    {"max_pool2d_fwd", make_max_pool2d_fwd, 3, 30},
    {"lstm_layer", make_lstm_layer, 3, 20},
    {"lstm_attention_sgd", make_lstm_attention_sgd, 3, 20},
    {"adam_10m", make_adam_10m, 3, 20},
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/// Re-executes the program once with the thread variables set to `threads`, as the Python side
/// sets them before torch is imported; returns only when they are already set.
void ensure_thread_env(char** argv, const std::string& threads) {
  const char* vars[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};
  bool same = true;
  for (const char* v : vars) {
    const char* cur = std::getenv(v);
    same = same && cur && threads == cur;
  }
  if (same) return;
  for (const char* v : vars) setenv(v, threads.c_str(), 1);
  execv("/proc/self/exe", argv);
  std::perror("libtorch_bench: execv");  // not fatal: the run goes on with the variables unset
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  std::vector<const Workload*> selected;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg.starts_with("--threads=")) {
      threads = std::atoi(argv[i] + 10);
    } else if (arg == "--list") {
      for (const Workload& w : kWorkloads) std::printf("%s warmup=%d iters=%d\n", w.name, w.warmup, w.iters);
      return 0;
    } else {
      const Workload* found = nullptr;
      for (const Workload& w : kWorkloads)
        if (arg == w.name) found = &w;
      if (!found) {
        std::fprintf(stderr, "libtorch_bench: unknown workload or option '%s' (see --list)\n", argv[i]);
        return 2;
      }
      selected.push_back(found);
    }
  }
  if (threads < 1) {
    std::fprintf(stderr, "libtorch_bench: --threads must be >= 1\n");
    return 2;
  }
  ensure_thread_env(argv, std::to_string(threads));
  if (selected.empty())
    for (const Workload& w : kWorkloads) selected.push_back(&w);
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  for (const Workload* w : selected) {
    Step step = w->make();
    for (int i = 0; i < w->warmup; ++i) step();
    std::vector<double> samples;
    for (int i = 0; i < w->iters; ++i) {
      const auto t = std::chrono::steady_clock::now();
      step();
      samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf(
        "{\"workload\": \"%s\", \"framework\": \"libtorch-%d.%d.%d\", \"threads\": %d, \"median_ms\": %.4f, "
        "\"min_ms\": %.4f, \"max_ms\": %.4f, \"peak_rss_mb\": %.1f}\n",
        w->name, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH, threads, median(samples),
        *std::min_element(samples.begin(), samples.end()), *std::max_element(samples.begin(), samples.end()),
        static_cast<double>(usage.ru_maxrss) / 1024.0);
    std::fflush(stdout);
  }
  return 0;
}
