// MetricsLog (CSV out), read_csv (CSV in) and the gnuplot helpers. A plot's data goes to gnuplot
// inline (a $data datablock) through a pipe, so nothing but the PNG is written. The terminal is
// noenhanced, so a name such as train_loss is printed as written, not with a subscript.
#include "tapegrad/train/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "tapegrad/core/error.h"

namespace tg {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
    out.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round trip
  return std::string(buf, r.ptr);
}

/// A string literal for a gnuplot script: double quotes, with \ and " escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

/// Runs a gnuplot script; false (and a line on stderr) when gnuplot is missing or fails.
bool run_gnuplot(const std::string& script, const std::string& png_path, const char* op) {
  if (!gnuplot_available()) {
    std::fprintf(stderr,
                 "%s: gnuplot is not installed, so %s was not drawn; get it with: apt-get install gnuplot-nox\n", op,
                 png_path.c_str());
    return false;
  }
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(png_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::FILE* pipe = ::popen("gnuplot 2>&1", "w");
  if (pipe == nullptr) {
    std::fprintf(stderr, "%s: could not start gnuplot, so %s was not drawn\n", op, png_path.c_str());
    return false;
  }
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = ::pclose(pipe);
  if (status != 0 || !std::filesystem::exists(png_path, ec)) {
    std::fprintf(stderr, "%s: gnuplot failed (status %d), so %s was not drawn\n", op, status, png_path.c_str());
    return false;
  }
  return true;
}

}  // namespace

// ---- MetricsLog and read_csv ------------------------------------------------------------------

MetricsLog::MetricsLog(std::string path, std::vector<std::string> columns, bool append)
    : path_(std::move(path)), columns_(std::move(columns)) {
  TG_CHECK(!columns_.empty(), "MetricsLog: expected at least one column for '{}'", path_);
  for (const std::string& c : columns_)
    TG_CHECK(!c.empty() && c.find_first_of(",\n\r\"") == std::string::npos,
             "MetricsLog: column name '{}' must be non-empty and hold no comma, quote or newline", c);
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const std::string header = fmt::format("{}", fmt::join(columns_, ","));
  bool continue_file = false;
  if (append && std::filesystem::exists(path_, ec)) {
    std::ifstream in(path_);
    std::string first;
    std::getline(in, first);
    while (!first.empty() && first.back() == '\r') first.pop_back();
    TG_CHECK(first == header, "MetricsLog: '{}' has the columns '{}', not '{}'; cannot append to it", path_, first,
             header);
    continue_file = true;
  }
  out_.open(path_, continue_file ? std::ios::app : std::ios::trunc);
  TG_CHECK(out_.good(), "MetricsLog: cannot open '{}' for writing", path_);
  if (!continue_file) out_ << header << '\n' << std::flush;
}

void MetricsLog::write(const std::vector<double>& values) {
  TG_CHECK(values.size() == columns_.size(), "MetricsLog: '{}' has {} columns ({}) but the row has {} values", path_,
           columns_.size(), fmt::join(columns_, ", "), values.size());
  std::string row;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) row += ',';
    row += number(values[i]);
  }
  out_ << row << '\n' << std::flush;
  TG_CHECK(out_.good(), "MetricsLog: writing to '{}' failed", path_);
}

std::vector<double> Table::column(const std::string& name) const {
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] != name) continue;
    std::vector<double> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(r[c]);
    return out;
  }
  fail("Table: no column '{}'; the columns are {}", name, fmt::join(columns, ", "));
}

