#pragma once
/// Moved to ops/conv.h and ops/pool.h.
/// This header is kept so that old includes compile for this release; include the family
/// headers under tapegrad/core/ops/ (see docs/internals.md).
#include "tapegrad/core/ops/conv.h"
#include "tapegrad/core/ops/pool.h"
