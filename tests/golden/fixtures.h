#pragma once
// Loader for the golden fixture files that tests/golden/make_fixtures.py writes with PyTorch
// (format described there): one file per op, cases with integer params and float64 tensors.
// Header-only, so that the tests' CMake glob (tests/test_*.cpp) needs nothing else.
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

namespace tg_golden {

/// A malformed or missing fixture file, or a lookup of something a case does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor as stored in a fixture: its shape and its values in row-major order.
struct StoredTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;
};

struct Case {
  std::string op;     // the file's op, e.g. "conv2d"
  std::string name;   // the rest of the `case` line
  std::string where;  // "<file>:<line>" of the `case` line, for messages
  std::map<std::string, std::vector<std::int64_t>> params;
  std::map<std::string, std::optional<StoredTensor>> tensors;  // nullopt: written as `none`

  bool has_param(const std::string& key) const { return params.count(key) != 0; }

  /// The values of a param; n > 0 also checks their count.
  const std::vector<std::int64_t>& param(const std::string& key, std::size_t n = 0) const {
    auto it = params.find(key);
    if (it == params.end()) throw FixtureError(where + ": case '" + name + "' has no param '" + key + "'");
    if (n != 0 && it->second.size() != n)
      throw FixtureError(where + ": param '" + key + "' of case '" + name + "' has " +
                         std::to_string(it->second.size()) + " values, expected " + std::to_string(n));
    return it->second;
  }
  std::int64_t param1(const std::string& key) const { return param(key, 1)[0]; }
  std::int64_t param_or(const std::string& key, std::int64_t fallback) const {
    return has_param(key) ? param1(key) : fallback;
  }

  /// True when the case holds the tensor (not `none`, not missing).
  bool has_tensor(const std::string& key) const {
    auto it = tensors.find(key);
    return it != tensors.end() && it->second.has_value();
  }
  /// True when the case says the tensor is absent (`none <key>`).
  bool is_none(const std::string& key) const {
    auto it = tensors.find(key);
    return it != tensors.end() && !it->second.has_value();
  }

  const StoredTensor& stored(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw FixtureError(where + ": case '" + name + "' has no tensor '" + key + "'");
    if (!it->second) throw FixtureError(where + ": tensor '" + key + "' of case '" + name + "' is none");
    return *it->second;
  }

  /// The tensor as a fresh tg::Tensor of the given floating dtype (a leaf, no grad).
  tg::Tensor tensor(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    const StoredTensor& s = stored(key);
    if (dtype == tg::kFloat64) return tg::from_vector(s.values, s.shape);
    if (dtype == tg::kFloat32) {
      std::vector<float> f(s.values.begin(), s.values.end());
      return tg::from_vector(f, s.shape);
    }
    throw FixtureError(std::string("golden fixtures: unsupported dtype ") + tg::dtype_name(dtype));
  }
  /// tensor(key, dtype), or an undefined tensor when the case says `none <key>`.
  tg::Tensor tensor_or_undefined(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    if (is_none(key)) return {};
    return tensor(key, dtype);
  }
};

/// tests/golden/fixtures, found from this header's own path (works for in-tree builds).
/// The environment variable TAPEGRAD_GOLDEN_FIXTURES overrides it.
inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("TAPEGRAD_GOLDEN_FIXTURES"); env && *env) return env;
  return std::filesystem::path(__FILE__).parent_path() / "fixtures";
}

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
      const std::size_t pos = line.find("case") + 4;
      const std::size_t first = line.find_first_not_of(" \t", pos);
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
      if (tok.size() < 3) throw FixtureError(where() + ": expected 'param <key> <int>...'");
      if (cur->params.count(tok[1])) throw FixtureError(where() + ": duplicate param '" + tok[1] + "'");
      std::vector<std::int64_t> v;
      for (std::size_t i = 2; i < tok.size(); ++i) v.push_back(detail::parse_int(tok[i], where()));
      cur->params[tok[1]] = std::move(v);
    } else if (kw == "none") {
      if (tok.size() != 2) throw FixtureError(where() + ": expected 'none <key>'");
      if (cur->tensors.count(tok[1])) throw FixtureError(where() + ": duplicate tensor '" + tok[1] + "'");
      cur->tensors[tok[1]] = std::nullopt;
    } else if (kw == "tensor") {
      if (tok.size() < 3) throw FixtureError(where() + ": expected 'tensor <key> <ndim> <dims>...'");
      const std::string key = tok[1];
      if (cur->tensors.count(key)) throw FixtureError(where() + ": duplicate tensor '" + key + "'");
      const std::int64_t ndim = detail::parse_int(tok[2], where());
      if (ndim < 0 || static_cast<std::size_t>(ndim) != tok.size() - 3)
        throw FixtureError(where() + ": tensor '" + key + "' says ndim " + tok[2] + " but lists " +
                           std::to_string(tok.size() - 3) + " dims");
      StoredTensor t;
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
        for (const std::string& v : vals) t.values.push_back(detail::parse_double(v, where()));
      }
      cur->tensors[key] = std::move(t);
    } else {
      throw FixtureError(where() + ": unknown directive '" + kw + "'");
    }
  }
  if (cur) throw FixtureError(file + ": case '" + cur->name + "' has no 'end'");
  return cases;
}

/// All cases of one op, from fixtures_dir() / "<op>.txt".
inline std::vector<Case> load_fixtures(const std::string& op) {
  const std::filesystem::path path = fixtures_dir() / (op + ".txt");
  std::ifstream in(path);
  if (!in)
    throw FixtureError("golden fixtures: cannot open " + path.string() +
                       " (run /usr/bin/python3 tests/golden/make_fixtures.py, or set TAPEGRAD_GOLDEN_FIXTURES)");
  std::vector<Case> cases = parse_fixtures(in, op, path.string());
  if (cases.empty()) throw FixtureError("golden fixtures: " + path.string() + " holds no cases");
  return cases;
}

/// One case by name (files are parsed once per op and cached).
inline const Case& load_case(const std::string& op, const std::string& name) {
  static std::map<std::string, std::vector<Case>> cache;
  auto it = cache.find(op);
  if (it == cache.end()) it = cache.emplace(op, load_fixtures(op)).first;
  for (const Case& c : it->second)
    if (c.name == name) return c;
  throw FixtureError("golden fixtures: " + op + ".txt has no case '" + name + "'");
}

}  // namespace tg_golden
