// seq2seq_attention: an LSTM encoder-decoder with attention learns to reverse strings of symbols.
//
//   data:   strings of --min-len..--max-len symbols a..l; the target is the string reversed.
//           Source "abc<eos>", decoder input "<bos>cba", decoder target "cba<eos>"; batches are
//           padded (pad_collate) and the padding mask keeps the attention off the padding
//   model:  Embedding -> LSTM encoder; Embedding -> LSTM decoder started from the encoder's final
//           state; nn::Attention (--score additive|general|dot) of each decoder state over the
//           encoder outputs; Luong's output layer tanh(W_c [context; h]) -> Linear -> logits
//   train:  teacher forcing (the decoder reads the true previous symbol), Adam on cross-entropy
//           that ignores the padding; test: greedy decoding, one step at a time, until <eos>
//
// Writes to --out: metrics.csv (one row per epoch), checkpoint.safetensors (after every epoch;
// --resume continues from it), curves.png and alignment.png (with gnuplot). Prints the test
// exact-match accuracy and the alignment (output steps x input tokens) of one test string.
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
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/reverse.h"  // the task: ReverseDataset
#include "common/run.h"      // the flags, checkpoints and checks every example shares
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;
namespace fs = std::filesystem;

namespace {

struct Settings : example::RunFlags {  // --epochs --threads --seed --out --resume --stop-after
  Settings() : RunFlags(/*epochs=*/8, /*out=*/"seq2seq_attention_out") {}
  std::string score = "general";
  std::int64_t train_size = 4000;
  std::int64_t test_size = 500;
  std::int64_t batch_size = 32;
  std::int64_t min_len = 4, max_len = 12;
  std::int64_t embed = 32, hidden = 64;
  double lr = 0.005;
};

// ---- the task -------------------------------------------------------------------------------

// Vocabulary (common/reverse.h): 0 padding, 1 <bos>, 2 <eos>, 3..14 the symbols a..l.
using example::kBos, example::kEos, example::kPad, example::ReverseDataset;
constexpr std::int64_t kSymbols = 12;
constexpr std::int64_t kVocab = example::kFirstSymbol + kSymbols;

std::string token_name(std::int64_t token) {
  if (token == kPad) return "_";
  if (token == kBos) return "<bos>";
  if (token == kEos) return "<eos>";
  return std::string(1, static_cast<char>('a' + token - example::kFirstSymbol));
}

std::string text_of(const std::vector<std::int64_t>& tokens) {
  std::string s;
  for (const auto t : tokens) s += token_name(t);
  return s;
}

// ---- the model ------------------------------------------------------------------------------

// [doc:seq2seq-model]
/// Encoder-decoder with attention. Keys of its state_dict: src_embed.weight, encoder.weight_ih_l0,
/// ..., tgt_embed.weight, decoder.*, attention.score.* (none for "dot"), combine.*, out.*.
class Seq2Seq : public tg::nn::Cloneable<Seq2Seq> {
 public:
  Seq2Seq(std::string score, std::int64_t embed_dim, std::int64_t hidden)
      : Cloneable("Seq2Seq"), score_(std::move(score)), embed_dim_(embed_dim), hidden_(hidden) {
    reset();
  }
  void reset() override {
    using namespace tg::nn;
    src_embed = register_module("src_embed", std::make_shared<Embedding>(kVocab, embed_dim_));
    encoder = register_module("encoder", std::make_shared<LSTM>(RNNOptions(embed_dim_, hidden_).batch_first(true)));
    tgt_embed = register_module("tgt_embed", std::make_shared<Embedding>(kVocab, embed_dim_));
    decoder = register_module("decoder", std::make_shared<LSTM>(RNNOptions(embed_dim_, hidden_).batch_first(true)));
    attention = register_module("attention", std::make_shared<Attention>(score_, hidden_, hidden_));
    combine = register_module("combine", std::make_shared<Linear>(2 * hidden_, hidden_));
    out = register_module("out", std::make_shared<Linear>(hidden_, kVocab));
  }

