#pragma once
// Counter reservation shared by the random factories (factory.cpp) and the ops that draw random
// numbers inside their kernels (the fused attention's dropout, ops/attention.cpp).
#include <cstdint>

#include "tapegrad/core/random.h"

namespace tg::detail {

/// The generator to draw from (gen, or the default one when gen is null: gen is set to it) and
/// the first of n counters reserved for the draw. Reservations on the default generator are
/// serialised, so concurrent draws get disjoint counters.
std::uint64_t reserve_counters(Generator*& gen, std::uint64_t n);

}  // namespace tg::detail
