#pragma once
/// Everything in tapegrad's optim: the Optimizer base, SGD, Adam, AdamW, RMSprop, Adagrad,
/// learning-rate schedulers and gradient clipping. See docs/optim.md. (Checkpoints: tapegrad/train.h.)
#include "tapegrad/optim/adagrad.h"
#include "tapegrad/optim/adam.h"
#include "tapegrad/optim/clip_grad.h"
#include "tapegrad/optim/lr_scheduler.h"
#include "tapegrad/optim/optimizer.h"
#include "tapegrad/optim/rmsprop.h"
#include "tapegrad/optim/sgd.h"