  struct Memory {
    tg::Tensor outputs;      // [B, S, H] encoder outputs (zeros on the padding)
    tg::Tensor mask;         // bool [B, 1, S]: true on the padding, which gets no attention
    tg::nn::RNNState state;  // the encoder's state at each string's last real step
  };
  /// source int64 [B, S] (padded), lengths int64 [B].
  Memory encode(const tg::Tensor& source, const tg::Tensor& lengths, const tg::Tensor& padding_mask) {
    auto [outputs, state] = encoder->forward(src_embed->forward(source), std::nullopt, lengths);
    return {outputs, padding_mask.unsqueeze(1), state};
  }

  struct Step {
    tg::Tensor logits;   // [B, T, V]
    tg::Tensor weights;  // [B, T, S]: the attention of each output step over the input tokens
    tg::nn::RNNState state;
  };
  /// Decoder steps for the input tokens [B, T] (all of them at once under teacher forcing, one at
  /// a time when decoding): h = LSTM(embed(y)), context = attention(h, encoder outputs),
  /// logits = out(tanh(combine([context; h]))).
  Step decode(const tg::Tensor& inputs, const tg::nn::RNNState& state, const Memory& memory) {
    auto [h, next] = decoder->forward(tgt_embed->forward(inputs), state);                          // [B, T, H]
    auto [context, weights] = attention->forward(h, memory.outputs, memory.outputs, memory.mask);  // [B, T, H]
    const tg::Tensor mixed = combine->forward(tg::cat({context, h}, 2)).tanh();
    return {out->forward(mixed), weights, next};
  }

  std::shared_ptr<tg::nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<tg::nn::LSTM> encoder, decoder;
  std::shared_ptr<tg::nn::Attention> attention;
  std::shared_ptr<tg::nn::Linear> combine, out;

