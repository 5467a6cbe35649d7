// attention_zoo: one task, one model, every score function (dot, scaled_dot, general, additive,
// cosine), each with and without Q/K/V projections, trained from the same seed on the same
// batches: a table of the final accuracy, the steps to reach 90% and the time per step answers
// "which similarity suits this task".
//
//   task:   sequences of --length tokens: ordinary tokens (0..7) and, at one random place, a key
//           token 8 + c; the label of EVERY position is c, so each position must find the key
//           token and read it (the experiment of docs/attention.md, "why Q, K and V projections")
//   model:  Embedding -> SelfAttention (one head, the score under test, project(true/false))
//           -> Linear per position
//   train:  Adam on cross-entropy; the batch of step s is a function of (seed, s) alone, so every
//           configuration sees the same batches; the test set is fixed
//
// Writes to --out: metrics.csv (every configuration's curve: a row per --eval-every steps),
// results.csv (the table), timing.csv (seconds per step), checkpoint.safetensors (after every
// epoch of --epoch-steps steps; --resume continues from it, inside the configuration it was in)
// and curves.png (the test accuracy curves, with gnuplot).
//
// Exits with status 1 unless every configuration's training loss went down and the files were
// written (the smoke test relies on this), 2 on a bad flag or an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/run.h"  // the flags, checkpoints and checks every example shares
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;
namespace fs = std::filesystem;

namespace {

// --epochs counts the epochs of each configuration; --stop-after N stops after the N-th epoch of
// the whole run (all configurations).
struct Settings : example::RunFlags {  // --epochs --threads --seed --out --resume --stop-after
  Settings() : RunFlags(/*epochs=*/10, /*out=*/"attention_zoo_out") {}
  std::int64_t epoch_steps = 50;  // steps per epoch
  std::int64_t eval_every = 10;
  std::vector<std::string> scores = {"dot", "scaled_dot", "general", "additive", "cosine"};
  std::string projections = "both";  // both | on | off
  std::int64_t length = 24;
  std::int64_t embed = 32;
  std::int64_t batch_size = 64;
  std::int64_t test_size = 512;
  double lr = 0.01;
  double target = 0.9;
};

// ---- the task -------------------------------------------------------------------------------

constexpr std::int64_t kOrdinary = 8;  // ordinary tokens 0..7
constexpr std::int64_t kClasses = 8;   // key tokens 8..15, one per class
constexpr std::int64_t kVocab = kOrdinary + kClasses;

struct Batch {
  tg::Tensor tokens;  // int64 [B, T]
  tg::Tensor labels;  // int64 [B * T]
};

/// B sequences from a std::mt19937_64 seeded with `stream`: the same stream gives the same batch.
Batch make_batch(std::int64_t B, std::int64_t T, std::uint64_t stream) {
  std::mt19937_64 rng(stream);
  const auto uniform = [&](std::int64_t n) { return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n)); };
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(B * T)), labels;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t t = 0; t < T; ++t) tokens[static_cast<std::size_t>(b * T + t)] = uniform(kOrdinary);
    const std::int64_t where = uniform(T), cls = uniform(kClasses);
    tokens[static_cast<std::size_t>(b * T + where)] = kOrdinary + cls;
    for (std::int64_t t = 0; t < T; ++t) labels.push_back(cls);
  }
  return {tg::from_vector(tokens, {B, T}), tg::from_vector(labels, {B * T})};
}

std::uint64_t train_stream(const Settings& s, std::int64_t step) {
  return s.seed * 1000003 + static_cast<std::uint64_t>(step) + 1;
}
std::uint64_t test_stream(const Settings& s) { return s.seed * 1000003 + 0x7e57u * 1000003; }

// ---- the model ------------------------------------------------------------------------------

// [doc:model]
struct Config {
  std::string score;
  bool project;
  std::string name() const { return score + (project ? " +proj" : " raw"); }
};

/// Embedding -> SelfAttention(score, project) -> Linear per position. Keys: embed.weight,
/// attention.q_proj.weight, ..., attention.score.* (learned scores), head.weight, head.bias.
class KeyFinder : public tg::nn::Cloneable<KeyFinder> {
 public:
  KeyFinder(Config config, std::int64_t embed_dim)
      : Cloneable("KeyFinder"), config_(std::move(config)), embed_dim_(embed_dim) {
    reset();
  }
  void reset() override {
    embed = register_module("embed", std::make_shared<tg::nn::Embedding>(kVocab, embed_dim_));
    attention = register_module(
        "attention", std::make_shared<tg::nn::SelfAttention>(
                         tg::nn::SelfAttentionOptions(embed_dim_, 1).project(config_.project).score(config_.score)));
    head = register_module("head", std::make_shared<tg::nn::Linear>(embed_dim_, kClasses));
  }
  /// tokens int64 [B, T] -> logits [B * T, classes].
  tg::Tensor forward(const tg::Tensor& tokens) override {
    const tg::Tensor x = embed->forward(tokens);
    return head->forward(attention->forward(x, tg::Tensor()).output).reshape({-1, kClasses});
  }

