#pragma once
/// tapegrad: everything a training program needs, in one include.
#include "tapegrad/core.h"
#include "tapegrad/nn.h"
#include "tapegrad/optim.h"
#include "tapegrad/train.h"
