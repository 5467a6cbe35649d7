#pragma once
/// tapegrad's train layer, above nn and optim: training checkpoints (model, optimizer, scheduler,
/// counters, generator) written atomically. See docs/serialization.md.
#include "tapegrad/train/checkpoint.h"
