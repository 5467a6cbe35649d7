// transformer: the encoder-decoder Transformer of "Attention Is All You Need" learns to reverse
// strings of digits, and decodes them greedily, one token at a time.
//
//   data:   strings of 3..8 digits (variable lengths, padded batches); the target is the
//           string reversed. Tokens: 0 padding, 1 BOS (start of the target), 2 EOS, 3..12 the
//           digits 0..9. src = digits + EOS, decoder input = BOS + reversed, decoder output =
//           reversed + EOS: the three have one length per example, so one pad_collate pads them
//           and its padding mask serves the encoder, the decoder and the memory.
//   model:  Embedding (shared by source and target, scaled by sqrt(d_model)) + sinusoidal
//           positional encoding -> nn::Transformer (batch_first; causal target mask from
//           Transformer::generate_square_subsequent_mask, key padding masks) -> Linear to tokens
//   train:  Adam (betas 0.9, 0.98, eps 1e-9) with the "Noam" warm-up schedule as one LambdaLR,
//           stepped every batch; cross-entropy with label smoothing, the padding ignored
//   eval:   greedy decoding from BOS; token accuracy (every target position, EOS included) and
//           exact-match accuracy on the test strings
//
// Writes to --out: metrics.csv (one row per epoch), checkpoint.safetensors (after every epoch;
// --resume continues from it), curves.png and cross_attention.png (with gnuplot): the last
// decoder layer's attention over the source for one test string, an anti-diagonal when the model
// has learnt to reverse.
//
// Exits with status 1 unless the training loss went down and every output was written (the smoke
// test relies on this), 2 on a bad flag or an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
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
  Settings() : RunFlags(/*epochs=*/40, /*out=*/"transformer_out") {}
  std::int64_t train_size = 4000;
  std::int64_t test_size = 500;
  std::int64_t batch_size = 32;
  std::int64_t min_len = 3, max_len = 8;
  std::int64_t d_model = 32, nhead = 2, layers = 2, feedforward = 64;
  double dropout = 0.0;
  double lr_factor = 1.0;
  std::int64_t warmup = 400;
  double cooldown = 0.25;
  double label_smoothing = 0.1;
  double clip = 1.0;  // 0: no clipping
  std::int64_t show = 5;
};

// ---- the task -------------------------------------------------------------------------------

// Vocabulary (common/reverse.h): 0 padding, 1 BOS, 2 EOS, 3..12 the digits 0..9.
using example::kBos, example::kEos, example::kPad, example::ReverseDataset;
constexpr std::int64_t kVocab = example::kFirstSymbol + 10;

std::string token_name(std::int64_t token) {
  if (token == kPad) return "_";
  if (token == kBos) return "^";
  if (token == kEos) return "$";
  return std::string(1, static_cast<char>('0' + token - example::kFirstSymbol));
}

std::string text_of(const std::vector<std::int64_t>& tokens) {
  std::string s;
  for (const auto t : tokens) s += token_name(t);
  return s;
}

// ---- the model ------------------------------------------------------------------------------

// [doc:model]
/// Token embedding + positional encoding -> nn::Transformer -> Linear. Keys of its state_dict:
/// embed.weight, pos.pe, transformer.encoder.layers.0.self_attn.in_proj_weight, ...,
/// transformer.decoder.norm.bias, generator.weight, generator.bias.
class Seq2SeqTransformer : public tg::nn::Cloneable<Seq2SeqTransformer> {
 public:
  explicit Seq2SeqTransformer(const Settings& s) : Cloneable("Seq2SeqTransformer"), s_(s) { reset(); }
  void reset() override {
    embed = register_module("embed", std::make_shared<tg::nn::Embedding>(kVocab, s_.d_model));
    pos = register_module("pos", std::make_shared<tg::nn::SinusoidalPositionalEncoding>(
                                     tg::nn::SinusoidalPositionalEncodingOptions(s_.d_model, 64).dropout(s_.dropout)));
    transformer = register_module("transformer",
                                  std::make_shared<tg::nn::Transformer>(tg::nn::TransformerOptions(s_.d_model, s_.nhead)
                                                                            .num_encoder_layers(s_.layers)
                                                                            .num_decoder_layers(s_.layers)
                                                                            .dim_feedforward(s_.feedforward)
                                                                            .dropout(s_.dropout)
                                                                            .batch_first(true)));
    generator = register_module("generator", std::make_shared<tg::nn::Linear>(s_.d_model, kVocab));
  }

