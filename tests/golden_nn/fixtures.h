#pragma once
// Loader for the loss fixtures that tests/golden_nn/make_loss_fixtures.py writes with PyTorch
// (format described there): one file per loss; cases with word or number params, float64
// tensors and int64 index tensors. Header-only, found from this file's own path, so the tests'
// CMake glob (tests/test_*.cpp) needs nothing else.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core.h"

namespace tg_golden_nn {

/// A malformed or missing fixture file, or a lookup of something a case does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor as stored: shape, row-major values, and whether it holds int64 indices.
struct StoredTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;
  bool index = false;
};

struct Case {
  std::string op;     // the file's loss, e.g. "cross_entropy"
  std::string name;   // the rest of the `case` line
  std::string where;  // "<file>:<line>" of the `case` line, for messages
  std::map<std::string, std::string> params;
  std::map<std::string, StoredTensor> tensors;

  bool has_param(const std::string& key) const { return params.count(key) != 0; }
  const std::string& param(const std::string& key) const {
    auto it = params.find(key);
    if (it == params.end()) throw FixtureError(where + ": case '" + name + "' has no param '" + key + "'");
    return it->second;
  }
  double number(const std::string& key) const {
    const std::string& tok = param(key);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (tok.empty() || *end != '\0' || errno == ERANGE)
      throw FixtureError(where + ": param '" + key + "' is not a number: '" + tok + "'");
    return v;
  }
  double number_or(const std::string& key, double fallback) const { return has_param(key) ? number(key) : fallback; }

  bool has_tensor(const std::string& key) const { return tensors.count(key) != 0; }
  const StoredTensor& stored(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw FixtureError(where + ": case '" + name + "' has no tensor '" + key + "'");
    return it->second;
  }
  /// The tensor as a fresh leaf: int64 for an `index` tensor, else of the floating dtype given.
  tg::Tensor tensor(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    const StoredTensor& s = stored(key);
    if (s.index) return tg::from_vector(std::vector<std::int64_t>(s.values.begin(), s.values.end()), s.shape);
    if (dtype == tg::kFloat64) return tg::from_vector(s.values, s.shape);
    if (dtype == tg::kFloat32) return tg::from_vector(std::vector<float>(s.values.begin(), s.values.end()), s.shape);
    throw FixtureError(std::string("golden_nn fixtures: unsupported dtype ") + tg::dtype_name(dtype));
  }
  /// tensor(key, dtype), or an undefined tensor when the case has none.
  tg::Tensor tensor_or_undefined(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    return has_tensor(key) ? tensor(key, dtype) : tg::Tensor();
  }
};

/// tests/golden_nn/fixtures, found from this header's own path.
inline std::filesystem::path fixtures_dir() { return std::filesystem::path(__FILE__).parent_path() / "fixtures"; }

namespace detail {

inline std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) out.push_back(tok);
  return out;
}

inline std::int64_t parse_int(const std::string& tok, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(tok.c_str(), &end, 10);
  if (tok.empty() || *end != '\0' || errno == ERANGE) throw FixtureError(where + ": not an integer: '" + tok + "'");
  return static_cast<std::int64_t>(v);
}

inline double parse_double(const std::string& tok, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(tok.c_str(), &end);
  if (tok.empty() || *end != '\0' || errno == ERANGE) throw FixtureError(where + ": not a number: '" + tok + "'");
  return v;
}

}  // namespace detail

