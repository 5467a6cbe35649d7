#include "tapegrad/nn/activation.h"

namespace tg::nn {

GELU::GELU(std::string approximate) : Cloneable("GELU"), approximate_(std::move(approximate)) {
  TG_CHECK(approximate_ == "none" || approximate_ == "tanh",
           "GELU: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate_);
}

std::int64_t implicit_softmax_dim(std::int64_t ndim) { return ndim == 0 || ndim == 1 || ndim == 3 ? 0 : 1; }

}  // namespace tg::nn
