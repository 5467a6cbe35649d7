#pragma once
/// Everything in tapegrad's core: tensors, ops, autograd, random numbers, threads.
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/dtype.h"
#include "tapegrad/core/error.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/format.h"
#include "tapegrad/core/gradcheck.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/parallel.h"
#include "tapegrad/core/random.h"
#include "tapegrad/core/shape.h"
#include "tapegrad/core/tensor.h"
