// lstm_attention: text classification with an LSTM and attention pooling, on a generated task
// where the class is decided by a few key tokens hidden at random places in long sequences.
//
//   data:   sequences of 20..60 tokens: noise tokens (a..o), and at random positions the key
//           tokens A, B, C, D: the class's key `--keys` times (3), each other key fewer times
//           (0..2); the class is the key token seen most often
//   model:  Embedding -> LSTM (batch_first) -> AttentionPooling -> Linear
//   train:  Adam on cross-entropy, batches from a DataLoader with pad_collate (lengths + mask)
//
// Writes to --out: metrics.csv (one row per epoch), checkpoint.safetensors (after every epoch;
// --resume continues from it), curves.png and attention.png (with gnuplot). Prints the test
// accuracy, where the attention looks and how much of it lands on the key tokens.
//
// Exits with status 1 unless the training loss went down and every output was written (the smoke
// test relies on this), 2 on a bad flag or an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/run.h"  // the flags, checkpoints and checks every example shares
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;
namespace fs = std::filesystem;

namespace {

struct Settings : example::RunFlags {  // --epochs --threads --seed --out --resume --stop-after
  Settings() : RunFlags(/*epochs=*/10, /*out=*/"lstm_attention_out") {}
  std::int64_t train_size = 3000;
  std::int64_t test_size = 500;
  std::int64_t batch_size = 32;
  std::int64_t min_len = 20, max_len = 60;
  std::int64_t keys = 3;
  std::int64_t embed = 16, hidden = 32;
  double lr = 0.01;
  std::int64_t show = 6;
};

// ---- the task -------------------------------------------------------------------------------

// Vocabulary: 0 is padding, 1..4 the key tokens A..D (one per class), 5..19 the noise tokens a..o.
constexpr std::int64_t kClasses = 4;
constexpr std::int64_t kNoise = 15;
constexpr std::int64_t kVocab = 1 + kClasses + kNoise;
constexpr std::int64_t kPad = 0;

bool is_key(std::int64_t token) { return token >= 1 && token <= kClasses; }

std::string token_name(std::int64_t token) {
  if (token == kPad) return "_";
  if (is_key(token)) return std::string(1, static_cast<char>('A' + token - 1));
  return std::string(1, static_cast<char>('a' + token - 1 - kClasses));
}

/// The generated examples: each is {tokens int64 [T], label int64 []}. The sequences are made up
/// front from a std::mt19937_64 seeded with the run's seed, so get() only reads (it runs on the
/// loader's background thread).
class KeyTokenDataset : public tg::data::Dataset {
 public:
  KeyTokenDataset(std::int64_t size, const Settings& s, std::uint64_t stream) {
    std::mt19937_64 rng(s.seed * 1000003 + stream);
    const auto uniform = [&](std::int64_t n) {
      return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
    };
    for (std::int64_t i = 0; i < size; ++i) {
      const std::int64_t length = s.min_len + uniform(s.max_len - s.min_len + 1);
      const std::int64_t label = uniform(kClasses);
      std::vector<std::int64_t> tokens(static_cast<std::size_t>(length));
      for (auto& t : tokens) t = 1 + kClasses + uniform(kNoise);
      // The class's key token `keys` times, and each other key token 0..keys-1 times (the
      // distractors), at distinct random positions: the class is the key token seen most often.
      for (std::int64_t key = 0; key < kClasses; ++key) {
        const std::int64_t copies = key == label ? s.keys : uniform(s.keys);
        for (std::int64_t placed = 0; placed < copies;) {
          auto& t = tokens[static_cast<std::size_t>(uniform(length))];
          if (is_key(t)) continue;
          t = 1 + key;
          ++placed;
        }
      }
      sequences_.push_back(std::move(tokens));
      labels_.push_back(label);
    }
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }
  tg::data::Example get(std::int64_t i) const override {
    const auto& tokens = sequences_[static_cast<std::size_t>(i)];
    return {tg::from_vector(tokens, {static_cast<std::int64_t>(tokens.size())}),
            tg::scalar_tensor(static_cast<double>(labels_[static_cast<std::size_t>(i)]), tg::kInt64)};
  }
  const std::vector<std::int64_t>& tokens(std::int64_t i) const { return sequences_[static_cast<std::size_t>(i)]; }

