// A checkpoint is one safetensors file: tensors under prefixed names, every other value a
// string in the header's metadata. The encoding below is the whole format; load_checkpoint
// reads back exactly what save_checkpoint writes and names the entry whenever it cannot.
#include "tapegrad/train/checkpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "tapegrad/core/safetensors.h"

namespace tg {

namespace {

constexpr std::string_view kFormat = "tapegrad.checkpoint";
constexpr std::string_view kVersion = "1";
constexpr std::string_view kModel = "model.";
constexpr std::string_view kOptimizerState = "optimizer.state.";
constexpr std::string_view kScheduler = "scheduler.";
constexpr std::string_view kUser = "user.";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

/// The shortest decimal that reads back as the same double ("inf", "-inf" and "nan" included).
std::string format_number(double v) { return fmt::format("{}", v); }

std::string format_list(const std::vector<double>& values) { return fmt::format("{}", fmt::join(values, ",")); }

/// Reads the metadata of one checkpoint file, naming the file and the entry in every error.
class Reader {
 public:
  Reader(const std::string& path, const std::map<std::string, std::string>& metadata)
      : path_(path), metadata_(metadata) {}

  const std::string& text(const std::string& key) const {
    auto it = metadata_.find(key);
    TG_CHECK(it != metadata_.end(), "load_checkpoint: '{}' has no entry '{}'", path_, key);
    return it->second;
  }

  double number(const std::string& key, std::string_view text) const {
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    TG_CHECK(ec == std::errc() && ptr == end, "load_checkpoint: '{}': entry '{}' has '{}', not a number", path_, key,
             text);
    return v;
  }
  double number(const std::string& key) const { return number(key, text(key)); }

  std::int64_t integer(const std::string& key, std::string_view text) const {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    TG_CHECK(ec == std::errc() && ptr == end, "load_checkpoint: '{}': entry '{}' has '{}', not an integer", path_, key,
             text);
    return v;
  }
  std::int64_t integer(const std::string& key) const { return integer(key, text(key)); }

  std::uint64_t unsigned_integer(const std::string& key, std::string_view text) const {
    std::uint64_t v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    TG_CHECK(ec == std::errc() && ptr == end, "load_checkpoint: '{}': entry '{}' has '{}', not an unsigned integer",
             path_, key, text);
    return v;
  }

