#pragma once
/// tapegrad: everything a training program needs, in one include (and data-parallel training
/// over MPI, tapegrad/distributed.h, when tapegrad was built with MPI).
#include "tapegrad/core.h"
#include "tapegrad/nn.h"
#include "tapegrad/optim.h"
#include "tapegrad/train.h"
#if defined(TAPEGRAD_HAS_DISTRIBUTED)
#include "tapegrad/distributed.h"
#endif
