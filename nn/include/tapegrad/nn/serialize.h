#pragma once
/// Saving and loading a module's weights as safetensors with PyTorch's key names, so that one
/// line moves them either way:
///
///   tg::save(model, "model.safetensors");   // C++ -> file -> torch (see docs/serialization.md)
///   tg::load(model, "model.safetensors");   // a file torch wrote -> C++
///
/// The file holds exactly model.state_dict(): parameters and buffers under their dotted names.
/// Saving is atomic (a crash leaves the previous file in place); loading validates the file
/// before reading it and then goes through load_state_dict, whose errors name missing,
/// unexpected and misshapen keys.
#include <map>
#include <string>

#include "tapegrad/nn/module.h"

namespace tg {

/// Writes module.state_dict() to path as safetensors, with optional string metadata.
void save(const nn::Module& module, const std::string& path, const std::map<std::string, std::string>& metadata = {});

/// Loads a safetensors file into module by name (strict: every key must match, same shapes; not
/// strict: the keys that did not match are returned). Values are converted to each parameter's
/// dtype (a float64 file loads into a float32 model); a 0-d entry accepts a tensor of shape [1].
nn::IncompatibleKeys load(nn::Module& module, const std::string& path, bool strict = true);

/// The tensors of a safetensors file as a StateDict, in file order.
nn::StateDict load_state_dict(const std::string& path);

}  // namespace tg
