#pragma once
/// Checkpoints in a distributed run: rank 0 writes (atomically, as tg::save_checkpoint does),
/// every rank reads. Both are collective.
///
///   tg::distributed::save_checkpoint(ck, "run.ckpt");     // rank 0 writes; all return after
///   tg::Checkpoint back = tg::distributed::load_checkpoint("run.ckpt");
#include <string>

#include "tapegrad/train/checkpoint.h"

namespace tg::distributed {

/// Rank 0 writes checkpoint to path with tg::save_checkpoint; the others pass their own
/// checkpoint for nothing (the replicas are equal). Returns on every rank once the file is in
/// place; a failure on rank 0 is a tg::Error with rank 0's message on every rank.
void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);
/// Every rank reads path (after the ranks meet, so a save just before is complete).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace tg::distributed