 private:
  std::string score_;
  std::int64_t embed_dim_, hidden_;
};
// [/doc:seq2seq-model]

/// Cross-entropy of logits [B, T, V] against targets [B, T], the padding ignored.
tg::Tensor sequence_loss(const tg::Tensor& logits, const tg::Tensor& targets) {
  const std::int64_t V = logits.size(2);
  return F::cross_entropy(logits.reshape({-1, V}), targets.reshape({-1}), F::CrossEntropyOptions().ignore_index(kPad));
}

// ---- evaluation -----------------------------------------------------------------------------

struct Decoded {
  std::vector<std::vector<std::int64_t>> tokens;  // per string, up to (not including) <eos>
  tg::Tensor weights;                             // [B, steps, S]
};

/// Greedy decoding: each step feeds the most likely symbol back, for up to max_steps steps.
Decoded greedy_decode(Seq2Seq& model, const tg::data::Batch& batch, std::int64_t max_steps) {
  tg::NoGradGuard no_grad;
  const auto memory = model.encode(batch[0], batch.lengths, batch.padding_mask);
  const std::int64_t B = batch[0].size(0);  // (batch.size() counts indices, which pad_collate alone leaves empty)
  tg::Tensor input = tg::full({B, 1}, static_cast<double>(kBos), tg::kInt64);
  tg::nn::RNNState state = memory.state;
  Decoded d;
  d.tokens.resize(static_cast<std::size_t>(B));
  std::vector<bool> done(static_cast<std::size_t>(B), false);
  std::vector<tg::Tensor> weights;
  for (std::int64_t step = 0; step < max_steps; ++step) {
    auto out = model.decode(input, state, memory);
    state = out.state;
    weights.push_back(out.weights);
    input = out.logits.argmax(2);  // [B, 1]
    const auto next = input.to_vector<std::int64_t>();
    bool all_done = true;
    for (std::size_t b = 0; b < next.size(); ++b) {
      if (!done[b]) {
        if (next[b] == kEos) done[b] = true;
        else d.tokens[b].push_back(next[b]);
      }
      all_done = all_done && done[b];
    }
    if (all_done) break;
  }
  d.weights = tg::cat(weights, 1);
  return d;
}

struct Evaluation {
  double loss = 0;        // teacher-forced test loss
  double exact = 0;       // fraction of strings whose greedy output is exactly the reversal
  double symbol_acc = 0;  // fraction of target positions right (greedy)
  double on_padding = 0;  // the largest attention weight any padded input position got (0: masked)
};

Evaluation evaluate(Seq2Seq& model, tg::data::DataLoader& loader, const ReverseDataset& data, std::int64_t max_len) {
  tg::NoGradGuard no_grad;
  model.eval();
  Evaluation e;
  double loss_sum = 0;
  std::int64_t exact = 0, right = 0, positions = 0, n = 0;
  for (const tg::data::Batch& batch : loader) {
    const auto memory = model.encode(batch[0], batch.lengths, batch.padding_mask);
    loss_sum += sequence_loss(model.decode(batch[1], memory.state, memory).logits, batch[2]).item() *
                static_cast<double>(batch.size());
    const Decoded d = greedy_decode(model, batch, max_len + 1);
    const auto weights = d.weights.contiguous().to_vector<float>();
    const auto lengths = batch.lengths.to_vector<std::int64_t>();
    const std::int64_t steps = d.weights.size(1), S = d.weights.size(2);
    for (std::int64_t b = 0; b < batch.size(); ++b) {
      for (std::int64_t t = 0; t < steps; ++t)
        for (std::int64_t k = lengths[static_cast<std::size_t>(b)]; k < S; ++k)
          e.on_padding =
              std::max(e.on_padding, static_cast<double>(weights[static_cast<std::size_t>((b * steps + t) * S + k)]));
      const auto& str = data.sequence(batch.indices[static_cast<std::size_t>(b)]);
      const std::vector<std::int64_t> want(str.rbegin(), str.rend());
      const auto& got = d.tokens[static_cast<std::size_t>(b)];
      exact += got == want;
      for (std::size_t t = 0; t < want.size(); ++t) right += t < got.size() && got[t] == want[t];
      positions += static_cast<std::int64_t>(want.size());
    }
    n += batch.size();
  }
  model.train();
  e.loss = loss_sum / static_cast<double>(n);
  e.exact = static_cast<double>(exact) / static_cast<double>(n);
  e.symbol_acc = static_cast<double>(right) / static_cast<double>(positions);
  return e;
}

/// Decodes test string `index`, prints its alignment as text and draws it into png (output steps x
/// input tokens). Returns whether the PNG was drawn.
bool show_alignment(Seq2Seq& model, const ReverseDataset& data, std::int64_t index, std::int64_t max_len,
                    const std::string& png) {
  const tg::data::Batch batch = tg::data::pad_collate(kPad, {0, 1, 2})({data.get(index)});
  model.eval();
  const Decoded d = greedy_decode(model, batch, max_len + 1);
  model.train();
  const auto& str = data.sequence(index);
  const auto& got = d.tokens[0];
  // Rows: the decoded symbols and the <eos> step (when it was reached); columns: the input tokens.
  const std::int64_t rows = std::min<std::int64_t>(d.weights.size(1), static_cast<std::int64_t>(got.size()) + 1);
  const tg::Tensor alignment = d.weights.select(0, 0).narrow(0, 0, rows).contiguous();  // [rows, S]
  const auto w = alignment.to_vector<float>();
  const std::int64_t S = alignment.size(1);

  std::vector<std::string> cols, row_labels;
  for (const auto t : str) cols.push_back(token_name(t));
  cols.push_back(token_name(kEos));
  for (std::int64_t r = 0; r < rows; ++r)
    row_labels.push_back(r < static_cast<std::int64_t>(got.size()) ? token_name(got[static_cast<std::size_t>(r)])
                                                                   : token_name(kEos));

  fmt::print("\ninput  {}\noutput {}  ({})\n", text_of(str), text_of(got),
             std::vector<std::int64_t>(str.rbegin(), str.rend()) == got ? "right" : "wrong");
  fmt::print("alignment (rows: output steps, columns: input tokens; ' ' ~0 ... '@' >= 0.9)\n      ");
  for (const auto& c : cols) fmt::print("{:>2}", c == "<eos>" ? "$" : c);
  fmt::print("\n");
  const std::string shades = " .:-=+*#%@";
  for (std::int64_t r = 0; r < rows; ++r) {
    fmt::print("{:>5} ", row_labels[static_cast<std::size_t>(r)]);
    for (std::int64_t c = 0; c < S; ++c) {
      const float a = w[static_cast<std::size_t>(r * S + c)];
      const auto level = static_cast<std::size_t>(std::lround(a * static_cast<float>(shades.size() - 1)));
      fmt::print(" {}", shades[std::min(level, shades.size() - 1)]);
    }
    fmt::print("\n");
  }
  return tg::plot_heatmap(alignment, png,
                          tg::HeatmapOptions()
                              .title(fmt::format("alignment of \"{}\" -> \"{}\"", text_of(str), text_of(got)))
                              .row_labels(row_labels)
                              .col_labels(cols)
                              .xlabel("input token")
                              .ylabel("output step"));
}

// [doc:seq2seq-epoch]
/// One pass over the training data with teacher forcing; returns the mean loss.
double train_epoch(Seq2Seq& model, tg::optim::Adam& optimizer, tg::data::DataLoader& loader, int epoch, int epochs) {
  tg::ProgressBar bar(loader.size(),
                      tg::ProgressOptions().label(fmt::format("epoch {}/{}", epoch + 1, epochs)).unit("batch"));
  for (const tg::data::Batch& batch : loader) {
    // batch[0]: source [B, S]; batch[1]: decoder input <bos> reversed; batch[2]: reversed <eos>
    optimizer.zero_grad();
    const auto memory = model.encode(batch[0], batch.lengths, batch.padding_mask);
    tg::Tensor loss = sequence_loss(model.decode(batch[1], memory.state, memory).logits, batch[2]);
    loss.backward();
    tg::optim::clip_grad_norm_(model.parameters(), 1.0);
    optimizer.step();
    bar.step(loss.item(), batch.size());
  }
  bar.finish();
  return bar.mean_loss();
}
// [/doc:seq2seq-epoch]

// ---- checkpoints ----------------------------------------------------------------------------

/// The settings a checkpoint must agree with to be resumed.
example::Identity run_identity(const Settings& s) {
  return {{"seed", std::to_string(s.seed)},
          {"epochs", std::to_string(s.epochs)},
          {"score", s.score},
          {"train_size", std::to_string(s.train_size)},
          {"test_size", std::to_string(s.test_size)},
          {"batch_size", std::to_string(s.batch_size)},
          {"lengths", fmt::format("{}..{}", s.min_len, s.max_len)},
          {"model", fmt::format("embed {} hidden {}", s.embed, s.hidden)}};
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "seq2seq_attention: an LSTM encoder-decoder with attention learns to reverse strings, and shows its "
      "alignment.");
  example::add_run_flags(app, s);
  app.add_option("--score", s.score, "attention score: additive (Bahdanau), general or dot (Luong)")
      ->capture_default_str();
  app.add_option("--train-size", s.train_size, "training strings")->capture_default_str();
  app.add_option("--test-size", s.test_size, "test strings")->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "strings per batch")->capture_default_str();
  app.add_option("--min-len", s.min_len, "shortest string")->capture_default_str();
  app.add_option("--max-len", s.max_len, "longest string")->capture_default_str();
  app.add_option("--embed", s.embed, "embedding size")->capture_default_str();
  app.add_option("--hidden", s.hidden, "LSTM hidden size")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam's learning rate")->capture_default_str();
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--train-size", s.train_size, 1);
  at_least("--test-size", s.test_size, 1);
  at_least("--batch-size", s.batch_size, 1);
  at_least("--min-len", s.min_len, 1);
  at_least("--embed", s.embed, 1);
  at_least("--hidden", s.hidden, 1);
  if (!(s.lr > 0)) throw std::runtime_error(fmt::format("--lr must be > 0, got {}", s.lr));
  if (s.min_len > s.max_len) throw std::runtime_error(fmt::format("--min-len {} > --max-len {}", s.min_len, s.max_len));
  if (s.score != "additive" && s.score != "general" && s.score != "dot")
    throw std::runtime_error(fmt::format("--score must be additive, general or dot, got '{}'", s.score));
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);
  fs::create_directories(s.out);
  const std::string csv = s.out + "/metrics.csv", ckpt = s.out + "/checkpoint.safetensors";
  const std::string curves_png = s.out + "/curves.png", alignment_png = s.out + "/alignment.png";
  for (const auto& png : {curves_png, alignment_png}) fs::remove(png);

  tg::manual_seed(s.seed);
  auto train_data = std::make_shared<ReverseDataset>(s.train_size, kSymbols, s.min_len, s.max_len, s.seed, 1);
  auto test_data = std::make_shared<ReverseDataset>(s.test_size, kSymbols, s.min_len, s.max_len, s.seed, 2);
  const auto collate = tg::data::pad_collate(kPad, {0, 1, 2});
  tg::data::DataLoader train_loader(
      train_data, tg::data::DataLoaderOptions(s.batch_size).shuffle(true).seed(s.seed).collate(collate));
  tg::data::DataLoader test_loader(test_data, tg::data::DataLoaderOptions(250).collate(collate));

  Seq2Seq model(s.score, s.embed, s.hidden);
  tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(s.lr));
  // The learning rate falls from --lr to 0 along a half cosine over the run's epochs.
  tg::optim::CosineAnnealingLR schedule(optimizer, s.epochs);

  const int start_epoch =
      s.resume ? example::restore_run(ckpt, run_identity(s), model, optimizer, train_loader, &schedule) : 0;

  fmt::print("{} training and {} test strings of {}..{} symbols; score {}; {} parameters\n", s.train_size, s.test_size,
             s.min_len, s.max_len, s.score, example::parameter_count(model));

  tg::MetricsLog metrics(csv, {"epoch", "train_loss", "test_loss", "test_exact_match", "test_symbol_accuracy"},
                         s.resume);
  Evaluation last;
  const example::Stopwatch run_clock;
  for (int epoch = start_epoch; epoch < s.epochs; ++epoch) {
    const example::Stopwatch epoch_clock;
    const double train_loss = train_epoch(model, optimizer, train_loader, epoch, s.epochs);
    last = evaluate(model, test_loader, *test_data, s.max_len);
    const double seconds = epoch_clock.seconds();
    fmt::print("epoch {:2d}  train loss {:.6f}  test loss {:.6f}  exact match {:6.2f}%  symbols {:6.2f}%  ({:.1f}s)\n",
               epoch + 1, train_loss, last.loss, 100 * last.exact, 100 * last.symbol_acc, seconds);
    metrics.write({static_cast<double>(epoch + 1), train_loss, last.loss, last.exact, last.symbol_acc});
    schedule.step();
    example::save_run(ckpt, run_identity(s), model, optimizer, epoch + 1, &schedule);
    if (example::stop_after(s, epoch + 1)) return 0;
  }
  if (start_epoch >= s.epochs) last = evaluate(model, test_loader, *test_data, s.max_len);
  const double total = run_clock.seconds();

  // The longest of the first test strings shows the anti-diagonal best.
  std::int64_t pick = 0;
  for (std::int64_t i = 1; i < std::min<std::int64_t>(20, test_data->size()); ++i)
    if (test_data->sequence(i).size() > test_data->sequence(pick).size()) pick = i;
  const bool drew_alignment = show_alignment(model, *test_data, pick, s.max_len, alignment_png);
  const bool drew_curves =
      tg::plot_curves(csv, curves_png, "epoch", {"train_loss", "test_loss", "test_exact_match"},
                      fmt::format("seq2seq_attention ({}): loss and exact match per epoch", s.score));
  fmt::print("\nlargest attention weight on a padded input position: {} (the padding mask)\n", last.on_padding);
  fmt::print("\nfinal test exact match {:.2f}% (symbols {:.2f}%) after {} epochs ({:.1f}s of training in this run)\n",
             100 * last.exact, 100 * last.symbol_acc, s.epochs, total);

  // The checks the smoke test relies on: the loss went down and every output exists.
  const int status =
      example::report("seq2seq_attention", example::check_run(s.epochs, csv, ckpt, {alignment_png, curves_png}));

  if (drew_alignment && drew_curves)
    fmt::print("alignment heatmap: {}  (loss and accuracy curves: {})\n", alignment_png, curves_png);
  else example::print_no_png(csv);
  return status;
} catch (const std::exception& e) {
  return example::report_error("seq2seq_attention", e);
}