 private:
  std::vector<std::vector<std::int64_t>> sequences_;
  std::vector<std::int64_t> labels_;
};

// ---- the model ------------------------------------------------------------------------------

// [doc:model]
/// Embedding -> LSTM -> AttentionPooling -> Linear. Keys of its state_dict: embed.weight,
/// lstm.weight_ih_l0, ..., pool.query, head.weight, head.bias.
class Classifier : public tg::nn::Cloneable<Classifier> {
 public:
  Classifier(std::int64_t embed_dim, std::int64_t hidden)
      : Cloneable("Classifier"), embed_dim_(embed_dim), hidden_(hidden) {
    reset();
  }
  void reset() override {
    embed = register_module("embed", std::make_shared<tg::nn::Embedding>(kVocab, embed_dim_));
    lstm = register_module("lstm",
                           std::make_shared<tg::nn::LSTM>(tg::nn::RNNOptions(embed_dim_, hidden_).batch_first(true)));
    pool = register_module("pool", std::make_shared<tg::nn::AttentionPooling>(hidden_));
    head = register_module("head", std::make_shared<tg::nn::Linear>(hidden_, kClasses));
  }

  struct Output {
    tg::Tensor logits;  // [B, classes]
    tg::Tensor alpha;   // [B, T]: the attention over the steps, 0 on the padding
  };
  /// tokens int64 [B, T] (padded), lengths int64 [B].
  Output forward(const tg::Tensor& tokens, const tg::Tensor& lengths) {
    const tg::Tensor h = lstm->forward(embed->forward(tokens), std::nullopt, lengths).output;  // [B, T, H]
    const auto [context, alpha] = pool->forward_with_lengths(h, lengths);                      // [B, H], [B, T]
    return {head->forward(context), alpha};
  }

  std::shared_ptr<tg::nn::Embedding> embed;
  std::shared_ptr<tg::nn::LSTM> lstm;
  std::shared_ptr<tg::nn::AttentionPooling> pool;
  std::shared_ptr<tg::nn::Linear> head;

 private:
  std::int64_t embed_dim_, hidden_;
};
// [/doc:model]

// ---- evaluation -----------------------------------------------------------------------------

struct Evaluation {
  double loss = 0, accuracy = 0;
  double key_share = 0;      // mean attention mass on the key tokens
  double argmax_on_key = 0;  // fraction of sequences whose most weighted position is a key token
};

Evaluation evaluate(Classifier& model, tg::data::DataLoader& loader, const KeyTokenDataset& data) {
  tg::NoGradGuard no_grad;
  model.eval();
  Evaluation e;
  double loss_sum = 0;
  std::int64_t correct = 0, on_key = 0, n = 0;
  for (const tg::data::Batch& batch : loader) {
    const auto out = model.forward(batch[0], batch.lengths);
    loss_sum += F::cross_entropy(out.logits, batch[1]).item() * static_cast<double>(batch.size());
    const auto predicted = out.logits.argmax(1).to_vector<std::int64_t>();
    const auto labels = batch[1].to_vector<std::int64_t>();
    const auto alpha = out.alpha.contiguous().to_vector<float>();
    const std::int64_t T = out.alpha.size(1);
    for (std::int64_t b = 0; b < batch.size(); ++b) {
      const auto i = static_cast<std::size_t>(b);
      correct += predicted[i] == labels[i];
      const auto& tokens = data.tokens(batch.indices[i]);
      std::size_t best = 0;
      for (std::size_t t = 0; t < tokens.size(); ++t) {
        const float a = alpha[i * static_cast<std::size_t>(T) + t];
        if (is_key(tokens[t])) e.key_share += a;
        if (a > alpha[i * static_cast<std::size_t>(T) + best]) best = t;
      }
      on_key += is_key(tokens[best]);
    }
    n += batch.size();
  }
  model.train();
  e.loss = loss_sum / static_cast<double>(n);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  e.key_share /= static_cast<double>(n);
  e.argmax_on_key = static_cast<double>(on_key) / static_cast<double>(n);
  return e;
}

/// Prints `count` test sequences with their attention, and draws them into png. Returns whether
/// the PNG was drawn.
bool show_attention(Classifier& model, const KeyTokenDataset& data, std::int64_t count, const std::string& png) {
  count = std::min(count, data.size());
  std::vector<tg::data::Example> examples;
  for (std::int64_t i = 0; i < count; ++i) examples.push_back(data.get(i));
  const tg::data::Batch batch = tg::data::pad_collate(kPad)(examples);

  tg::NoGradGuard no_grad;
  model.eval();
  const auto out = model.forward(batch[0], batch.lengths);
  model.train();
  const auto predicted = out.logits.argmax(1).to_vector<std::int64_t>();
  const tg::Tensor alpha = out.alpha.contiguous();
  const auto weights = alpha.to_vector<float>();
  const std::int64_t T = alpha.size(1);

  // One line of tokens, and under it one character per token for its weight (blank: near zero).
  const std::string shades = " .:-=+*#%@";
  fmt::print("\nattention over {} test sequences (tokens above, weight below: ' ' ~0 ... '@' = the row's largest)\n",
             count);
  std::vector<std::string> row_labels;
  for (std::int64_t b = 0; b < count; ++b) {
    const auto& tokens = data.tokens(b);
    const float* row = &weights[static_cast<std::size_t>(b * T)];
    const float top = *std::max_element(row, row + tokens.size());
    std::string text, shade;
    std::vector<std::size_t> order(tokens.size());
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      text += token_name(tokens[t]);
      const auto level = static_cast<std::size_t>(std::lround(row[t] / top * static_cast<float>(shades.size() - 1)));
      shade += shades[std::min(level, shades.size() - 1)];
      order[t] = t;
    }
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return row[x] > row[y]; });
    std::string best;
    for (std::size_t k = 0; k < std::min<std::size_t>(3, order.size()); ++k)
      best += fmt::format("{}{}@{} {:.2f}", k ? ", " : "", token_name(tokens[order[k]]), order[k], row[order[k]]);
    const std::int64_t label = batch[1].select(0, b).item<std::int64_t>();
    fmt::print("#{} class {} predicted {}  top: {}\n  {}\n  {}\n", b, token_name(1 + label),
               token_name(1 + predicted[static_cast<std::size_t>(b)]), best, text, shade);
    row_labels.push_back(fmt::format("#{} class {} (len {})", b, token_name(1 + label), tokens.size()));
  }
  return tg::plot_heatmap(alpha, png,
                          tg::HeatmapOptions()
                              .title("attention weights: rows are test sequences, key tokens A-D are where it looks")
                              .row_labels(row_labels)
                              .xlabel("position in the sequence")
                              .ylabel("sequence (its key)"));
}

