#include "tapegrad/nn/serialize.h"

#include "tapegrad/core/safetensors.h"

namespace tg {

void save(const nn::Module& module, const std::string& path, const std::map<std::string, std::string>& metadata) {
  NamedTensors tensors;
  for (const auto& [name, value] : module.state_dict()) tensors.emplace_back(name, value);
  save_safetensors(path, tensors, metadata);
}

nn::StateDict load_state_dict(const std::string& path) {
  nn::StateDict state;
  for (auto& [name, value] : load_safetensors(path).tensors) state.insert(name, value);
  return state;
}

nn::IncompatibleKeys load(nn::Module& module, const std::string& path, bool strict) {
  return module.load_state_dict(load_state_dict(path), strict);
}

}  // namespace tg
