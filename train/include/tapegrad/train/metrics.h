#pragma once
/// Metrics to CSV, and pictures through gnuplot.
///
///   tg::MetricsLog log("out/metrics.csv", {"epoch", "train_loss", "test_accuracy"});
///   log.write({epoch, loss, accuracy});        // one row, flushed at once
///   tg::plot_curves("out/metrics.csv", "out/loss.png", "epoch", {"train_loss"});
///   tg::plot_heatmap(weights, "out/attention.png", tg::HeatmapOptions().title("where it looks"));
///
/// The plots need gnuplot (Debian: apt-get install gnuplot-nox). Without it they print how to
/// get it and return false: a missing plotter never stops training.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/core/tensor.h"

namespace tg {

/// A CSV file of named columns, one row per write(), flushed at once (a run that dies keeps the
/// rows written so far). With append, an existing file with the same header is continued (a
/// resumed run); otherwise the file is started anew.
class MetricsLog {
 public:
  MetricsLog(std::string path, std::vector<std::string> columns, bool append = false);
  /// One row: a number per column (written in shortest round-trip form; NaN as "nan").
  void write(const std::vector<double>& values);
  const std::string& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

/// The rows of a CSV written by MetricsLog (or any CSV of numbers with a header line).
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  /// The column named `name` (tg::Error naming the columns there are when it is absent).
  std::vector<double> column(const std::string& name) const;
};
Table read_csv(const std::string& path);

/// True when a gnuplot executable is on the PATH.
bool gnuplot_available();

/// Line plot of columns `ys` against column `x` of a CSV, written as a PNG. Returns false (after
/// saying why on stderr) when gnuplot is missing or fails; the CSV is checked first either way.
bool plot_curves(const std::string& csv_path, const std::string& png_path, const std::string& x,
                 const std::vector<std::string>& ys, const std::string& title = "");

struct HeatmapOptions : public ChainedOptions<HeatmapOptions> {
  HeatmapOptions& title(std::string text) { return assign(title_, std::move(text)); }
  /// One label per row (y axis), e.g. the output tokens.
  HeatmapOptions& row_labels(std::vector<std::string> labels) { return assign(row_labels_, std::move(labels)); }
  /// One label per column (x axis), e.g. the input tokens.
  HeatmapOptions& col_labels(std::vector<std::string> labels) { return assign(col_labels_, std::move(labels)); }
  HeatmapOptions& xlabel(std::string text) { return assign(xlabel_, std::move(text)); }
  HeatmapOptions& ylabel(std::string text) { return assign(ylabel_, std::move(text)); }
  const std::string& title() const { return title_; }
  const std::vector<std::string>& row_labels() const { return row_labels_; }
  const std::vector<std::string>& col_labels() const { return col_labels_; }
  const std::string& xlabel() const { return xlabel_; }
  const std::string& ylabel() const { return ylabel_; }

 private:
  std::string title_, xlabel_, ylabel_;
  std::vector<std::string> row_labels_, col_labels_;
};

/// A 2-d tensor [rows, cols] (attention weights: queries x keys) drawn as a heatmap PNG, row 0 at
/// the top. Returns false when gnuplot is missing or fails.
bool plot_heatmap(const Tensor& matrix, const std::string& png_path, const HeatmapOptions& options = HeatmapOptions());

}  // namespace tg
