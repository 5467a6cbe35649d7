// The plumbing the training examples share, so that each example's main.cpp holds its data, its
// model and its training step, and no copy of the rest:
//
//   - RunFlags and add_run_flags: the flags every example has (--epochs --threads --seed --out
//     --resume --stop-after), parse to read the command line, at_least to check a value;
//   - save_run, restore_run and load_run: a checkpoint after every epoch, and --resume from it,
//     refused when it was made with other settings (the run's Identity);
//   - Stopwatch and stop_after: the epoch loop's timing and its --stop-after exit;
//     parameter_count for the line that presents the model;
//   - check_run, check_files and report: the checks at the end of a run that the smoke tests rely
//     on (metrics.csv holds a row per epoch, the training loss went down, the checkpoint and the
//     PNGs exist), and the exit status they give; print_no_png, what a run without gnuplot says;
//     report_error for main's catch (exit status 2).
//
// It is the examples' own header, not part of tapegrad's API: like the examples, it sees tapegrad
// only through <tapegrad/tapegrad.h>.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace example {

// ---- flags ----------------------------------------------------------------------------------

/// Throws "<flag> must be >= <min>, got <value>" unless value >= min. The examples check their
/// flags with it rather than with CLI11's validators, whose messages print the type's whole range.
template <class T, class U>
void at_least(const char* flag, T value, U min) {
  if (value < min) throw std::runtime_error(fmt::format("{} must be >= {}, got {}", flag, min, value));
}

/// The flags every training example has. An example's settings derive from it and give the
/// defaults of --epochs and --out:
///
///     struct Settings : example::RunFlags {
///       Settings() : RunFlags(/*epochs=*/10, /*out=*/"lstm_attention_out") {}
///       std::int64_t batch_size = 32;  // the example's own flags
///     };
struct RunFlags {
  RunFlags(int default_epochs, std::string default_out) : epochs(default_epochs), out(std::move(default_out)) {}

  int epochs;
  int threads = 0;  // 0: tapegrad's default (all cores)
  std::uint64_t seed = 1;
  std::string out;  // the folder for metrics.csv, the checkpoint and the PNGs
  bool resume = false;
  int stop_after = 0;  // 0: never; N: stop after epoch N as if the run were killed
};

/// The --help text of the run flags, for an example whose epochs or outputs are not the usual.
struct RunFlagsHelp {
  std::string epochs = "epochs to train (in all, counting those of a resumed run)";
  std::string seed = "seed of the data, the weights and the shuffle";
  std::string out = "folder for metrics.csv, checkpoint.safetensors and the PNGs";
  std::string stop_after = "stop after this epoch, as if interrupted (0: never)";
};

/// Adds --epochs, --threads, --seed, --out, --resume and --stop-after to app, read into flags.
inline void add_run_flags(CLI::App& app, RunFlags& flags, const RunFlagsHelp& help = {}) {
  app.add_option("--epochs", flags.epochs, help.epochs)->capture_default_str();
  app.add_option("--threads", flags.threads, "threads for tapegrad (0: all cores)")->capture_default_str();
  app.add_option("--seed", flags.seed, help.seed)->capture_default_str();
  app.add_option("--out", flags.out, help.out)->capture_default_str();
  app.add_flag("--resume", flags.resume, "continue from the checkpoint in --out");
  app.add_option("--stop-after", flags.stop_after, help.stop_after)->capture_default_str();
}

/// Reads the command line into the options of app: --help prints and exits 0, a bad flag says why
/// and exits non-zero. Then checks the run flags (--epochs >= 1, --threads and --stop-after >= 0).
inline void parse(CLI::App& app, int argc, char** argv, const RunFlags& flags) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  at_least("--epochs", flags.epochs, 1);
  at_least("--threads", flags.threads, 0);
  at_least("--stop-after", flags.stop_after, 0);
}

// ---- checkpoints ----------------------------------------------------------------------------

/// The settings a checkpoint must agree with to be resumed (name -> value), kept in its metadata:
/// the seed, the data and the model's sizes, whatever would make the resumed run another run.
using Identity = std::map<std::string, std::string>;

// [doc:checkpoint]
/// Reads the checkpoint at path for --resume: one made with other settings is refused.
inline tg::Checkpoint load_run(const std::string& path, const Identity& identity) {
  if (!std::filesystem::exists(path))
    throw std::runtime_error(fmt::format("--resume: there is no checkpoint at {}", path));
  tg::Checkpoint ck = tg::load_checkpoint(path);
  for (const auto& [key, value] : identity) {
    const auto it = ck.metadata.find(key);
    if (it == ck.metadata.end() || it->second != value)
      throw std::runtime_error(fmt::format("--resume: {} was made with {} {}, this run has {}", path, key,
                                           it == ck.metadata.end() ? "no" : it->second, value));
  }
  return ck;
}

