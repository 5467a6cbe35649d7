#pragma once
// The prelude of a test file of the core library (tests/core/test_<family>.cpp and the like):
// Catch and its matchers, the core API, the shared helpers (tests/support/helpers.h and
// op_helpers.h, all of namespace tg_test in scope) and the aliases these files use for shapes
// and input lists. Include it first; a file adds only the headers of what it tests beyond core.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "support/op_helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using tg::Tensor;
using namespace tg_test;  // NOLINT(google-build-using-namespace): test helpers, test files only

/// A shape or any list of int64 values (extents, indices, strides).
using Shape = std::vector<std::int64_t>;
using I64 = std::vector<std::int64_t>;
/// The inputs of a gradient check.
using Inputs = std::vector<Tensor>;