/// Parses the text of one fixture file; `file` only names it in error messages.
inline std::vector<Case> parse_fixtures(std::istream& in, const std::string& op, const std::string& file) {
  std::vector<Case> cases;
  std::optional<Case> cur;
  std::string line;
  std::size_t lineno = 0;
  auto where = [&] { return file + ":" + std::to_string(lineno); };

  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::vector<std::string> tok = detail::split_ws(line);
    if (tok.empty() || tok[0][0] == '#') continue;
    const std::string& kw = tok[0];

    if (kw == "case") {
      if (cur) throw FixtureError(where() + ": 'case' before the 'end' of case '" + cur->name + "'");
      const std::size_t first = line.find_first_not_of(" \t", line.find("case") + 4);
      if (first == std::string::npos) throw FixtureError(where() + ": 'case' without a name");
      std::string name = line.substr(first);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
      for (const Case& c : cases)
        if (c.name == name) throw FixtureError(where() + ": duplicate case name '" + name + "'");
      cur = Case{op, name, where(), {}, {}};
      continue;
    }
    if (!cur) throw FixtureError(where() + ": '" + kw + "' outside a case");

    if (kw == "end") {
      if (tok.size() != 1) throw FixtureError(where() + ": 'end' takes no arguments");
      cases.push_back(std::move(*cur));
      cur.reset();
    } else if (kw == "param") {
      if (tok.size() != 3) throw FixtureError(where() + ": expected 'param <key> <token>'");
      if (cur->params.count(tok[1])) throw FixtureError(where() + ": duplicate param '" + tok[1] + "'");
      cur->params[tok[1]] = tok[2];
    } else if (kw == "tensor" || kw == "index") {
      if (tok.size() < 3) throw FixtureError(where() + ": expected '" + kw + " <key> <ndim> <dims>...'");
      const std::string key = tok[1];
      if (cur->tensors.count(key)) throw FixtureError(where() + ": duplicate tensor '" + key + "'");
      const std::int64_t ndim = detail::parse_int(tok[2], where());
      if (ndim < 0 || static_cast<std::size_t>(ndim) != tok.size() - 3)
        throw FixtureError(where() + ": tensor '" + key + "' says ndim " + tok[2] + " but lists " +
                           std::to_string(tok.size() - 3) + " dims");
      StoredTensor t;
      t.index = kw == "index";
      std::int64_t numel = 1;
      for (std::size_t i = 3; i < tok.size(); ++i) {
        const std::int64_t d = detail::parse_int(tok[i], where());
        if (d < 0) throw FixtureError(where() + ": negative dim in tensor '" + key + "'");
        t.shape.push_back(d);
        numel *= d;
      }
      t.values.reserve(static_cast<std::size_t>(numel));
      const std::string head = where();
      while (static_cast<std::int64_t>(t.values.size()) < numel) {
        if (!std::getline(in, line))
          throw FixtureError(head + ": tensor '" + key + "' ends early: file has " + std::to_string(t.values.size()) +
                             " of its " + std::to_string(numel) + " values");
        ++lineno;
        const std::vector<std::string> vals = detail::split_ws(line);
        if (vals.empty()) throw FixtureError(where() + ": blank line inside the values of tensor '" + key + "'");
        if (static_cast<std::int64_t>(t.values.size() + vals.size()) > numel)
          throw FixtureError(where() + ": tensor '" + key + "' has more than its " + std::to_string(numel) + " values");
        for (const std::string& v : vals)
          t.values.push_back(t.index ? static_cast<double>(detail::parse_int(v, where()))
                                     : detail::parse_double(v, where()));
      }
      cur->tensors[key] = std::move(t);
    } else {
      throw FixtureError(where() + ": unknown directive '" + kw + "'");
    }
  }
  if (cur) throw FixtureError(file + ": case '" + cur->name + "' has no 'end'");
  return cases;
}

/// All cases of one loss, from fixtures_dir() / "<op>.txt".
inline std::vector<Case> load_fixtures(const std::string& op) {
  const std::filesystem::path path = fixtures_dir() / (op + ".txt");
  std::ifstream in(path);
  if (!in)
    throw FixtureError("golden_nn fixtures: cannot open " + path.string() +
                       " (run /usr/bin/python3 tests/golden_nn/make_loss_fixtures.py)");
  std::vector<Case> cases = parse_fixtures(in, op, path.string());
  if (cases.empty()) throw FixtureError("golden_nn fixtures: " + path.string() + " holds no cases");
  return cases;
}

}  // namespace tg_golden_nn
