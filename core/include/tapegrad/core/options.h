#pragma once
/// ChainedOptions: the base of tapegrad's options structs (LinearOptions, ConvOptions,
/// StepLROptions, ...), which gives their chained setters a one-line body:
///
///   struct ConvOptions : ChainedOptions<ConvOptions> {
///     ConvOptions& stride(Int2 s) { return assign(stride_, s); }
///     ...
///   };
///
/// so that `ConvOptions(3, 16, 3).stride(2).padding(1)` reads as in PyTorch's C++ frontend,
/// without a macro layer. Checks that need several options stay in the struct or its module.
#include <utility>

namespace tg {

template <typename Derived>
class ChainedOptions {
 protected:
  /// member = value, then the options themselves, for the next setter in the chain.
  template <typename T, typename V>
  Derived& assign(T& member, V&& value) {
    member = std::forward<V>(value);
    return static_cast<Derived&>(*this);
  }
};

}  // namespace tg
