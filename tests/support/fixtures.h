#pragma once
// The one loader of the text fixtures that the scripts under tests/ write with PyTorch through
// tests/support/fixture_writer.py (the format is described there): golden ops (conv, pool),
// losses, modules, attention and optimizers. A file holds cases; a case holds params (the words
// after `param`, `num`, `text` or `names`, read as integers, numbers or words on demand) and
// tensors (`tensor` float64, `index` int64, `none` absent).
//
// Files are found under TAPEGRAD_TEST_DIR, the tests' source folder, which tests/CMakeLists.txt
// passes as a compile definition: load("golden_nn", "kl_div") reads
// <TAPEGRAD_TEST_DIR>/golden_nn/fixtures/kl_div.txt.
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

#ifndef TAPEGRAD_TEST_DIR
#error "TAPEGRAD_TEST_DIR (the tests' source folder) must be defined; tests/CMakeLists.txt does"
#endif

namespace tg_fixtures {

/// A malformed or missing fixture file, or a lookup of something a case does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor as stored: its shape, its values in row-major order, and whether it is int64.
struct StoredTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // int64 values are exact in a double up to 2^53
  bool is_index = false;
};

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

struct Case {
  std::string op;     // the file's stem, e.g. "conv2d", "kl_div", "lstm", "optimizers"
  std::string name;   // the rest of the `case` line
  std::string where;  // "<file>:<line>" of the `case` line, for messages
  std::map<std::string, std::vector<std::string>> params;      // param, num, text and names lines
  std::map<std::string, std::string> param_kinds;              // key -> "param", "num", "text", "names"
  std::vector<std::string> tensor_keys;                        // in file order
  std::map<std::string, std::optional<StoredTensor>> tensors;  // nullopt: written as `none`

  bool has_param(const std::string& key) const { return params.count(key) != 0; }
  /// The keys of the params written with one keyword ("num", "text", ...), in key order.
  std::vector<std::string> keys_of(const std::string& kind) const {
    std::vector<std::string> out;
    for (const auto& [key, k] : param_kinds)
      if (k == kind) out.push_back(key);
    return out;
  }

  /// The words of a param (a `names` line may hold none).
  const std::vector<std::string>& words(const std::string& key) const {
    auto it = params.find(key);
    if (it == params.end()) throw FixtureError(where + ": case '" + name + "' has no param '" + key + "'");
    return it->second;
  }
  /// The one word of a param (a reduction, an optimizer's name).
  const std::string& text(const std::string& key) const { return words_n(key, 1)[0]; }

  /// The values of a param as integers; n > 0 also checks their count.
  std::vector<std::int64_t> param(const std::string& key, std::size_t n = 0) const {
    std::vector<std::int64_t> out;
    for (const std::string& w : words_n(key, n)) out.push_back(detail::parse_int(w, where));
    return out;
  }
  std::int64_t param1(const std::string& key) const { return param(key, 1)[0]; }
  std::int64_t param_or(const std::string& key, std::int64_t fallback) const {
    return has_param(key) ? param1(key) : fallback;
  }

