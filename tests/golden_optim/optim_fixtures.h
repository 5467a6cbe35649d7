#pragma once
// Loader for the optim fixtures that tests/golden_optim/make_optim_fixtures.py writes with
// PyTorch (format described there): cases of numbers, words and float64 tensors. Header-only, so
// that the tests' CMake glob (tests/test_*.cpp) needs nothing else.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tapegrad/core.h"

namespace tg_golden_optim {

/// A malformed or missing fixture file, or a lookup of something a case does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoredTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;
};

struct Case {
  std::string name;
  std::string where;  // "<file>:<line>" of the `case` line
  std::map<std::string, std::vector<double>> nums;
  std::map<std::string, std::string> texts;
  std::map<std::string, StoredTensor> tensors;

  bool has_num(const std::string& key) const { return nums.count(key) != 0; }
  const std::vector<double>& numbers(const std::string& key) const {
    auto it = nums.find(key);
    if (it == nums.end()) throw FixtureError(where + ": case '" + name + "' has no num '" + key + "'");
    return it->second;
  }
  double num(const std::string& key) const {
    const auto& v = numbers(key);
    if (v.size() != 1) throw FixtureError(where + ": num '" + key + "' of case '" + name + "' is not one value");
    return v[0];
  }
  double num_or(const std::string& key, double fallback) const { return has_num(key) ? num(key) : fallback; }
  bool has_text(const std::string& key) const { return texts.count(key) != 0; }
  const std::string& text(const std::string& key) const {
    auto it = texts.find(key);
    if (it == texts.end()) throw FixtureError(where + ": case '" + name + "' has no text '" + key + "'");
    return it->second;
  }
  bool has_tensor(const std::string& key) const { return tensors.count(key) != 0; }
  const StoredTensor& stored(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw FixtureError(where + ": case '" + name + "' has no tensor '" + key + "'");
    return it->second;
  }
  /// A fresh float64 tensor (a leaf without grad).
  tg::Tensor tensor(const std::string& key) const {
    const StoredTensor& s = stored(key);
    return tg::from_vector(s.values, s.shape);
  }
};

inline std::filesystem::path fixture_dir() { return std::filesystem::path(__FILE__).parent_path() / "fixtures"; }

/// Every case of fixtures/<file>, in file order.
inline std::vector<Case> load(const std::string& file) {
  const std::filesystem::path path = fixture_dir() / file;
  std::ifstream in(path);
  if (!in) throw FixtureError("cannot open fixture file " + path.string() + " (run make_optim_fixtures.py)");
  std::vector<Case> cases;
  Case* current = nullptr;
  std::string line;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    throw FixtureError(path.filename().string() + ":" + std::to_string(line_no) + ": " + why);
  };
  auto parse_number = [&](const std::string& word) {
    char* end = nullptr;
    const double v = std::strtod(word.c_str(), &end);
    if (end == word.c_str() || *end != '\0') fail("not a number: '" + word + "'");
    return v;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind, key;
    words >> kind;
    if (kind == "case") {
      if (current) fail("case inside case '" + current->name + "'");
      words >> key;
      cases.push_back(Case{key, path.filename().string() + ":" + std::to_string(line_no), {}, {}, {}});
      current = &cases.back();
      continue;
    }
    if (!current) fail("'" + kind + "' outside a case");
    if (kind == "end") {
      current = nullptr;
    } else if (kind == "num") {
      words >> key;
      std::vector<double> values;
      for (std::string w; words >> w;) values.push_back(parse_number(w));
      if (values.empty()) fail("num '" + key + "' without values");
      current->nums[key] = values;
    } else if (kind == "text") {
      std::string word;
      words >> key >> word;
      if (word.empty()) fail("text '" + key + "' without a word");
      current->texts[key] = word;
    } else if (kind == "tensor") {
      StoredTensor t;
      std::int64_t ndim = -1;
      words >> key >> ndim;
      if (ndim < 0) fail("tensor '" + key + "' without a rank");
      std::int64_t numel = 1;
      for (std::int64_t d = 0; d < ndim; ++d) {
        std::int64_t size = -1;
        words >> size;
        if (size < 0) fail("tensor '" + key + "': missing or negative dim");
        t.shape.push_back(size);
        numel *= size;
      }
      while (static_cast<std::int64_t>(t.values.size()) < numel) {
        if (!std::getline(in, line)) fail("tensor '" + key + "' is truncated");
        ++line_no;
        std::istringstream vs(line);
        for (std::string w; vs >> w;) t.values.push_back(parse_number(w));
      }
      if (static_cast<std::int64_t>(t.values.size()) != numel) fail("tensor '" + key + "' has too many values");
      current->tensors[key] = std::move(t);
    } else {
      fail("unknown line kind '" + kind + "'");
    }
  }
  if (current) fail("case '" + current->name + "' is not closed");
  return cases;
}

/// The case of that name in a list.
inline const Case& find(const std::vector<Case>& cases, const std::string& name) {
  for (const Case& c : cases) {
    if (c.name == name) return c;
  }
  throw FixtureError("no fixture case '" + name + "'");
}

}  // namespace tg_golden_optim
