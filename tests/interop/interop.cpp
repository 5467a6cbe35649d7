// tapegrad's side of the interop tests with PyTorch (interop.py is the other side; the models
// here and there are built alike, so their state-dict keys are the same):
//
//   tapegrad_interop export MODEL DIR   trains MODEL for a few steps, writes its weights with
//                                       tg::save to DIR/tapegrad_weights.safetensors, and an
//                                       input with the model's output to DIR/tapegrad_io.safetensors
//   tapegrad_interop check MODEL DIR    builds a fresh MODEL, tg::load's the weights torch wrote
//                                       (DIR/torch_weights.safetensors) and compares its output on
//                                       torch's input with torch's output (DIR/torch_io.safetensors)
//
// MODEL: mlp, lstm_classifier or transformer. Exit status 0 when the outputs agree.
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "tapegrad/tapegrad.h"

namespace {

using namespace tg;

/// Linear(8, 32), ReLU, Linear(32, 32), ReLU, Linear(32, 4) on float32 [N, 8].
std::shared_ptr<nn::Module> make_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(8, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 32),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 4)});
}

/// emb: Embedding(50, 16); lstm: LSTM(16, 32, num_layers 2, batch_first, bidirectional);
/// out: Linear(64, 3) on the top layer's final forward and backward states. tokens [B, T].
class LstmClassifier : public nn::Cloneable<LstmClassifier> {
 public:
  LstmClassifier() : Cloneable("LstmClassifier") { reset(); }
  void reset() override {
    emb = register_module("emb", std::make_shared<nn::Embedding>(50, 16));
    lstm = register_module(
        "lstm", std::make_shared<nn::LSTM>(nn::RNNOptions(16, 32).num_layers(2).batch_first(true).bidirectional(true)));
    out = register_module("out", std::make_shared<nn::Linear>(64, 3));
  }
  Tensor forward(const Tensor& tokens) override {
    const Tensor h = lstm->forward(emb->forward(tokens), std::nullopt).state.h;  // [4, B, 32]
    return out->forward(cat({h.select(0, 2), h.select(0, 3)}, 1));
  }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> out;
};

/// emb: Embedding(50, 32); encoder: TransformerEncoder of 2 layers (d_model 32, 4 heads,
/// feed-forward 64, batch_first) with a final LayerNorm; head: Linear(32, 5) on the mean over
/// positions. tokens [B, T].
class TransformerClassifier : public nn::Cloneable<TransformerClassifier> {
 public:
  TransformerClassifier() : Cloneable("TransformerClassifier") { reset(); }
  void reset() override {
    emb = register_module("emb", std::make_shared<nn::Embedding>(50, 32));
    auto layer = std::make_shared<nn::TransformerEncoderLayer>(
        nn::TransformerEncoderLayerOptions(32, 4).dim_feedforward(64).dropout(0.1).batch_first(true));
    encoder = register_module("encoder", std::make_shared<nn::TransformerEncoder>(
                                             layer, 2, std::make_shared<nn::LayerNorm>(std::vector<std::int64_t>{32})));
    head = register_module("head", std::make_shared<nn::Linear>(32, 5));
  }
  Tensor forward(const Tensor& tokens) override {
    return head->forward(encoder->forward(emb->forward(tokens)).mean({1}));
  }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::Linear> head;
};

struct Spec {
  std::shared_ptr<nn::Module> model;
  Tensor x;  // the input
  std::int64_t classes;
};

Spec make(const std::string& name) {
  if (name == "mlp") return {make_mlp(), randn({16, 8}), 4};
  if (name == "lstm_classifier") return {std::make_shared<LstmClassifier>(), randint(0, 50, {6, 9}), 3};
  if (name == "transformer") return {std::make_shared<TransformerClassifier>(), randint(0, 50, {4, 7}), 5};
  throw Error("tapegrad_interop: unknown model '" + name + "' (mlp, lstm_classifier, transformer)");
}

int export_model(const std::string& name, const std::string& dir) {
  manual_seed(2024);
  Spec s = make(name);
  // Training moves the weights away from their initialisation, so the test is about the
  // weights and not the initialiser.
  const Tensor y = randint(0, s.classes, {s.x.size(0)});
  optim::Adam opt(s.model->parameters(), optim::AdamOptions(1e-2));
  s.model->train();
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    const Tensor loss = nn::functional::cross_entropy(s.model->forward(s.x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  std::printf("%s: trained 20 Adam steps in tapegrad, loss %.4f -> %.4f\n", name.c_str(), first, last);
  s.model->eval();
  const Tensor out = [&] {
    NoGradGuard no_grad;
    return s.model->forward(s.x);
  }();
  save(*s.model, dir + "/tapegrad_weights.safetensors", {{"model", name}});
  save_safetensors(dir + "/tapegrad_io.safetensors", {{"x", s.x}, {"out", out}});
  return 0;
}

int check_model(const std::string& name, const std::string& dir) {
  manual_seed(7);  // another initialisation than torch's: everything must come from the file
  Spec s = make(name);
  load(*s.model, dir + "/torch_weights.safetensors");
  s.model->eval();
  const SafetensorsFile io = load_safetensors(dir + "/torch_io.safetensors");
  const Tensor x = io.find("x"), want = io.find("out");
  TG_CHECK(x.defined() && want.defined(), "tapegrad_interop: torch_io.safetensors lacks x or out");
  NoGradGuard no_grad;
  const Tensor got = s.model->forward(x);
  TG_CHECK(got.shape() == want.shape(), "tapegrad_interop: output shape {} but torch's is {}", got.shape(),
           want.shape());
  const double diff = (got - want).abs().amax().item();
  const double scale = want.abs().amax().item();
  std::printf("%s: torch's weights in tapegrad: max |tapegrad - torch| = %.3g (outputs up to %.3g)\n", name.c_str(),
              diff, scale);
  return diff <= 1e-5 + 1e-4 * scale ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s export|check MODEL DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::string command = argv[1];
    if (command == "export") return export_model(argv[2], argv[3]);
    if (command == "check") return check_model(argv[2], argv[3]);
    std::fprintf(stderr, "tapegrad_interop: unknown command '%s'\n", argv[1]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tapegrad_interop: %s\n", e.what());
    return 1;
  }
}
