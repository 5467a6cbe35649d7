#pragma once
/// Moved: the activations are in ops/activation.h; the math, statistics and dropout that this
/// header used to declare are in ops/elementwise.h, ops/reduce.h and ops/dropout.h.
/// This header is kept so that old includes compile for this release; include the family
/// headers under tapegrad/core/ops/ (see docs/internals.md).
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"
