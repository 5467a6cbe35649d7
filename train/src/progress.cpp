// ProgressBar: one fmt-formatted line, redrawn with a carriage return in a terminal, printed as
// plain lines elsewhere.
#include "tapegrad/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "tapegrad/core/error.h"

namespace tg {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

ProgressBar::ProgressBar(std::int64_t total, ProgressOptions options)
    : options_(std::move(options)), total_(total), start_(std::chrono::steady_clock::now()) {
  TG_CHECK(total >= 0, "ProgressBar: total must be >= 0 steps (0 = unknown), got {}", total);
  TG_CHECK(options_.width() >= 1, "ProgressBar: width must be at least 1, got {}", options_.width());
  TG_CHECK(options_.lines() >= 1, "ProgressBar: lines must be at least 1, got {}", options_.lines());
  TG_CHECK(options_.stream() != nullptr, "ProgressBar: the stream is null");
  interactive_ = options_.interactive() ? *options_.interactive() : ::isatty(::fileno(options_.stream())) == 1;
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

double ProgressBar::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::line() const {
  const double t = elapsed();
  std::string out = options_.label().empty() ? std::string() : options_.label() + " ";
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(steps_) / static_cast<double>(total_));
    const int w = options_.width();
    const int full = static_cast<int>(frac * w);
    out += fmt::format("[{}{}] {:>3.0f}% ", std::string(static_cast<std::size_t>(full), '#'),
                       std::string(static_cast<std::size_t>(w - full), '.'), 100 * frac);
    out += fmt::format("{}/{}", steps_, total_);
  } else {
    out += fmt::format("{}", steps_);
  }
  if (finished_ && loss_count_ > 0) out += fmt::format(" | mean loss {:.4g}", mean_loss());
  else if (!std::isnan(last_loss_)) out += fmt::format(" | loss {:.4g}", last_loss_);
  if (t > 0 && steps_ > 0) {
    if (samples_ > 0) out += fmt::format(" | {:.1f} samples/s", static_cast<double>(samples_) / t);
    else out += fmt::format(" | {:.2f} {}/s", static_cast<double>(steps_) / t, options_.unit());
  }
  out += " | " + format_duration(t);
  if (total_ > 0 && steps_ > 0 && steps_ < total_)
    out += " | eta " + format_duration(t / static_cast<double>(steps_) * static_cast<double>(total_ - steps_));
  return out;
}

void ProgressBar::draw(bool final) {
  std::FILE* out = options_.stream();
  if (interactive_) {
    // \r back to the start, the line, then clear what a longer previous line left (ESC[K).
    std::fputs(fmt::format("\r{}\x1b[K{}", line(), final ? "\n" : "").c_str(), out);
  } else {
    std::fputs((line() + "\n").c_str(), out);
  }
  std::fflush(out);
}

void ProgressBar::step(double loss, std::int64_t samples) {
  TG_CHECK(!finished_, "ProgressBar: step() after finish()");
  TG_CHECK(samples >= 0, "ProgressBar: samples must be >= 0, got {}", samples);
  ++steps_;
  samples_ += samples;
  if (!std::isnan(loss)) {
    last_loss_ = loss;
    loss_sum_ += loss;
    ++loss_count_;
  }
  if (interactive_) {
    const double t = elapsed();
    if (t - last_draw_ >= options_.redraw()) {
      last_draw_ = t;
      draw(false);
    }
  } else if (total_ > 0 && steps_ >= next_line_step_ && steps_ < total_) {
    // About `lines` lines over the run; the last step is left to finish().
    next_line_step_ = steps_ + std::max<std::int64_t>(1, total_ / options_.lines());
    draw(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

}  // namespace tg