// [doc:epoch]
/// One pass over the training data; returns the mean loss.
double train_epoch(Classifier& model, tg::optim::Adam& optimizer, tg::data::DataLoader& loader, int epoch, int epochs) {
  tg::ProgressBar bar(loader.size(),
                      tg::ProgressOptions().label(fmt::format("epoch {}/{}", epoch + 1, epochs)).unit("batch"));
  for (const tg::data::Batch& batch : loader) {  // each pass of the loader is its next epoch
    // batch[0]: tokens [B, T] padded with kPad; batch.lengths: int64 [B]; batch[1]: labels [B]
    optimizer.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(batch[0], batch.lengths).logits, batch[1]);
    loss.backward();
    optimizer.step();
    bar.step(loss.item(), batch.size());
  }
  bar.finish();
  return bar.mean_loss();
}
// [/doc:epoch]

// ---- checkpoints ----------------------------------------------------------------------------

// [doc:identity]
/// The settings a checkpoint must agree with to be resumed (example::restore_run checks them).
example::Identity run_identity(const Settings& s) {
  return {{"seed", std::to_string(s.seed)},
          {"train_size", std::to_string(s.train_size)},
          {"test_size", std::to_string(s.test_size)},
          {"batch_size", std::to_string(s.batch_size)},
          {"lengths", fmt::format("{}..{}", s.min_len, s.max_len)},
          {"keys", std::to_string(s.keys)},
          {"model", fmt::format("embed {} hidden {}", s.embed, s.hidden)}};
}
// [/doc:identity]

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "lstm_attention: an LSTM with attention pooling learns which key token a long, noisy "
      "sequence holds, and shows where it looks.");
  example::add_run_flags(app, s);
  app.add_option("--train-size", s.train_size, "training sequences")->capture_default_str();
  app.add_option("--test-size", s.test_size, "test sequences")->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "sequences per batch")->capture_default_str();
  app.add_option("--min-len", s.min_len, "shortest sequence")->capture_default_str();
  app.add_option("--max-len", s.max_len, "longest sequence")->capture_default_str();
  app.add_option("--keys", s.keys, "copies of the class's key token (the other keys appear fewer times)")
      ->capture_default_str();
  app.add_option("--embed", s.embed, "embedding size")->capture_default_str();
  app.add_option("--hidden", s.hidden, "LSTM hidden size")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--show", s.show, "test sequences to print and draw")->capture_default_str();
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--train-size", s.train_size, 1);
  at_least("--test-size", s.test_size, 1);
  at_least("--batch-size", s.batch_size, 1);
  at_least("--min-len", s.min_len, 1);
  at_least("--keys", s.keys, 1);
  at_least("--embed", s.embed, 1);
  at_least("--hidden", s.hidden, 1);
  at_least("--show", s.show, 1);
  if (!(s.lr > 0)) throw std::runtime_error(fmt::format("--lr must be > 0, got {}", s.lr));
  if (s.min_len > s.max_len) throw std::runtime_error(fmt::format("--min-len {} > --max-len {}", s.min_len, s.max_len));
  if (s.keys + (kClasses - 1) * (s.keys - 1) > s.min_len)
    throw std::runtime_error(fmt::format("--keys {} needs up to {} key tokens, more than --min-len {}", s.keys,
                                         s.keys + (kClasses - 1) * (s.keys - 1), s.min_len));
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);
  fs::create_directories(s.out);
  const std::string csv = s.out + "/metrics.csv", ckpt = s.out + "/checkpoint.safetensors";
  const std::string curves_png = s.out + "/curves.png", attention_png = s.out + "/attention.png";
  // A fresh run must not leave an earlier run's pictures behind (the final check looks for them).
  for (const auto& png : {curves_png, attention_png}) fs::remove(png);

  // Everything random comes from the seed: the data (its own generators), the initial weights
  // and the shuffle (tg's default generator, and the loader's seed).
  tg::manual_seed(s.seed);
  auto train_data = std::make_shared<KeyTokenDataset>(s.train_size, s, 1);
  auto test_data = std::make_shared<KeyTokenDataset>(s.test_size, s, 2);
  tg::data::DataLoader train_loader(
      train_data,
      tg::data::DataLoaderOptions(s.batch_size).shuffle(true).seed(s.seed).collate(tg::data::pad_collate(kPad)));
  tg::data::DataLoader test_loader(test_data, tg::data::DataLoaderOptions(256).collate(tg::data::pad_collate(kPad)));

  Classifier model(s.embed, s.hidden);
  tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(s.lr));

  const int start_epoch = s.resume ? example::restore_run(ckpt, run_identity(s), model, optimizer, train_loader) : 0;

  fmt::print("{} training and {} test sequences of {}..{} tokens, {} key tokens each; {} parameters\n", s.train_size,
             s.test_size, s.min_len, s.max_len, s.keys, example::parameter_count(model));

  tg::MetricsLog metrics(csv, {"epoch", "train_loss", "test_loss", "test_accuracy", "attention_on_keys"}, s.resume);
  Evaluation last;
  const example::Stopwatch run_clock;
  for (int epoch = start_epoch; epoch < s.epochs; ++epoch) {
    const example::Stopwatch epoch_clock;
    const double train_loss = train_epoch(model, optimizer, train_loader, epoch, s.epochs);
    last = evaluate(model, test_loader, *test_data);
    const double seconds = epoch_clock.seconds();
    fmt::print(
        "epoch {:2d}  train loss {:.6f}  test loss {:.6f}  test accuracy {:6.2f}%  attention on keys {:5.1f}%  "
        "({:.1f}s)\n",
        epoch + 1, train_loss, last.loss, 100 * last.accuracy, 100 * last.key_share, seconds);
    metrics.write({static_cast<double>(epoch + 1), train_loss, last.loss, last.accuracy, last.key_share});

    example::save_run(ckpt, run_identity(s), model, optimizer, epoch + 1);
    if (example::stop_after(s, epoch + 1)) return 0;
  }
  if (start_epoch >= s.epochs) last = evaluate(model, test_loader, *test_data);
  const double total = run_clock.seconds();

  // Where the model looks: a text view, the attention mass on key tokens, and a heatmap.
  const bool drew_attention = show_attention(model, *test_data, s.show, attention_png);
  const double mean_keys = static_cast<double>(s.keys) + static_cast<double>((kClasses - 1) * (s.keys - 1)) / 2.0;
  const double uniform_share = mean_keys * 2.0 / static_cast<double>(s.min_len + s.max_len);
  fmt::print(
      "\nattention on the key tokens: {:.1f}% of the weight (uniform weights would give about {:.1f}%); the most "
      "weighted position is a key token in {:.1f}% of the test sequences\n",
      100 * last.key_share, 100 * uniform_share, 100 * last.argmax_on_key);
  const bool drew_curves = tg::plot_curves(csv, curves_png, "epoch", {"train_loss", "test_loss", "test_accuracy"},
                                           "lstm_attention: loss and accuracy per epoch");
  fmt::print("\nfinal test accuracy {:.2f}% after {} epochs ({:.1f}s of training in this run)\n", 100 * last.accuracy,
             s.epochs, total);

  // The checks the smoke test relies on: the loss went down and every output exists.
  const int status =
      example::report("lstm_attention", example::check_run(s.epochs, csv, ckpt, {attention_png, curves_png}));
  if (drew_attention && drew_curves)
    fmt::print("attention heatmap: {}  (loss and accuracy curves: {})\n", attention_png, curves_png);
  else example::print_no_png(csv);
  return status;
} catch (const std::exception& e) {
  return example::report_error("lstm_attention", e);
}
