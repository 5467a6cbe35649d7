#pragma once
/// Everything in tapegrad's nn: modules, containers, layers, losses, initialisers.
#include "tapegrad/nn/activation.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/conv.h"
#include "tapegrad/nn/embedding.h"
#include "tapegrad/nn/functional.h"
#include "tapegrad/nn/init.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/loss.h"
#include "tapegrad/nn/module.h"
#include "tapegrad/nn/normalization.h"
#include "tapegrad/nn/rnn.h"