  /// tokens [B, T] -> [B, T, d_model]: embedding * sqrt(d_model) + position.
  tg::Tensor embed_tokens(const tg::Tensor& tokens) {
    return pos->forward(embed->forward(tokens) * std::sqrt(static_cast<double>(s_.d_model)));
  }
  /// src [B, S] -> memory [B, S, d]; src_padding [B, S] bool, true at the padding.
  tg::Tensor encode(const tg::Tensor& src, const tg::Tensor& src_padding) {
    return transformer->encoder->forward(embed_tokens(src), tg::Tensor(), src_padding);
  }
  /// tgt [B, T] (BOS first) -> logits [B, T, vocab]; position t sees tgt[0..t] only.
  tg::Tensor decode(const tg::Tensor& tgt, const tg::Tensor& memory, const tg::Tensor& src_padding,
                    const tg::Tensor& tgt_padding = {}) {
    const tg::Tensor causal = tg::nn::Transformer::generate_square_subsequent_mask(tgt.size(1));
    return generator->forward(
        transformer->decoder->forward(embed_tokens(tgt), memory, causal, tg::Tensor(), tgt_padding, src_padding));
  }
  /// Teacher forcing: the logits for every target position at once.
  tg::Tensor forward(const tg::Tensor& src, const tg::Tensor& tgt_in, const tg::Tensor& padding) {
    return decode(tgt_in, encode(src, padding), padding, padding);
  }

  std::shared_ptr<tg::nn::Embedding> embed;
  std::shared_ptr<tg::nn::SinusoidalPositionalEncoding> pos;
  std::shared_ptr<tg::nn::Transformer> transformer;
  std::shared_ptr<tg::nn::Linear> generator;

 private:
  Settings s_;
};
// [/doc:model]

// [doc:greedy]
/// Greedy decoding: starts from BOS and appends the most likely token, steps times (the decoder
/// is run again on the whole prefix at each step). Returns int64 [B, steps] (without the BOS).
tg::Tensor greedy_decode(Seq2SeqTransformer& model, const tg::Tensor& src, const tg::Tensor& padding,
                         std::int64_t steps) {
  const tg::Tensor memory = model.encode(src, padding);
  tg::Tensor ys = tg::full({src.size(0), 1}, static_cast<double>(kBos), tg::kInt64);
  for (std::int64_t t = 0; t < steps; ++t) {
    const tg::Tensor logits = model.decode(ys, memory, padding);         // [B, t + 1, vocab]
    const tg::Tensor next = logits.select(1, t).argmax(1).unsqueeze(1);  // [B, 1]
    ys = tg::cat({ys, next}, 1);
  }
  return ys.slice(1, 1, steps + 1);
}
// [/doc:greedy]

// ---- evaluation -----------------------------------------------------------------------------

struct Evaluation {
  double loss = 0;            // teacher-forced cross-entropy, no smoothing
  double token_accuracy = 0;  // greedy decoding, over every target position (EOS included)
  double exact_match = 0;     // greedy decoding, whole strings
};