  /// The values of a param as numbers.
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    for (const std::string& w : words(key)) out.push_back(detail::parse_double(w, where));
    return out;
  }
  double num(const std::string& key) const { return detail::parse_double(text(key), where); }
  double num_or(const std::string& key, double fallback) const { return has_param(key) ? num(key) : fallback; }
  /// A single number that is 0 or not.
  bool flag(const std::string& key) const { return num(key) != 0; }

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
  /// The tensor as a fresh leaf without grad: int64 for an `index` tensor, else of the floating
  /// dtype given.
  tg::Tensor tensor(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    const StoredTensor& s = stored(key);
    if (s.is_index) return tg::from_vector(std::vector<std::int64_t>(s.values.begin(), s.values.end()), s.shape);
    if (dtype == tg::kFloat64) return tg::from_vector(s.values, s.shape);
    if (dtype == tg::kFloat32) return tg::from_vector(std::vector<float>(s.values.begin(), s.values.end()), s.shape);
    throw FixtureError(std::string("fixtures: unsupported dtype ") + tg::dtype_name(dtype));
  }
  /// tensor(key, dtype), or an undefined tensor when the case has none.
  tg::Tensor tensor_or_undefined(const std::string& key, tg::DType dtype = tg::kFloat64) const {
    return has_tensor(key) ? tensor(key, dtype) : tg::Tensor();
  }
  /// Keys of the tensors that start with prefix, in file order, with the prefix removed.
  std::vector<std::string> keys_with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const std::string& k : tensor_keys)
      if (k.rfind(prefix, 0) == 0) out.push_back(k.substr(prefix.size()));
    return out;
  }

 private:
  const std::vector<std::string>& words_n(const std::string& key, std::size_t n) const {
    const std::vector<std::string>& w = words(key);
    if (n != 0 && w.size() != n)
      throw FixtureError(where + ": param '" + key + "' of case '" + name + "' has " + std::to_string(w.size()) +
                         " values, expected " + std::to_string(n));
    return w;
  }
};

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
      cur = Case{op, name, where(), {}, {}, {}, {}};
      continue;
    }
    if (!cur) throw FixtureError(where() + ": '" + kw + "' outside a case");

    if (kw == "end") {
      if (tok.size() != 1) throw FixtureError(where() + ": 'end' takes no arguments");
      cases.push_back(std::move(*cur));
      cur.reset();
    } else if (kw == "param" || kw == "num" || kw == "text" || kw == "names") {
      if (tok.size() < (kw == "names" ? 2u : 3u))
        throw FixtureError(where() + ": expected '" + kw + " <key> <value>...'");
      if (cur->params.count(tok[1])) throw FixtureError(where() + ": duplicate param '" + tok[1] + "'");
      cur->params[tok[1]] = std::vector<std::string>(tok.begin() + 2, tok.end());
      cur->param_kinds[tok[1]] = kw;
    } else if (kw == "none") {
      if (tok.size() != 2) throw FixtureError(where() + ": expected 'none <key>'");
      if (cur->tensors.count(tok[1])) throw FixtureError(where() + ": duplicate tensor '" + tok[1] + "'");
      cur->tensors[tok[1]] = std::nullopt;
    } else if (kw == "tensor" || kw == "index") {
      if (tok.size() < 3) throw FixtureError(where() + ": expected '" + kw + " <key> <ndim> <dims>...'");
      const std::string key = tok[1];
      if (cur->tensors.count(key)) throw FixtureError(where() + ": duplicate tensor '" + key + "'");
      const std::int64_t ndim = detail::parse_int(tok[2], where());
      if (ndim < 0 || static_cast<std::size_t>(ndim) != tok.size() - 3)
        throw FixtureError(where() + ": tensor '" + key + "' says ndim " + tok[2] + " but lists " +
                           std::to_string(tok.size() - 3) + " dims");
      StoredTensor t;
      t.is_index = kw == "index";
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
          t.values.push_back(t.is_index ? static_cast<double>(detail::parse_int(v, where()))
                                        : detail::parse_double(v, where()));
      }
      cur->tensor_keys.push_back(key);
      cur->tensors[key] = std::move(t);
    } else {
      throw FixtureError(where() + ": unknown directive '" + kw + "'");
    }
  }
  if (cur) throw FixtureError(file + ": case '" + cur->name + "' has no 'end'");
  return cases;
}

/// <TAPEGRAD_TEST_DIR>/<set>/fixtures: the folder of one set of fixtures ("golden", "golden_nn",
/// "golden_modules", "golden_attention", "golden_optim"), next to the script that writes it.
inline std::filesystem::path fixtures_dir(const std::string& set) {
  return std::filesystem::path(TAPEGRAD_TEST_DIR) / set / "fixtures";
}

/// All cases of <set>/fixtures/<op>.txt, parsed once and then cached.
inline const std::vector<Case>& load(const std::string& set, const std::string& op) {
  static std::map<std::string, std::vector<Case>> cache;
  const std::filesystem::path path = fixtures_dir(set) / (op + ".txt");
  auto it = cache.find(path.string());
  if (it != cache.end()) return it->second;
  std::ifstream in(path);
  if (!in)
    throw FixtureError("fixtures: cannot open " + path.string() + " (run the make_*.py script under tests/" + set +
                       " with /usr/bin/python3)");
  std::vector<Case> cases = parse_fixtures(in, op, path.string());
  if (cases.empty()) throw FixtureError("fixtures: " + path.string() + " holds no cases");
  return cache.emplace(path.string(), std::move(cases)).first->second;
}

/// The case of that name in a list.
inline const Case& find(const std::vector<Case>& cases, const std::string& name) {
  for (const Case& c : cases)
    if (c.name == name) return c;
  throw FixtureError("fixtures: no case '" + name + "'" + (cases.empty() ? "" : " in " + cases.front().op));
}

/// One case by name.
inline const Case& load_case(const std::string& set, const std::string& op, const std::string& name) {
  return find(load(set, op), name);
}

}  // namespace tg_fixtures
