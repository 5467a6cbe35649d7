#pragma once
/// Moved to ops/rnn.h.
/// This header is kept so that old includes compile for this release; include the family
/// headers under tapegrad/core/ops/ (see docs/internals.md).
#include "tapegrad/core/ops/rnn.h"