Table read_csv(const std::string& path) {
  std::ifstream in(path);
  TG_CHECK(in.good(), "read_csv: cannot open '{}'", path);
  Table table;
  std::string line;
  TG_CHECK(static_cast<bool>(std::getline(in, line)), "read_csv: '{}' is empty (expected a header line)", path);
  table.columns = split_csv_line(line);
  for (std::size_t n = 2; std::getline(in, line); ++n) {
    if (line.empty() || line == "\r") continue;
    const std::vector<std::string> cells = split_csv_line(line);
    TG_CHECK(cells.size() == table.columns.size(), "read_csv: '{}' line {} has {} cells but the header has {}", path, n,
             cells.size(), table.columns.size());
    std::vector<double> row;
    for (const std::string& cell : cells) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      TG_CHECK(!cell.empty() && end == cell.c_str() + cell.size(), "read_csv: '{}' line {} has '{}', not a number",
               path, n, cell);
      row.push_back(v);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// ---- plots ------------------------------------------------------------------------------------

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

bool plot_curves(const std::string& csv_path, const std::string& png_path, const std::string& x,
                 const std::vector<std::string>& ys, const std::string& title) {
  TG_CHECK(!ys.empty(), "plot_curves: expected at least one column to draw from '{}'", csv_path);
  const Table table = read_csv(csv_path);
  const std::vector<double> xs = table.column(x);
  std::vector<std::vector<double>> series;
  for (const std::string& y : ys) series.push_back(table.column(y));
  std::string script = "$data << EOD\n";
  for (std::size_t r = 0; r < xs.size(); ++r) {
    script += number(xs[r]);
    for (const auto& s : series) {
      script += ' ';
      script += number(s[r]);
    }
    script += "\n";
  }
  script += "EOD\n";
  script += fmt::format("set terminal pngcairo noenhanced size 900,560\nset output {}\nset title {}\nset xlabel {}\n",
                        quoted(png_path), quoted(title.empty() ? csv_path : title), quoted(x));
  script += "set grid\nset key outside right\nset datafile missing 'nan'\nplot ";
  for (std::size_t i = 0; i < ys.size(); ++i)
    script += fmt::format("{}$data using 1:{} with linespoints title {}", i ? ", " : "", i + 2, quoted(ys[i]));
  script += "\n";
  return run_gnuplot(script, png_path, "plot_curves");
}

bool plot_heatmap(const Tensor& matrix, const std::string& png_path, const HeatmapOptions& options) {
  TG_CHECK(matrix.defined() && matrix.dim() == 2, "plot_heatmap: expected a 2-d tensor [rows, cols], got {}",
           matrix.defined() ? fmt::format("shape {}", matrix.shape()) : std::string("an undefined tensor"));
  const std::int64_t R = matrix.size(0), C = matrix.size(1);
  TG_CHECK(R > 0 && C > 0, "plot_heatmap: the matrix is empty (shape {})", matrix.shape());
  TG_CHECK(options.row_labels().empty() || static_cast<std::int64_t>(options.row_labels().size()) == R,
           "plot_heatmap: {} row labels for {} rows", options.row_labels().size(), R);
  TG_CHECK(options.col_labels().empty() || static_cast<std::int64_t>(options.col_labels().size()) == C,
           "plot_heatmap: {} column labels for {} columns", options.col_labels().size(), C);
  const std::vector<double> v = matrix.detach().to(kFloat64).contiguous().to_vector<double>();
  std::string script = "$data << EOD\n";
  for (std::int64_t r = 0; r < R; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      if (c) script += ' ';
      script += number(v[static_cast<std::size_t>(r * C + c)]);
    }
    script += "\n";
  }
  script += "EOD\n";
  const int width = static_cast<int>(std::clamp<std::int64_t>(160 + 28 * C, 400, 1800));
  const int height = static_cast<int>(std::clamp<std::int64_t>(120 + 28 * R, 300, 1400));
  script += fmt::format("set terminal pngcairo noenhanced size {},{}\nset output {}\nset title {}\n", width, height,
                        quoted(png_path), quoted(options.title()));
  script += fmt::format("set xlabel {}\nset ylabel {}\n", quoted(options.xlabel()), quoted(options.ylabel()));
  script += "set palette defined (0 'white', 1 '#08306b')\nset yrange [] reverse\nset tics nomirror\n";
  script += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", C - 0.5, R - 0.5);
  const auto tics = [&](const std::vector<std::string>& labels, const char* axis) {
    if (labels.empty()) return std::string();
    std::string s = fmt::format("set {}tics (", axis);
    for (std::size_t i = 0; i < labels.size(); ++i) s += fmt::format("{}{} {}", i ? ", " : "", quoted(labels[i]), i);
    return s + ")" + (std::string(axis) == "x" ? " rotate by 60 right" : "") + "\n";
  };
  script += tics(options.col_labels(), "x") + tics(options.row_labels(), "y");
  script += "plot $data matrix with image notitle\n";
  return run_gnuplot(script, png_path, "plot_heatmap");
}

}  // namespace tg