  std::shared_ptr<tg::nn::Embedding> embed;
  std::shared_ptr<tg::nn::SelfAttention> attention;
  std::shared_ptr<tg::nn::Linear> head;

 private:
  Config config_;
  std::int64_t embed_dim_;
};
// [/doc:model]

double accuracy(KeyFinder& model, const Batch& test) {
  tg::NoGradGuard no_grad;
  model.eval();
  const tg::Tensor right = tg::eq(model.forward(test.tokens).argmax(1), test.labels).to(tg::kFloat64);
  model.train();
  return right.mean().item();
}

// ---- checkpoints ----------------------------------------------------------------------------

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

/// The settings a checkpoint must agree with to be resumed.
example::Identity run_identity(const Settings& s) {
  return {{"seed", std::to_string(s.seed)},
          {"epochs", std::to_string(s.epochs)},
          {"epoch_steps", std::to_string(s.epoch_steps)},
          {"eval_every", std::to_string(s.eval_every)},
          {"scores", join(s.scores)},
          {"projections", s.projections},
          {"task", fmt::format("length {} batch {} test {}", s.length, s.batch_size, s.test_size)},
          {"model", fmt::format("embed {} lr {}", s.embed, s.lr)}};
}

struct Position {
  std::int64_t config = 0;  // the configuration being trained
  std::int64_t epoch = 0;   // epochs of it done
};

void save_run(const Settings& s, const std::string& path, const KeyFinder& model, const tg::optim::Adam& optimizer,
              Position at) {
  tg::Checkpoint ck;
  ck.model = model.state_dict();
  ck.optimizer = optimizer.state_dict();
  ck.epoch = at.epoch;
  ck.step = at.epoch * s.epoch_steps;
  ck.rng = tg::default_generator();
  ck.metadata = run_identity(s);
  ck.metadata["config"] = std::to_string(at.config);
  tg::save_checkpoint(ck, path);
}

// ---- one configuration ----------------------------------------------------------------------

struct Outcome {
  bool stopped = false;    // --stop-after reached
  double seconds = 0;      // training time in this process (without the evaluations)
  std::int64_t steps = 0;  // steps trained in this process
};

