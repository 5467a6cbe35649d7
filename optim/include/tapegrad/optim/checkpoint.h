#pragma once
/// Moved: the training checkpoint is part of tapegrad's train/ layer now, above nn and optim.
/// This forwarding header keeps old includes compiling for this release.
#include "tapegrad/train/checkpoint.h"