  /// A comma-separated list ("" is the empty list).
  std::vector<std::string_view> split(const std::string& key) const {
    std::vector<std::string_view> parts;
    std::string_view rest = text(key);
    if (rest.empty()) return parts;
    for (;;) {
      const std::size_t comma = rest.find(',');
      parts.push_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return parts;
  }

  const std::string& path() const { return path_; }

 private:
  const std::string& path_;
  const std::map<std::string, std::string>& metadata_;
};

void write_optimizer(const optim::OptimizerState& state, NamedTensors& tensors,
                     std::map<std::string, std::string>& meta) {
  meta["optimizer"] = state.optimizer;
  meta["optimizer.groups"] = std::to_string(state.groups.size());
  for (std::size_t g = 0; g < state.groups.size(); ++g) {
    const std::string prefix = fmt::format("optimizer.group.{}.", g);
    meta[prefix + "params"] = fmt::format("{}", fmt::join(state.groups[g].params, ","));
    std::vector<std::string> names;
    for (const auto& [name, value] : state.groups[g].options) {
      TG_CHECK(!name.empty() && name.find(',') == std::string::npos,
               "save_checkpoint: optimizer option name '{}' is empty or has a comma", name);
      meta[prefix + "option." + name] = format_number(value);
      names.push_back(name);
    }
    meta[prefix + "options"] = fmt::format("{}", fmt::join(names, ","));
  }
  std::vector<std::int64_t> with_state;
  for (const optim::OptimizerState::Entry& entry : state.state) {
    with_state.push_back(entry.param);
    std::vector<std::string> names;
    for (const auto& [name, value] : entry.tensors) {
      TG_CHECK(!name.empty() && name.find(',') == std::string::npos,
               "save_checkpoint: optimizer state name '{}' is empty or has a comma", name);
      tensors.emplace_back(fmt::format("{}{}.{}", kOptimizerState, entry.param, name), value);
      names.push_back(name);
    }
    meta[fmt::format("optimizer.entry.{}", entry.param)] = fmt::format("{}", fmt::join(names, ","));
  }
  meta["optimizer.entries"] = fmt::format("{}", fmt::join(with_state, ","));
}

optim::OptimizerState read_optimizer(const Reader& r, const SafetensorsFile& file) {
  optim::OptimizerState state;
  state.optimizer = r.text("optimizer");
  const std::int64_t groups = r.integer("optimizer.groups");
  TG_CHECK(groups >= 0 && groups <= 1 << 20, "load_checkpoint: '{}': entry 'optimizer.groups' has {} groups", r.path(),
           groups);
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::string prefix = fmt::format("optimizer.group.{}.", g);
    optim::OptimizerState::Group group;
    for (std::string_view p : r.split(prefix + "params")) group.params.push_back(r.integer(prefix + "params", p));
    for (std::string_view name : r.split(prefix + "options")) {
      const std::string key = prefix + "option." + std::string(name);
      group.options[std::string(name)] = r.number(key);
    }
    state.groups.push_back(std::move(group));
  }
  // The file's tensors by name, once: a lookup per state tensor would make the load quadratic.
  std::unordered_map<std::string_view, const Tensor*> by_name;
  by_name.reserve(file.tensors.size());
  for (const auto& [name, t] : file.tensors) by_name.emplace(name, &t);
  for (std::string_view p : r.split("optimizer.entries")) {
    optim::OptimizerState::Entry entry;
    entry.param = r.integer("optimizer.entries", p);
    const std::string key = fmt::format("optimizer.entry.{}", entry.param);
    for (std::string_view name : r.split(key)) {
      const std::string tensor_name = fmt::format("{}{}.{}", kOptimizerState, entry.param, name);
      const auto it = by_name.find(tensor_name);
      TG_CHECK(it != by_name.end(), "load_checkpoint: '{}' has no tensor '{}' (listed in '{}')", r.path(), tensor_name,
               key);
      entry.tensors.emplace_back(std::string(name), *it->second);
    }
    state.state.push_back(std::move(entry));
  }
  return state;
}

void write_scheduler(const optim::SchedulerState& state, std::map<std::string, std::string>& meta) {
  std::vector<std::string> names;
  for (const auto& [name, values] : state.values) {
    TG_CHECK(!name.empty() && name.find(',') == std::string::npos,
             "save_checkpoint: scheduler entry name '{}' is empty or has a comma", name);
    meta[std::string(kScheduler) + name] = format_list(values);
    names.push_back(name);
  }
  meta["scheduler"] = fmt::format("{}", fmt::join(names, ","));
}

optim::SchedulerState read_scheduler(const Reader& r) {
  optim::SchedulerState state;
  for (std::string_view name : r.split("scheduler")) {
    const std::string key = std::string(kScheduler) + std::string(name);
    std::vector<double>& values = state.values[std::string(name)];
    for (std::string_view v : r.split(key)) values.push_back(r.number(key, v));
  }
  return state;
}

}  // namespace

void save_checkpoint(const Checkpoint& ck, const std::string& path) {
  NamedTensors tensors;
  std::map<std::string, std::string> meta;
  meta["format"] = kFormat;
  meta["format_version"] = kVersion;
  meta["epoch"] = std::to_string(ck.epoch);
  meta["step"] = std::to_string(ck.step);
  for (const auto& [name, value] : ck.model) tensors.emplace_back(std::string(kModel) + name, value);
  if (ck.optimizer) write_optimizer(*ck.optimizer, tensors, meta);
  if (ck.scheduler) write_scheduler(*ck.scheduler, meta);
  if (ck.rng) meta["rng"] = fmt::format("{},{}", ck.rng->seed(), ck.rng->offset());
  for (const auto& [key, value] : ck.metadata) {
    TG_CHECK(!key.empty(), "save_checkpoint: a metadata key is empty");
    meta[std::string(kUser) + key] = value;
  }
  save_safetensors(path, tensors, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const Reader r(path, file.metadata);
  auto format = file.metadata.find("format");
  TG_CHECK(format != file.metadata.end() && format->second == kFormat,
           "load_checkpoint: '{}' is not a tapegrad checkpoint (its metadata has no format '{}')", path, kFormat);
  TG_CHECK(r.text("format_version") == kVersion, "load_checkpoint: '{}' has format version '{}'; this build reads '{}'",
           path, r.text("format_version"), kVersion);

  Checkpoint ck;
  ck.epoch = r.integer("epoch");
  ck.step = r.integer("step");
  for (const auto& [name, value] : file.tensors) {
    if (starts_with(name, kModel)) {
      ck.model.insert(name.substr(kModel.size()), value);
    } else {
      TG_CHECK(starts_with(name, kOptimizerState), "load_checkpoint: '{}' has an unexpected tensor '{}'", path, name);
    }
  }
  if (file.metadata.count("optimizer")) ck.optimizer = read_optimizer(r, file);
  if (file.metadata.count("scheduler")) ck.scheduler = read_scheduler(r);
  if (file.metadata.count("rng")) {
    const std::vector<std::string_view> parts = r.split("rng");
    TG_CHECK(parts.size() == 2, "load_checkpoint: '{}': entry 'rng' has '{}', expected 'seed,offset'", path,
             r.text("rng"));
    Generator g;
    g.set_state(r.unsigned_integer("rng", parts[0]), r.unsigned_integer("rng", parts[1]));
    ck.rng = g;
  }
  for (const auto& [key, value] : file.metadata)
    if (starts_with(key, kUser)) ck.metadata[key.substr(kUser.size())] = value;
  return ck;
}

}  // namespace tg