/// Trains configuration `index` from epoch `first_epoch` (restored from ck when > 0), writing a
/// metrics row every eval_every steps and a checkpoint after every epoch.
Outcome train_config(const Settings& s, std::int64_t index, const Config& config, const Batch& test,
                     tg::MetricsLog& metrics, const std::string& ckpt, const tg::Checkpoint* ck, bool last_config,
                     int& epochs_run) {
  tg::manual_seed(s.seed);  // every configuration starts from the same seed
  KeyFinder model(config, s.embed);
  tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(s.lr));
  std::int64_t first_epoch = 0;
  if (ck) {
    model.load_state_dict(ck->model);
    optimizer.load_state_dict(*ck->optimizer);
    tg::default_generator() = *ck->rng;
    first_epoch = ck->epoch;
  }
  if (first_epoch == 0) metrics.write({static_cast<double>(index), 0, std::nan(""), accuracy(model, test)});

  Outcome outcome;
  const std::int64_t total = s.epochs * s.epoch_steps;
  tg::ProgressBar bar(total - first_epoch * s.epoch_steps,
                      tg::ProgressOptions().label(fmt::format("{:>16}", config.name())).unit("step"));
  double loss_sum = 0;
  std::int64_t loss_count = 0;
  for (std::int64_t epoch = first_epoch; epoch < s.epochs; ++epoch) {
    for (std::int64_t i = 0; i < s.epoch_steps; ++i) {
      const std::int64_t step = epoch * s.epoch_steps + i;  // 0-based; step + 1 steps done after it
      const Batch batch = make_batch(s.batch_size, s.length, train_stream(s, step));
      const example::Stopwatch clock;
      optimizer.zero_grad();
      tg::Tensor loss = F::cross_entropy(model.forward(batch.tokens), batch.labels);
      loss.backward();
      optimizer.step();
      const double value = loss.item();
      outcome.seconds += clock.seconds();
      ++outcome.steps;
      bar.step(value, s.batch_size);
      loss_sum += value;
      ++loss_count;
      if ((step + 1) % s.eval_every == 0 || step + 1 == total) {
        metrics.write({static_cast<double>(index), static_cast<double>(step + 1),
                       loss_sum / static_cast<double>(loss_count), accuracy(model, test)});
        loss_sum = 0;
        loss_count = 0;
      }
    }
    save_run(s, ckpt, model, optimizer, {index, epoch + 1});
    ++epochs_run;
    if (s.stop_after > 0 && epochs_run == s.stop_after && !(last_config && epoch + 1 == s.epochs)) {
      outcome.stopped = true;
      break;
    }
  }
  bar.finish();
  return outcome;
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "attention_zoo: every score function, with and without Q/K/V projections, on one task from one "
      "seed; prints accuracy, steps to reach the target accuracy and time per step.");
  example::RunFlagsHelp help;
  help.epochs = "epochs per configuration";
  help.seed = "seed of the data and the weights (the same for every configuration)";
  help.out = "folder for the CSVs, the checkpoint and curves.png";
  help.stop_after = "stop after this many epochs in all, as if interrupted (0: never)";
  example::add_run_flags(app, s, help);
  app.add_option("--epoch-steps", s.epoch_steps, "steps (batches) per epoch; a checkpoint after each")
      ->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "steps between two measures of the test accuracy")
      ->capture_default_str();
  app.add_option("--scores", s.scores, "score functions to compare")->delimiter(',')->capture_default_str();
  app.add_option("--projections", s.projections, "both, on (with Q/K/V projections) or off")->capture_default_str();
  app.add_option("--length", s.length, "tokens per sequence")->capture_default_str();
  app.add_option("--embed", s.embed, "embedding size")->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "sequences per batch")->capture_default_str();
  app.add_option("--test-size", s.test_size, "test sequences")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--target", s.target, "the accuracy whose first step is reported")->capture_default_str();
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--epoch-steps", s.epoch_steps, 1);
  at_least("--eval-every", s.eval_every, 1);
  at_least("--length", s.length, 2);
  at_least("--embed", s.embed, 1);
  at_least("--batch-size", s.batch_size, 1);
  at_least("--test-size", s.test_size, 1);
  if (s.epoch_steps % s.eval_every != 0)
    throw std::runtime_error(
        fmt::format("--eval-every {} must divide --epoch-steps {} (a resumed run measures at the same steps)",
                    s.eval_every, s.epoch_steps));
  if (!(s.lr > 0)) throw std::runtime_error(fmt::format("--lr must be > 0, got {}", s.lr));
  if (s.projections != "both" && s.projections != "on" && s.projections != "off")
    throw std::runtime_error(fmt::format("--projections must be both, on or off, got {}", s.projections));
  for (const auto& name : s.scores) tg::nn::make_score(name, s.embed, s.embed);  // an unknown name lists the five
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);
  fs::create_directories(s.out);
  const std::string csv = s.out + "/metrics.csv", ckpt = s.out + "/checkpoint.safetensors";
  const std::string results_csv = s.out + "/results.csv", timing_csv = s.out + "/timing.csv";
  const std::string curves_png = s.out + "/curves.png";
  fs::remove(curves_png);

  std::vector<Config> configs;
  for (bool project : {true, false}) {
    if ((project && s.projections == "off") || (!project && s.projections == "on")) continue;
    for (const auto& score : s.scores) configs.push_back({score, project});
  }

  std::optional<tg::Checkpoint> ck;
  if (s.resume) ck = example::load_run(ckpt, run_identity(s));
  std::int64_t first_config = 0;
  if (ck) {
    first_config = std::stoll(ck->metadata.at("config"));
    if (ck->epoch == s.epochs) {  // that configuration was finished
      ++first_config;
      ck.reset();
    }
    if (first_config == static_cast<std::int64_t>(configs.size()))
      fmt::print("resumed from {}: every configuration is done\n", ckpt);
    else
      fmt::print("resumed from {}: configuration {} of {}, after epoch {}\n", ckpt, first_config + 1, configs.size(),
                 ck ? ck->epoch : 0);
  }

  const Batch test = make_batch(s.test_size, s.length, test_stream(s));
  fmt::print(
      "{} configurations x {} steps of {} sequences of {} tokens (one key token each); accuracy on {} test "
      "sequences every {} steps\n",
      configs.size(), s.epochs * s.epoch_steps, s.batch_size, s.length, s.test_size, s.eval_every);

  tg::MetricsLog metrics(csv, {"config", "step", "train_loss", "test_accuracy"}, s.resume);
  tg::MetricsLog timing(timing_csv, {"config", "steps", "seconds"}, s.resume);
  int epochs_run = 0;
  for (auto i = first_config; i < static_cast<std::int64_t>(configs.size()); ++i) {
    const Outcome o = train_config(s, i, configs[static_cast<std::size_t>(i)], test, metrics, ckpt,
                                   ck && i == first_config ? &*ck : nullptr,
                                   i + 1 == static_cast<std::int64_t>(configs.size()), epochs_run);
    timing.write({static_cast<double>(i), static_cast<double>(o.steps), o.seconds});
    if (o.stopped) {
      fmt::print("stopped after {} epochs (--stop-after); continue with --resume --out {}\n", epochs_run, s.out);
      return 0;
    }
  }

  // The table, from the CSVs (so that a resumed run reports the configurations of earlier runs).
  const tg::Table rows = tg::read_csv(csv), times = tg::read_csv(timing_csv);
  tg::MetricsLog results(results_csv, {"config", "project", "final_accuracy", "steps_to_target", "ms_per_step"});
  std::vector<std::string> problems;
  fmt::print("\n{:<12} {:>11} {:>14} {:>15} {:>12}\n", "score", "projections", "final accuracy",
             fmt::format("steps to {:.0f}%", 100 * s.target), "ms per step");
  std::ostringstream columns;  // the wide CSV for the plot: step, one accuracy column per configuration
  std::vector<std::string> names;
  std::vector<std::vector<double>> curves(configs.size());
  std::vector<double> curve_steps;
  for (std::size_t c = 0; c < configs.size(); ++c) {
    double final_accuracy = 0, reached = -1, first_loss = std::nan(""), last_loss = std::nan("");
    for (const auto& row : rows.rows) {
      if (static_cast<std::size_t>(row[0]) != c) continue;
      if (reached < 0 && row[3] >= s.target) reached = row[1];
      if (!std::isnan(row[2])) {
        if (std::isnan(first_loss)) first_loss = row[2];
        last_loss = row[2];
      }
      final_accuracy = row[3];
      curves[c].push_back(row[3]);
      if (c == 0) curve_steps.push_back(row[1]);
    }
    double seconds = 0, steps = 0;
    for (const auto& row : times.rows)
      if (static_cast<std::size_t>(row[0]) == c) seconds += row[2], steps += row[1];
    const double ms = steps > 0 ? 1000 * seconds / steps : std::nan("");
    fmt::print("{:<12} {:>11} {:>13.1f}% {:>15} {:>12.2f}\n", configs[c].score, configs[c].project ? "yes" : "no",
               100 * final_accuracy, reached < 0 ? std::string("-") : fmt::format("{:.0f}", reached), ms);
    results.write({static_cast<double>(c), configs[c].project ? 1.0 : 0.0, final_accuracy, reached, ms});
    if (!(last_loss < first_loss))
      problems.push_back(
          fmt::format("{}: the training loss did not go down ({} -> {})", configs[c].name(), first_loss, last_loss));
    // gnuplot would read '_' as a subscript in the legend: scaled-dot/proj rather than scaled_dot_proj.
    std::string name = configs[c].score;
    std::replace(name.begin(), name.end(), '_', '-');
    name += configs[c].project ? "/proj" : "/raw";
    names.push_back(name);
  }
  fmt::print("(config numbers in the CSVs: {})\n", [&] {
    std::string text;
    for (std::size_t c = 0; c < names.size(); ++c) text += fmt::format("{}{}={}", c ? ", " : "", c, names[c]);
    return text;
  }());

  // curves.csv: one accuracy column per configuration, drawn by plot_curves.
  const std::string wide_csv = s.out + "/curves.csv";
  {
    std::vector<std::string> header = {"step"};
    header.insert(header.end(), names.begin(), names.end());
    tg::MetricsLog wide(wide_csv, header);
    for (std::size_t r = 0; r < curve_steps.size(); ++r) {
      std::vector<double> row = {curve_steps[r]};
      for (const auto& curve : curves) row.push_back(r < curve.size() ? curve[r] : std::nan(""));
      wide.write(row);
    }
  }
  const bool drew = tg::plot_curves(wide_csv, curves_png, "step", names,
                                    "attention zoo: test accuracy (proj: with Q/K/V projections)");

  example::check_files(problems, ckpt, {curves_png});
  const int status = example::report("attention_zoo", problems);
  if (drew) fmt::print("accuracy curves: {}  (table: {}, curves: {})\n", curves_png, results_csv, csv);
  else example::print_no_png(csv);
  return status;
} catch (const std::exception& e) {
  return example::report_error("attention_zoo", e);
}
