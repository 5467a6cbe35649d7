#pragma once
/// ProgressBar: step, loss, throughput and time left on one line. In a terminal the line is
/// redrawn in place (at most every `redraw` seconds); when the output is a file or a pipe (a
/// log, CI), it prints plain lines instead, `lines` of them over the run, so logs stay short.
///
///   tg::ProgressBar bar(loader.size(), tg::ProgressOptions().label("epoch 1").unit("batch"));
///   for (const auto& batch : loader) {
///     ...
///     bar.step(loss.item(), batch.size());  // loss and the number of samples of this step
///   }
///   bar.finish();  // the final line: totals and the mean loss
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include "tapegrad/core/options.h"

namespace tg {

struct ProgressOptions : public ChainedOptions<ProgressOptions> {
  /// Text before the bar ("epoch 3/10").
  ProgressOptions& label(std::string text) { return assign(label_, std::move(text)); }
  /// What one step is called in the throughput ("it", "batch").
  ProgressOptions& unit(std::string name) { return assign(unit_, std::move(name)); }
  /// Where to draw (stderr by default, as tqdm).
  ProgressOptions& stream(std::FILE* out) { return assign(stream_, out); }
  /// Redraw in place (true) or print plain lines (false); by default, whether stream is a terminal.
  ProgressOptions& interactive(bool on) { return assign(interactive_, on); }
  /// Width of the bar in characters.
  ProgressOptions& width(int n) { return assign(width_, n); }
  /// Plain-line mode: about this many lines over the run (and always the last one).
  ProgressOptions& lines(int n) { return assign(lines_, n); }
  /// Terminal mode: the shortest time between two redraws, in seconds.
  ProgressOptions& redraw(double seconds) { return assign(redraw_, seconds); }

  const std::string& label() const { return label_; }
  const std::string& unit() const { return unit_; }
  std::FILE* stream() const { return stream_; }
  const std::optional<bool>& interactive() const { return interactive_; }
  int width() const { return width_; }
  int lines() const { return lines_; }
  double redraw() const { return redraw_; }

 private:
  std::string label_, unit_ = "it";
  std::FILE* stream_ = stderr;
  std::optional<bool> interactive_;
  int width_ = 24, lines_ = 10;
  double redraw_ = 0.1;
};

class ProgressBar {
 public:
  /// total: the number of steps expected (0 when unknown: no bar and no time left).
  explicit ProgressBar(std::int64_t total, ProgressOptions options = ProgressOptions());
  /// Calls finish() if it was not called.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// One step done, with its loss (NaN: none) and the samples it processed (for samples/s).
  void step(double loss = std::numeric_limits<double>::quiet_NaN(), std::int64_t samples = 0);
  /// Prints the final line (steps, time, throughput, mean loss); later calls do nothing.
  void finish();

  /// The line as it would be drawn now (for tests and for callers that print it themselves).
  std::string line() const;
  std::int64_t steps() const { return steps_; }
  /// The mean of the losses given so far (NaN before the first).
  double mean_loss() const { return loss_count_ ? loss_sum_ / static_cast<double>(loss_count_) : std::nan(""); }
  bool interactive() const { return interactive_; }

 private:
  double elapsed() const;
  void draw(bool final);

  ProgressOptions options_;
  std::int64_t total_, steps_ = 0, samples_ = 0, loss_count_ = 0;
  double loss_sum_ = 0, last_loss_ = std::nan("");
  bool interactive_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_;
  double last_draw_ = -1e30;
  std::int64_t next_line_step_ = 0;
};

/// "1h02m", "3m07s", "12.4s": a duration for people.
std::string format_duration(double seconds);

}  // namespace tg
