#pragma once
/// A training checkpoint: the model's state dict, the optimizer's and a scheduler's state, the
/// epoch and step counters, the default random generator's state and the user's own strings, in
/// one safetensors file. Written atomically: the file goes to a temporary in the same folder, is
/// fsync'd and renamed over the old one, so a crash at any byte of a save leaves the previous
/// checkpoint loadable.
///
///   tg::Checkpoint ck;
///   ck.model = model.state_dict();
///   ck.optimizer = opt.state_dict();
///   ck.scheduler = sched.state_dict();
///   ck.epoch = epoch;
///   ck.rng = tg::default_generator();
///   tg::save_checkpoint(ck, "run.ckpt");
///
///   tg::Checkpoint back = tg::load_checkpoint("run.ckpt");
///   model.load_state_dict(back.model);
///   opt.load_state_dict(*back.optimizer);
///   sched.load_state_dict(*back.scheduler);
///   tg::default_generator() = *back.rng;
///
/// Layout, readable from Python with json + numpy: the model's tensors under "model.<key>", the
/// optimizer's state tensors under "optimizer.state.<param>.<name>", and everything else in the
/// header's string metadata ("format", "epoch", "step", "rng", "optimizer.*", "scheduler.*",
/// "user.*"). Numbers are written in their shortest exact decimal form, so they read back bit
/// for bit (inf and nan included). See docs/serialization.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tapegrad/core/random.h"
#include "tapegrad/nn/module.h"
#include "tapegrad/optim/lr_scheduler.h"
#include "tapegrad/optim/optimizer.h"

namespace tg {

struct Checkpoint {
  nn::StateDict model;
  std::optional<optim::OptimizerState> optimizer;
  /// An LRScheduler's or ReduceLROnPlateau's state_dict().
  std::optional<optim::SchedulerState> scheduler;
  std::int64_t epoch = 0;
  std::int64_t step = 0;
  /// A random generator's state (seed and offset), usually a copy of tg::default_generator().
  std::optional<Generator> rng;
  /// The user's own entries.
  std::map<std::string, std::string> metadata;
};

/// Writes the checkpoint to path atomically. Metadata keys must be non-empty.
void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);

/// Reads a checkpoint that save_checkpoint wrote; the file is validated first, and a missing or
/// malformed entry is a tg::Error naming the file and the entry.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace tg
