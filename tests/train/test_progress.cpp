// ProgressBar (plain lines and the redrawn line), MetricsLog and read_csv, and the gnuplot plots
// (checked for a PNG when gnuplot is installed, for the advice when it is not).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "golden_io/io_helpers.h"
#include "support/helpers.h"
#include "tapegrad/tapegrad.h"
#include "tapegrad/train/metrics.h"
#include "tapegrad/train/progress.h"

using namespace tg;
using Catch::Matchers::Contains;
using tg_io_test::TempDir;

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("ProgressBar prints about `lines` plain lines when the output is not a terminal", "[data][progress]") {
  TempDir dir;
  const auto path = dir / "log.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  {
    ProgressBar bar(100, ProgressOptions().label("epoch 1").stream(f).lines(5));
    CHECK_FALSE(bar.interactive());  // a file is not a terminal
    for (int i = 0; i < 100; ++i) bar.step(1.0 + i % 2, 32);
    CHECK(bar.mean_loss() == 1.5);
    bar.finish();
    bar.finish();  // once only
  }
  std::fclose(f);
  const std::string text = read_text(path);
  CHECK(count_lines(text) == 6);  // steps 1, 21, 41, 61, 81 and the final line
  CHECK(text.find('\r') == std::string::npos);
  CHECK_THAT(text, Contains("epoch 1 [#####...................]  21% 21/100 | loss 1"));
  CHECK_THAT(text, Contains("100% 100/100 | mean loss 1.5 | "));
  CHECK_THAT(text, Contains("samples/s"));
  CHECK_THAT(text, Contains("eta "));
}

TEST_CASE("ProgressBar redraws one line in a terminal", "[data][progress]") {
  TempDir dir;
  const auto path = dir / "tty.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  {
    ProgressBar bar(0, ProgressOptions().stream(f).interactive(true).redraw(0).unit("batch"));
    for (int i = 0; i < 3; ++i) bar.step(0.5);
  }  // the destructor finishes
  std::fclose(f);
  const std::string text = read_text(path);
  CHECK(count_lines(text) == 1);
  CHECK(std::count(text.begin(), text.end(), '\r') == 4);
  CHECK_THAT(text, Contains("\r3 | mean loss 0.5 | "));
  CHECK_THAT(text, Contains("batch/s"));
}

TEST_CASE("ProgressBar and format_duration: values and bad inputs", "[data][progress]") {
  CHECK(format_duration(3.25) == "3.2s");
  CHECK(format_duration(187) == "3m07s");
  CHECK(format_duration(3720) == "1h02m");
  CHECK(format_duration(-1) == "?");
  CHECK_TG_ERROR(ProgressBar(-1), Contains("ProgressBar: total must be >= 0 steps (0 = unknown), got -1"));
  CHECK_TG_ERROR(ProgressBar(10, ProgressOptions().width(0)), Contains("width must be at least 1, got 0"));
  CHECK_TG_ERROR(ProgressBar(10, ProgressOptions().lines(0)), Contains("lines must be at least 1, got 0"));
  std::FILE* null = std::fopen("/dev/null", "w");
  ProgressBar bar(10, ProgressOptions().stream(null));
  CHECK_TG_ERROR(bar.step(1.0, -2), Contains("samples must be >= 0, got -2"));
  bar.finish();
  CHECK_TG_ERROR(bar.step(), Contains("step() after finish()"));
  std::fclose(null);
}