Evaluation evaluate(Seq2SeqTransformer& model, tg::data::DataLoader& loader) {
  tg::NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  std::int64_t tokens = 0, right_tokens = 0, strings = 0, right_strings = 0;
  for (const tg::data::Batch& batch : loader) {
    const tg::Tensor logits = model.forward(batch[0], batch[1], batch.padding_mask);
    const std::int64_t n = batch.lengths.sum().item<std::int64_t>();
    loss_sum += F::cross_entropy(logits.reshape({-1, kVocab}), batch[2].reshape({-1}),
                                 F::CrossEntropyOptions().ignore_index(kPad).reduction(tg::Reduction::Sum))
                    .item();
    const std::int64_t T = batch[2].size(1);
    const auto predicted = greedy_decode(model, batch[0], batch.padding_mask, T).to_vector<std::int64_t>();
    const auto expected = batch[2].contiguous().to_vector<std::int64_t>();
    const auto lengths = batch.lengths.to_vector<std::int64_t>();
    for (std::int64_t b = 0; b < batch.size(); ++b) {
      std::int64_t right = 0;
      for (std::int64_t t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
        const auto k = static_cast<std::size_t>(b * T + t);
        right += predicted[k] == expected[k];
      }
      right_tokens += right;
      right_strings += right == lengths[static_cast<std::size_t>(b)];
    }
    tokens += n;
    strings += batch.size();
  }
  model.train();
  return {loss_sum / static_cast<double>(tokens), static_cast<double>(right_tokens) / static_cast<double>(tokens),
          static_cast<double>(right_strings) / static_cast<double>(strings)};
}

/// Prints `count` test strings with the model's greedy answers.
void show_examples(Seq2SeqTransformer& model, const ReverseDataset& data, std::int64_t count) {
  count = std::min(count, data.size());
  std::vector<tg::data::Example> examples;
  for (std::int64_t i = 0; i < count; ++i) examples.push_back(data.get(i));
  const tg::data::Batch batch = tg::data::pad_collate(kPad, {0, 1, 2})(examples);
  tg::NoGradGuard no_grad;
  model.eval();
  const std::int64_t T = batch[0].size(1);
  const auto predicted = greedy_decode(model, batch[0], batch.padding_mask, T).to_vector<std::int64_t>();
  model.train();
  fmt::print("\ngreedy decoding of {} test strings ($ = end of sequence)\n", count);
  for (std::int64_t b = 0; b < count; ++b) {
    const auto& digits = data.sequence(b);
    const auto want = data.target(b);
    std::vector<std::int64_t> got(predicted.begin() + b * T,
                                  predicted.begin() + b * T + static_cast<std::int64_t>(want.size()));
    fmt::print("  {:>10}  ->  {:<11}  {}\n", text_of(digits), text_of(got),
               got == want ? "ok" : "WRONG: want " + text_of(want));
  }
}

/// The last decoder layer's attention over the source, for test string `index`, averaged over
/// the heads: runs the decoder by hand (post-norm layers, as built) to get that layer's query.
/// Returns whether the PNG was drawn.
bool draw_cross_attention(Seq2SeqTransformer& model, const ReverseDataset& data, std::int64_t index,
                          const std::string& png) {
  const tg::data::Batch batch = tg::data::pad_collate(kPad, {0, 1, 2})({data.get(index)});
  tg::NoGradGuard no_grad;
  model.eval();
  const tg::Tensor memory = model.encode(batch[0], batch.padding_mask);
  const tg::Tensor causal = tg::nn::Transformer::generate_square_subsequent_mask(batch[1].size(1));
  tg::Tensor x = model.embed_tokens(batch[1]);
  const auto& decoder = model.transformer->decoder;
  const auto last = static_cast<std::size_t>(decoder->options().num_layers() - 1);
  for (std::size_t i = 0; i < last; ++i) x = decoder->layer(i)->forward(x, memory, causal);
  const auto& layer = *decoder->layer(last);
  // Post-norm: the cross-attention's query is norm1(x + self_attn(x)).
  x = layer.norm1->forward(x + layer.self_attn->forward(x, x, x, {}, false, causal).output);
  const tg::Tensor weights = layer.multihead_attn->forward(x, memory, memory, batch.padding_mask, true).weights;
  model.train();

  // Labels spelt out: gnuplot reads '^' and '_' as super- and subscripts.
  const auto label = [](std::int64_t t) { return t == kEos ? std::string("EOS") : token_name(t); };
  std::vector<std::string> rows, cols;
  for (const auto t : batch[2].to_vector<std::int64_t>()) rows.push_back("writes " + label(t));
  for (const auto t : batch[0].to_vector<std::int64_t>()) cols.push_back(label(t));
  return tg::plot_heatmap(weights.select(0, 0), png,
                          tg::HeatmapOptions()
                              .title("last decoder layer's attention over the source")
                              .row_labels(rows)
                              .col_labels(cols)
                              .xlabel("source token")
                              .ylabel("decoder step"));
}