/// Saves what a run needs to continue after `epochs_done` epochs (with the learning-rate schedule,
/// if the run has one).
inline void save_run(const std::string& path, const Identity& identity, const tg::nn::Module& model,
                     const tg::optim::Optimizer& optimizer, int epochs_done,
                     const tg::optim::LRScheduler* schedule = nullptr) {
  tg::Checkpoint ck;
  ck.model = model.state_dict();
  ck.optimizer = optimizer.state_dict();
  if (schedule) ck.scheduler = schedule->state_dict();
  ck.epoch = epochs_done;
  ck.rng = tg::default_generator();
  ck.metadata = identity;
  tg::save_checkpoint(ck, path);  // atomic: a crash mid-save leaves the previous checkpoint whole
}

/// Restores a run saved by save_run; returns the epochs it had done.
inline int restore_run(const std::string& path, const Identity& identity, tg::nn::Module& model,
                       tg::optim::Optimizer& optimizer, tg::data::DataLoader& loader,
                       tg::optim::LRScheduler* schedule = nullptr) {
  const tg::Checkpoint ck = load_run(path, identity);
  if (!ck.optimizer || !ck.rng || (schedule && !ck.scheduler))
    throw std::runtime_error(fmt::format("--resume: {} lacks the {} state", path,
                                         schedule ? "optimizer, scheduler or generator" : "optimizer or generator"));
  model.load_state_dict(ck.model);
  optimizer.load_state_dict(*ck.optimizer);
  if (schedule) schedule->load_state_dict(*ck.scheduler);
  tg::default_generator() = *ck.rng;
  loader.set_epoch(ck.epoch);  // the shuffle of epoch e is a function of (seed, e) alone
  fmt::print("resumed from {} after epoch {}\n", path, ck.epoch);
  return static_cast<int>(ck.epoch);
}
// [/doc:checkpoint]

// ---- the epoch loop -------------------------------------------------------------------------

/// Wall time since it was made.
class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Whether --stop-after ends the run after `epochs_done` epochs, as if it were killed (after the
/// last epoch the run is complete: it does not stop there). If so, prints how to continue.
inline bool stop_after(const RunFlags& flags, int epochs_done) {
  if (!(flags.stop_after > 0 && epochs_done == flags.stop_after && epochs_done < flags.epochs)) return false;
  fmt::print("stopped after epoch {} (--stop-after); continue with --resume --out {}\n", epochs_done, flags.out);
  return true;
}

/// The parameters' element count: the size of the model.
inline std::int64_t parameter_count(const tg::nn::Module& model) {
  std::int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

// ---- the end of a run -----------------------------------------------------------------------

/// Adds to problems the checkpoint if it was not written and, when gnuplot is installed, each PNG
/// that was not drawn.
inline void check_files(std::vector<std::string>& problems, const std::string& checkpoint,
                        const std::vector<std::string>& pngs) {
  if (!std::filesystem::exists(checkpoint)) problems.push_back(checkpoint + " was not written");
  if (!tg::gnuplot_available()) return;
  for (const auto& png : pngs)
    if (!std::filesystem::exists(png)) problems.push_back(png + " was not drawn although gnuplot is installed");
}

/// The checks the smoke tests rely on, at the end of a run of `epochs` epochs: metrics.csv (csv)
/// holds a row per epoch, its train_loss went down (with 2 epochs or more), and check_files.
/// Returns the problems, a sentence each; `label`, if given, names the run in the loss's sentence
/// (for a program that trains several).
inline std::vector<std::string> check_run(int epochs, const std::string& csv, const std::string& checkpoint,
                                          const std::vector<std::string>& pngs, const std::string& label = "") {
  std::vector<std::string> problems;
  const std::vector<double> losses = tg::read_csv(csv).column("train_loss");
  if (static_cast<int>(losses.size()) != epochs)
    problems.push_back(fmt::format("{} holds {} rows for {} epochs", csv, losses.size(), epochs));
  if (epochs >= 2 && !losses.empty() && !(losses.back() < losses.front()))
    problems.push_back(fmt::format("{}the training loss did not go down ({} -> {})", label.empty() ? "" : label + ": ",
                                   losses.front(), losses.back()));
  check_files(problems, checkpoint, pngs);
  return problems;
}

/// Prints each problem to stderr as "<program>: <problem>"; returns the program's exit status, 0
/// without problems and 1 with.
inline int report(std::string_view program, const std::vector<std::string>& problems) {
  for (const auto& p : problems) fmt::print(stderr, "{}: {}\n", program, p);
  return problems.empty() ? 0 : 1;
}

/// What a run says instead of naming its PNGs when gnuplot is missing.
inline void print_no_png(const std::string& csv) {
  fmt::print("no PNG drawn: gnuplot is missing (apt-get install gnuplot-nox); the numbers are in {}\n", csv);
}

/// Prints "<program>: <the error>" to stderr; returns 2, the exit status of a bad flag or an error.
inline int report_error(std::string_view program, const std::exception& e) {
  fmt::print(stderr, "{}: {}\n", program, e.what());
  return 2;
}

}  // namespace example
