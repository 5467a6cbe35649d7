// The reference's transformer, cnn_cbam and long_attention workloads (torch_reference.py: W3,
// W4, W5) on tapegrad's public API, written as a user would, and sgemm_peak, the machine's
// sgemm rate that compare.py divides the GEMM-bound workloads' FLOP rates by.
#include <cblas.h>

#include <cmath>

#include "bench_common.h"
#include "tapegrad/nn/attention/positional.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"
#include "tapegrad/nn/attention/vision.h"
#include "tapegrad/nn/transformer.h"

namespace tg_bench {
namespace nn = tg::nn;

namespace {

/// The reference's Transformer: Embedding(1000, 256) scaled by sqrt(256), plus the sinusoidal
/// table pe[:T] (max_len 512, no dropout there), two post-LN encoder layers (d 256, 4 heads, ff
/// 1024, ReLU, dropout 0.1), Linear(256, 1000). The layers are nn::TransformerEncoderLayer, which
/// is PyTorch's: it also drops out the attention weights and the feed-forward's hidden layer,
/// where the reference's hand-written layer drops out only the two residual branches.
class Transformer : public nn::Module {
 public:
  Transformer() : Module("Transformer") {
    constexpr std::int64_t vocab = 1000, d = 256, heads = 4, ff = 1024, layers = 2, max_len = 512;
    emb = register_module("emb", std::make_shared<nn::Embedding>(vocab, d));
    pos = register_module("pos", std::make_shared<nn::SinusoidalPositionalEncoding>(
                                     nn::SinusoidalPositionalEncodingOptions(d, max_len).dropout(0.0)));
    auto layer = std::make_shared<nn::TransformerEncoderLayer>(
        nn::TransformerEncoderLayerOptions(d, heads).dim_feedforward(ff).dropout(0.1).batch_first(true));
    encoder = register_module("encoder", std::make_shared<nn::TransformerEncoder>(layer, layers));
    out = register_module("out", std::make_shared<nn::Linear>(d, vocab));
  }
  /// tokens int64 [B, T] -> logits [B, T, 1000].
  tg::Tensor forward(const tg::Tensor& tokens) override {
    tg::Tensor x = pos->forward(tg::mul(emb->forward(tokens), std::sqrt(256.0)));
    return out->forward(encoder->forward(x));
  }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::SinusoidalPositionalEncoding> pos;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::Linear> out;
};

}  // namespace

/// Tokens randint(0, 1000, [16, 128]), targets the reversed sequence; cross_entropy over the
/// 2048 positions; Adam(lr=1e-3).
Step make_transformer() {
  struct State {
    std::shared_ptr<Transformer> model;
    tg::optim::Adam opt;
    tg::Tensor x, y;
  };
  auto model = std::make_shared<Transformer>();
  tg::Tensor x = tg::randint(0, 1000, {16, 128});
  tg::Tensor y = x.flip({1}).reshape({-1});
  auto s =
      std::make_shared<State>(State{model, tg::optim::Adam(model->parameters(), tg::optim::AdamOptions(1e-3)), x, y});
  return [s] {
    s->opt.zero_grad(/*set_to_none=*/false);
    tg::Tensor logits = s->model->forward(s->x);
    tg::Tensor loss = nn::functional::cross_entropy(logits.reshape({-1, 1000}), s->y);
    loss.backward();
    s->opt.step();
    consume(loss);
  };
}

namespace {

/// The reference's CbamNet: two blocks of Conv2d(3x3, padding 1), ReLU, CBAM's channel attention
/// (reduction 8), its spatial attention (7x7 convolution, with a bias as nn.Conv2d's default)
/// and MaxPool2d(2); then the spatial mean and Linear(64, 10).
class CbamNet : public nn::Module {
 public:
  CbamNet() : Module("CbamNet") {
    body = register_module("body", std::make_shared<nn::Sequential>());
    for (auto [in, outc] : {std::pair<std::int64_t, std::int64_t>{3, 32}, {32, 64}}) {
      body->push_back(std::make_shared<nn::Conv2d>(nn::ConvOptions(in, outc, 3).padding(1)));
      body->push_back(std::make_shared<nn::ReLU>());
      body->push_back(std::make_shared<nn::ChannelAttention>(outc, 8));
      body->push_back(std::make_shared<nn::SpatialAttention>(nn::SpatialAttentionOptions(7).bias(true)));
      body->push_back(std::make_shared<nn::MaxPool2d>(2));
    }
    out = register_module("out", std::make_shared<nn::Linear>(64, 10));
  }
  /// x [B, 3, 32, 32] -> logits [B, 10].
  tg::Tensor forward(const tg::Tensor& x) override { return out->forward(tg::mean(body->forward(x), {2, 3})); }
  std::shared_ptr<nn::Sequential> body;
  std::shared_ptr<nn::Linear> out;
};

}  // namespace

/// x randn [64, 3, 32, 32], classes randint(0, 10, [64]); SGD(lr=0.01, momentum=0.9).
Step make_cnn_cbam() {
  auto model = std::make_shared<CbamNet>();
  tg::Tensor x = tg::randn({64, 3, 32, 32});  // drawn in the reference's order
  tg::Tensor y = tg::randint(0, 10, {64});
  return make_classifier_step<tg::optim::SGD>(model, x, y, tg::optim::SGDOptions(0.01).momentum(0.9));
}

/// q, k, v randn [1, 4, 2048, 64] requiring grad; forward and backward of ctx.sum(), gradients
/// accumulating across steps as in the reference. `composed`: the reference's formula
/// softmax(q k^T / 8) v from core ops; otherwise nn::functional::scaled_dot_product_attention.
Step make_long_attention_with(bool composed) {
  tg::Tensor q = randn_leaf({1, 4, 2048, 64}), k = randn_leaf({1, 4, 2048, 64}), v = randn_leaf({1, 4, 2048, 64});
  return [q, k, v, composed] {
    tg::Tensor ctx = composed ? tg::matmul(tg::softmax(tg::div(tg::matmul(q, k.transpose(-2, -1)), 8.0), -1), v)
                              : nn::functional::scaled_dot_product_attention(q, k, v);
    tg::Tensor loss = tg::sum(ctx);
    loss.backward();
    consume(loss);
  };
}
Step make_long_attention() { return make_long_attention_with(false); }
Step make_long_attention_composed() { return make_long_attention_with(true); }

Step make_raw_sgemm(int n) {
  struct BlasThreads {
    int previous = openblas_get_num_threads();
    explicit BlasThreads(int threads) { openblas_set_num_threads(threads); }
    ~BlasThreads() { openblas_set_num_threads(previous); }
  };
  auto threads = std::make_shared<BlasThreads>(tg::get_num_threads());
  tg::Tensor a = tg::randn({n, n}), b = tg::randn({n, n}), c = tg::empty({n, n});
  return [a, b, c, threads, n] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
                c.data<float>(), n);
    consume(c);
  };
}

/// The machine's sgemm rate: a raw cblas_sgemm of two 2048 x 2048 matrices into a preallocated
/// output, with OpenBLAS's own threading at --threads threads (restored afterwards). compare.py
/// divides a GEMM-bound workload's FLOP rate by 2 * 2048^3 / this step's time.
Step make_sgemm_peak() { return make_raw_sgemm(2048); }

}  // namespace tg_bench
