#pragma once
// The prelude of a test file of nn modules checked against PyTorch goldens
// (tests/nn/test_golden_modules.cpp, tests/nn/attention/...): Catch, the whole API, the fixture
// reader and the golden-module runner (tests/support/golden_module.h), the shared helpers, and
// the names these files use unqualified. Include it first; a file adds what it needs beyond it.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/golden_module.h"
#include "support/helpers.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_fixtures::Case;
using tg_test::error_of;
namespace nn = tg::nn;

/// A shape or any list of int64 values.
using Shape = std::vector<std::int64_t>;
