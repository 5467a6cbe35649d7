#pragma once
/// tapegrad::distributed: data-parallel training over MPI (built when CMake finds MPI).
/// See docs/distributed.md.
#include "tapegrad/distributed/checkpoint.h"
#include "tapegrad/distributed/comm.h"
#include "tapegrad/distributed/ddp.h"
#include "tapegrad/distributed/sampler.h"