// [doc:epoch]
/// One pass over the training data, the schedule stepped after every batch; returns the mean loss.
double train_epoch(Seq2SeqTransformer& model, tg::optim::Adam& optimizer, tg::optim::LambdaLR& schedule,
                   tg::data::DataLoader& loader, const Settings& s, int epoch, int epochs) {
  tg::ProgressBar bar(loader.size(),
                      tg::ProgressOptions().label(fmt::format("epoch {}/{}", epoch + 1, epochs)).unit("batch"));
  const auto loss_options = F::CrossEntropyOptions().ignore_index(kPad).label_smoothing(s.label_smoothing);
  for (const tg::data::Batch& batch : loader) {
    // batch[0] src, batch[1] decoder input, batch[2] decoder output: [B, T], padded with kPad;
    // batch.padding_mask: bool [B, T], true at the padding (the same for all three)
    optimizer.zero_grad();
    const tg::Tensor logits = model.forward(batch[0], batch[1], batch.padding_mask);  // [B, T, vocab]
    tg::Tensor loss = F::cross_entropy(logits.reshape({-1, kVocab}), batch[2].reshape({-1}), loss_options);
    loss.backward();
    if (s.clip > 0) tg::optim::clip_grad_norm_(model.parameters(), s.clip);  // steadies the post-norm layers
    optimizer.step();
    schedule.step();  // the warm-up counts batches, not epochs
    bar.step(loss.item(), batch.size());
  }
  bar.finish();
  return bar.mean_loss();
}
// [/doc:epoch]

// [doc:schedule]
/// The "Noam" schedule of the Transformer paper: lr = factor * d_model^-0.5 *
/// min(s^-0.5, s * warmup^-1.5) at step s = 1, 2, ...: up linearly for `warmup` steps, then down
/// as 1/sqrt(s). Adam's lr is the constant in front; LambdaLR's epoch e is s - 1. Over the last
/// `cooldown` fraction of the `total` steps it also fades linearly to 0, so that the last epochs
/// settle instead of jumping around (cooldown 0: the paper's schedule).
tg::optim::LambdaLR noam_schedule(tg::optim::Adam& optimizer, double warmup, double total, double cooldown) {
  return tg::optim::LambdaLR(optimizer, [=](std::int64_t e) {
    const double s = static_cast<double>(e + 1);
    const double noam = std::min(1 / std::sqrt(s), s * std::pow(warmup, -1.5));
    const double fade_start = total * (1 - cooldown);
    return s <= fade_start ? noam : noam * std::max(0.0, (total - s + 1) / (total - fade_start + 1));
  });
}
// [/doc:schedule]

// ---- checkpoints ----------------------------------------------------------------------------

