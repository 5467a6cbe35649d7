#pragma once
/// The tensor math in one include: every op family of the core (one header per family under
/// tapegrad/core/ops/, each with its source file under core/src/ops/; docs/internals.md has the
/// map). Ops have PyTorch's names and semantics; dims may be negative.
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/attention.h"
#include "tapegrad/core/ops/conv.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/linalg.h"
#include "tapegrad/core/ops/loss.h"
#include "tapegrad/core/ops/norm.h"
#include "tapegrad/core/ops/pool.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/core/ops/rnn.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/core/ops/softmax.h"
#include "tapegrad/core/ops/upsample.h"