TEST_CASE("MetricsLog writes a CSV that read_csv reads back exactly, and appends on resume", "[data][metrics]") {
  TempDir dir;
  const std::string path = (dir / "run" / "metrics.csv").string();  // the folder is made
  {
    MetricsLog log(path, {"epoch", "loss", "accuracy"});
    log.write({0, 0.1, std::nan("")});
    log.write({1, 1.0 / 3.0, 0.5});
    CHECK_TG_ERROR(log.write({2, 0.1}), Contains("has 3 columns (epoch, loss, accuracy) but the row has 2 values"));
  }
  CHECK(read_text(path) == "epoch,loss,accuracy\n0,0.1,nan\n1,0.3333333333333333,0.5\n");
  {
    MetricsLog resumed(path, {"epoch", "loss", "accuracy"}, /*append=*/true);
    resumed.write({2, 0.25, 0.75});
  }
  Table t = read_csv(path);
  CHECK(t.columns == std::vector<std::string>{"epoch", "loss", "accuracy"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.column("loss")[1] == 1.0 / 3.0);  // bit for bit
  CHECK(std::isnan(t.column("accuracy")[0]));
  CHECK(t.column("epoch") == std::vector<double>{0, 1, 2});
  CHECK_TG_ERROR(t.column("lr"), Contains("Table: no column 'lr'; the columns are epoch, loss, accuracy"));
  CHECK_TG_ERROR(MetricsLog(path, {"epoch", "loss"}, true),
                 Contains("has the columns 'epoch,loss,accuracy', not 'epoch,loss'; cannot append to it"));
  CHECK_TG_ERROR(MetricsLog(path, {"a,b"}), Contains("column name 'a,b' must be non-empty and hold no comma"));
  CHECK_TG_ERROR(MetricsLog(path, {}), Contains("expected at least one column"));
  // Without append the file starts again.
  { MetricsLog fresh(path, {"x"}); }
  CHECK(read_text(path) == "x\n");

  std::ofstream(dir / "bad.csv") << "a,b\n1,2\n3\n";
  CHECK_TG_ERROR(read_csv((dir / "bad.csv").string()), Contains("line 3 has 1 cells but the header has 2"));
  std::ofstream(dir / "word.csv") << "a\nfast\n";
  CHECK_TG_ERROR(read_csv((dir / "word.csv").string()), Contains("line 2 has 'fast', not a number"));
  CHECK_TG_ERROR(read_csv((dir / "none.csv").string()), Contains("read_csv: cannot open"));
}

TEST_CASE("plot_curves and plot_heatmap write PNGs through gnuplot, or say how to get it", "[data][metrics]") {
  TempDir dir;
  const std::string csv = (dir / "m.csv").string();
  {
    MetricsLog log(csv, {"step", "loss"});
    for (int i = 0; i < 10; ++i) log.write({static_cast<double>(i), 1.0 / (i + 1)});
  }
  const std::string curves = (dir / "plots" / "loss.png").string(), heat = (dir / "heat.png").string();
  const bool drawn = plot_curves(csv, curves, "step", {"loss"}, "loss \"quoted\" title");
  const bool heat_drawn = plot_heatmap(
      softmax(randn({4, 6}), -1), heat,
      HeatmapOptions().title("attention").row_labels({"a", "b", "c", "d"}).col_labels({"1", "2", "3", "4", "5", "6"}));
  CHECK(drawn == gnuplot_available());
  CHECK(heat_drawn == gnuplot_available());
  if (gnuplot_available()) {
    // A PNG starts with its 8-byte signature.
    const std::string png = read_text(curves);
    REQUIRE(png.size() > 8);
    CHECK(png.substr(1, 3) == "PNG");
    CHECK(read_text(heat).substr(1, 3) == "PNG");
  }
  // Without gnuplot on the PATH: false, and training goes on.
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (dir / "empty-bin").c_str(), 1);
  CHECK_FALSE(gnuplot_available());
  CHECK_FALSE(plot_curves(csv, (dir / "none.png").string(), "step", {"loss"}));
  CHECK_FALSE(std::filesystem::exists(dir / "none.png"));
  ::setenv("PATH", saved.c_str(), 1);
  CHECK_TG_ERROR(plot_curves(csv, curves, "epoch", {"loss"}), Contains("no column 'epoch'"));
  CHECK_TG_ERROR(plot_curves(csv, curves, "step", {}), Contains("expected at least one column"));
  CHECK_TG_ERROR(plot_heatmap(zeros({2, 2, 2}), heat),
                 Contains("expected a 2-d tensor [rows, cols], got shape [2, 2, 2]"));
  CHECK_TG_ERROR(plot_heatmap(zeros({2, 3}), heat, HeatmapOptions().row_labels({"x"})),
                 Contains("1 row labels for 2 rows"));
  CHECK_TG_ERROR(plot_heatmap(zeros({0, 3}), heat), Contains("the matrix is empty"));
}