/// The settings a checkpoint must agree with to be resumed.
example::Identity run_identity(const Settings& s) {
  return {{"seed", std::to_string(s.seed)},
          {"train_size", std::to_string(s.train_size)},
          {"test_size", std::to_string(s.test_size)},
          {"batch_size", std::to_string(s.batch_size)},
          {"lengths", fmt::format("{}..{}", s.min_len, s.max_len)},
          {"model", fmt::format("d_model {} nhead {} layers {} feedforward {} dropout {}", s.d_model, s.nhead, s.layers,
                                s.feedforward, s.dropout)},
          {"training", fmt::format("epochs {} lr factor {} warmup {} cooldown {} label smoothing {} clip {}", s.epochs,
                                   s.lr_factor, s.warmup, s.cooldown, s.label_smoothing, s.clip)}};
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "transformer: the encoder-decoder nn::Transformer learns to reverse strings of digits (warm-up "
      "schedule, label smoothing, greedy decoding).");
  example::add_run_flags(app, s);
  app.add_option("--train-size", s.train_size, "training strings")->capture_default_str();
  app.add_option("--test-size", s.test_size, "test strings")->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "strings per batch")->capture_default_str();
  app.add_option("--min-len", s.min_len, "fewest digits")->capture_default_str();
  app.add_option("--max-len", s.max_len, "most digits")->capture_default_str();
  app.add_option("--d-model", s.d_model, "model width")->capture_default_str();
  app.add_option("--nhead", s.nhead, "attention heads (must divide --d-model)")->capture_default_str();
  app.add_option("--layers", s.layers, "encoder layers, and as many decoder layers")->capture_default_str();
  app.add_option("--feedforward", s.feedforward, "width of the feed-forward blocks")->capture_default_str();
  app.add_option("--dropout", s.dropout, "dropout in the Transformer and after the positional encoding")
      ->capture_default_str();
  app.add_option("--lr-factor", s.lr_factor, "factor of the Noam schedule")->capture_default_str();
  app.add_option("--warmup", s.warmup, "warm-up steps (batches) of the schedule")->capture_default_str();
  app.add_option("--cooldown", s.cooldown, "fraction of the steps at the end over which the lr fades to 0")
      ->capture_default_str();
  app.add_option("--label-smoothing", s.label_smoothing, "label smoothing of the loss, in [0, 1]")
      ->capture_default_str();
  app.add_option("--clip", s.clip, "clip the gradients' norm to this (0: no clipping)")->capture_default_str();
  app.add_option("--show", s.show, "test strings to print")->capture_default_str();
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--train-size", s.train_size, 1);
  at_least("--test-size", s.test_size, 1);
  at_least("--batch-size", s.batch_size, 1);
  at_least("--min-len", s.min_len, 1);
  at_least("--d-model", s.d_model, 1);
  at_least("--nhead", s.nhead, 1);
  at_least("--layers", s.layers, 1);
  at_least("--feedforward", s.feedforward, 1);
  at_least("--warmup", s.warmup, 1);
  at_least("--show", s.show, 1);
  if (s.min_len > s.max_len) throw std::runtime_error(fmt::format("--min-len {} > --max-len {}", s.min_len, s.max_len));
  if (s.max_len > 60) throw std::runtime_error(fmt::format("--max-len must be <= 60, got {}", s.max_len));
  if (s.d_model % s.nhead != 0)
    throw std::runtime_error(fmt::format("--nhead {} does not divide --d-model {}", s.nhead, s.d_model));
  if (!(s.lr_factor > 0)) throw std::runtime_error(fmt::format("--lr-factor must be > 0, got {}", s.lr_factor));
  if (!(s.cooldown >= 0 && s.cooldown <= 1))
    throw std::runtime_error(fmt::format("--cooldown must be in [0, 1], got {}", s.cooldown));
  if (!(s.clip >= 0)) throw std::runtime_error(fmt::format("--clip must be >= 0, got {}", s.clip));
  if (!(s.dropout >= 0 && s.dropout <= 1))
    throw std::runtime_error(fmt::format("--dropout must be in [0, 1], got {}", s.dropout));
  if (!(s.label_smoothing >= 0 && s.label_smoothing <= 1))
    throw std::runtime_error(fmt::format("--label-smoothing must be in [0, 1], got {}", s.label_smoothing));
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);
  fs::create_directories(s.out);
  const std::string csv = s.out + "/metrics.csv", ckpt = s.out + "/checkpoint.safetensors";
  const std::string curves_png = s.out + "/curves.png", attention_png = s.out + "/cross_attention.png";
  for (const auto& png : {curves_png, attention_png}) fs::remove(png);

  tg::manual_seed(s.seed);
  auto train_data = std::make_shared<ReverseDataset>(s.train_size, 10, s.min_len, s.max_len, s.seed, 1);
  auto test_data = std::make_shared<ReverseDataset>(s.test_size, 10, s.min_len, s.max_len, s.seed, 2);
  const tg::data::Collate collate = tg::data::pad_collate(kPad, {0, 1, 2});
  tg::data::DataLoader train_loader(
      train_data, tg::data::DataLoaderOptions(s.batch_size).shuffle(true).seed(s.seed).collate(collate));
  tg::data::DataLoader test_loader(test_data, tg::data::DataLoaderOptions(250).collate(collate));

  Seq2SeqTransformer model(s);
  tg::optim::Adam optimizer(
      model.parameters(),
      tg::optim::AdamOptions(s.lr_factor / std::sqrt(static_cast<double>(s.d_model))).betas(0.9, 0.98).eps(1e-9));
  tg::optim::LambdaLR schedule = noam_schedule(optimizer, static_cast<double>(s.warmup),
                                               static_cast<double>(s.epochs * train_loader.size()), s.cooldown);

  const int start_epoch =
      s.resume ? example::restore_run(ckpt, run_identity(s), model, optimizer, train_loader, &schedule) : 0;

  fmt::print(
      "reversing {} training and {} test strings of {}..{} digits; d_model {}, {} heads, {}+{} layers, {} "
      "parameters\n",
      s.train_size, s.test_size, s.min_len, s.max_len, s.d_model, s.nhead, s.layers, s.layers,
      example::parameter_count(model));

  tg::MetricsLog metrics(csv, {"epoch", "train_loss", "test_loss", "token_accuracy", "exact_match", "lr"}, s.resume);
  Evaluation last;
  const example::Stopwatch run_clock;
  for (int epoch = start_epoch; epoch < s.epochs; ++epoch) {
    const example::Stopwatch epoch_clock;
    const double train_loss = train_epoch(model, optimizer, schedule, train_loader, s, epoch, s.epochs);
    last = evaluate(model, test_loader);
    const double lr = schedule.get_last_lr()[0];
    const double seconds = epoch_clock.seconds();
    fmt::print(
        "epoch {:2d}  train loss {:.6f}  test loss {:.6f}  token accuracy {:6.2f}%  exact match {:6.2f}%  lr {:.2e}  "
        "({:.1f}s)\n",
        epoch + 1, train_loss, last.loss, 100 * last.token_accuracy, 100 * last.exact_match, lr, seconds);
    metrics.write({static_cast<double>(epoch + 1), train_loss, last.loss, last.token_accuracy, last.exact_match, lr});

    example::save_run(ckpt, run_identity(s), model, optimizer, epoch + 1, &schedule);
    if (example::stop_after(s, epoch + 1)) return 0;
  }
  if (start_epoch >= s.epochs) last = evaluate(model, test_loader);
  const double total = run_clock.seconds();

  show_examples(model, *test_data, s.show);
  const bool drew_attention = draw_cross_attention(model, *test_data, 0, attention_png);
  const bool drew_curves = tg::plot_curves(csv, curves_png, "epoch", {"train_loss", "test_loss", "token_accuracy"},
                                           "transformer: loss and greedy token accuracy per epoch");
  fmt::print("\nfinal token accuracy {:.2f}% (exact match {:.2f}%) after {} epochs ({:.1f}s of training in this run)\n",
             100 * last.token_accuracy, 100 * last.exact_match, s.epochs, total);

  // The checks the smoke test relies on: the loss went down and every output exists.
  const int status =
      example::report("transformer", example::check_run(s.epochs, csv, ckpt, {attention_png, curves_png}));

  if (drew_attention && drew_curves)
    fmt::print("cross-attention heatmap: {}  (loss and accuracy curves: {})\n", attention_png, curves_png);
  else example::print_no_png(csv);
  return status;
} catch (const std::exception& e) {
  return example::report_error("transformer", e);
}
