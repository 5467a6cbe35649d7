#include "tapegrad/nn/activation.h"

namespace tg::nn {

GELU::GELU(std::string approximate) : Cloneable("GELU"), approximate_(std::move(approximate)) {
  TG_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: approximate must be \"none\" or \"tanh\", got \"{}\"",
           approximate_);
}

}  // namespace tg::nn
