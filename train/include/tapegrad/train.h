#pragma once
/// tapegrad's train layer, above nn and optim: the data API (datasets, the DataLoader, the MNIST
/// and CIFAR-10 readers), the progress bar, metrics and plots (docs/data.md), and training
/// checkpoints (model, optimizer, scheduler, counters, generator) written atomically
/// (docs/serialization.md).
#include "tapegrad/train/checkpoint.h"
#include "tapegrad/train/data.h"
#include "tapegrad/train/datasets.h"
#include "tapegrad/train/metrics.h"
#include "tapegrad/train/progress.h"
