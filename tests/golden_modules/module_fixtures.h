#pragma once
// Loader for the module fixtures that tests/golden_modules/make_module_fixtures.py writes with
// PyTorch (format described there): one file per module family; cases with numeric params,
// ordered name lists, float64 and int64 tensors. Header-only, so that the tests' CMake glob
// (tests/test_*.cpp) needs nothing else.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core.h"

namespace tg_golden_modules {

/// A malformed or missing fixture file, or a lookup of something a case does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoredTensor {
  bool is_index = false;  // int64 (written as `index`), else float64
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // int64 values are exact in a double up to 2^53
};

struct Case {
  std::string family;  // the file, e.g. "lstm"
  std::string name;    // the rest of the `case` line
  std::string where;   // "<file>:<line>" of the `case` line, for messages
  std::map<std::string, std::vector<double>> params;
  std::map<std::string, std::vector<std::string>> names;
  std::vector<std::string> tensor_keys;  // in file order
  std::map<std::string, StoredTensor> tensors;

  bool has_param(const std::string& key) const { return params.count(key) != 0; }
  const std::vector<double>& param(const std::string& key) const {
    auto it = params.find(key);
    if (it == params.end()) throw FixtureError(where + ": case '" + name + "' has no param '" + key + "'");
    return it->second;
  }
  double num(const std::string& key) const {
    const auto& v = param(key);
    if (v.size() != 1) throw FixtureError(where + ": param '" + key + "' of case '" + name + "' is not a single value");
    return v[0];
  }
  std::int64_t integer(const std::string& key) const { return static_cast<std::int64_t>(num(key)); }
  bool flag(const std::string& key) const { return num(key) != 0; }
  std::vector<std::int64_t> integers(const std::string& key) const {
    std::vector<std::int64_t> out;
    for (double v : param(key)) out.push_back(static_cast<std::int64_t>(v));
    return out;
  }

  const std::vector<std::string>& name_list(const std::string& key) const {
    auto it = names.find(key);
    if (it == names.end()) throw FixtureError(where + ": case '" + name + "' has no names '" + key + "'");
    return it->second;
  }

  bool has(const std::string& key) const { return tensors.count(key) != 0; }
  const StoredTensor& stored(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw FixtureError(where + ": case '" + name + "' has no tensor '" + key + "'");
    return it->second;
  }
  /// A fresh tensor (a leaf without grad): float64, or int64 for `index` tensors.
  tg::Tensor tensor(const std::string& key) const {
    const StoredTensor& s = stored(key);
    if (!s.is_index) return tg::from_vector(s.values, s.shape);
    std::vector<std::int64_t> v(s.values.begin(), s.values.end());
    return tg::from_vector(v, s.shape);
  }
  /// Keys of the tensors that start with prefix, in file order, with the prefix removed.
  std::vector<std::string> keys_with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const std::string& k : tensor_keys)
      if (k.rfind(prefix, 0) == 0) out.push_back(k.substr(prefix.size()));
    return out;
  }
};

/// tests/golden_modules/fixtures, found from this header's own path (works for in-tree builds).
/// The environment variable TAPEGRAD_MODULE_FIXTURES overrides it.
inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("TAPEGRAD_MODULE_FIXTURES"); env && *env) return env;
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

inline double parse_number(const std::string& tok, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(tok.c_str(), &end);
  if (tok.empty() || *end != '\0' || errno == ERANGE) throw FixtureError(where + ": not a number: '" + tok + "'");
  return v;
}

}  // namespace detail

/// Parses the text of one fixture file; `file` only names it in error messages.
inline std::vector<Case> parse_fixtures(std::istream& in, const std::string& family, const std::string& file) {
  std::vector<Case> cases;
  Case cur;
  bool open = false;
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
      if (open) throw FixtureError(where() + ": 'case' before the 'end' of case '" + cur.name + "'");
      const std::size_t first = line.find_first_not_of(" \t", line.find("case") + 4);
      if (first == std::string::npos) throw FixtureError(where() + ": 'case' without a name");
      cur = Case{family, line.substr(first), where(), {}, {}, {}, {}};
      for (const Case& c : cases)
        if (c.name == cur.name) throw FixtureError(where() + ": duplicate case name '" + cur.name + "'");
      open = true;
      continue;
    }
    if (!open) throw FixtureError(where() + ": '" + kw + "' outside a case");

    if (kw == "end") {
      cases.push_back(std::move(cur));
      open = false;
    } else if (kw == "param") {
      if (tok.size() < 3) throw FixtureError(where() + ": expected 'param <key> <number>...'");
      std::vector<double> v;
      for (std::size_t i = 2; i < tok.size(); ++i) v.push_back(detail::parse_number(tok[i], where()));
      cur.params[tok[1]] = std::move(v);
    } else if (kw == "names") {
      if (tok.size() < 2) throw FixtureError(where() + ": expected 'names <key> <word>...'");
      cur.names[tok[1]] = std::vector<std::string>(tok.begin() + 2, tok.end());
    } else if (kw == "tensor" || kw == "index") {
      if (tok.size() < 3) throw FixtureError(where() + ": expected '" + kw + " <key> <ndim> <dims>...'");
      const std::string key = tok[1];
      if (cur.tensors.count(key)) throw FixtureError(where() + ": duplicate tensor '" + key + "'");
      const auto ndim = static_cast<std::size_t>(detail::parse_number(tok[2], where()));
      if (ndim != tok.size() - 3) throw FixtureError(where() + ": tensor '" + key + "' has a wrong number of dims");
      StoredTensor t;
      t.is_index = kw == "index";
      std::int64_t numel = 1;
      for (std::size_t i = 3; i < tok.size(); ++i) {
        t.shape.push_back(static_cast<std::int64_t>(detail::parse_number(tok[i], where())));
        numel *= t.shape.back();
      }
      const std::string head = where();
      while (static_cast<std::int64_t>(t.values.size()) < numel) {
        if (!std::getline(in, line)) throw FixtureError(head + ": tensor '" + key + "' ends early");
        ++lineno;
        for (const std::string& v : detail::split_ws(line)) t.values.push_back(detail::parse_number(v, where()));
      }
      if (static_cast<std::int64_t>(t.values.size()) != numel)
        throw FixtureError(head + ": tensor '" + key + "' has more values than its shape holds");
      cur.tensor_keys.push_back(key);
      cur.tensors[key] = std::move(t);
    } else {
      throw FixtureError(where() + ": unknown directive '" + kw + "'");
    }
  }
  if (open) throw FixtureError(file + ": case '" + cur.name + "' has no 'end'");
  return cases;
}

/// All cases of one family, from fixtures_dir() / "<family>.txt" (parsed once, then cached).
inline const std::vector<Case>& load_fixtures(const std::string& family) {
  static std::map<std::string, std::vector<Case>> cache;
  auto it = cache.find(family);
  if (it != cache.end()) return it->second;
  const std::filesystem::path path = fixtures_dir() / (family + ".txt");
  std::ifstream in(path);
  if (!in)
    throw FixtureError("module fixtures: cannot open " + path.string() +
                       " (run /usr/bin/python3 tests/golden_modules/make_module_fixtures.py)");
  std::vector<Case> cases = parse_fixtures(in, family, path.string());
  if (cases.empty()) throw FixtureError("module fixtures: " + path.string() + " holds no cases");
  return cache.emplace(family, std::move(cases)).first->second;
}

}  // namespace tg_golden_modules
