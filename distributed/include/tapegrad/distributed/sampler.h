#pragma once
/// DistributedSampler: this rank's shard of a dataset, as a Dataset the DataLoader batches.
///
///   auto shard = std::make_shared<tg::distributed::DistributedSampler>(dataset, /*seed=*/7);
///   tg::data::DataLoader loader(shard, tg::data::DataLoaderOptions(32).shuffle(false));
///   for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
///     shard->set_epoch(epoch);          // a new permutation, the same on every rank
///     for (const auto& batch : loader) ...
///   }
///
/// Every epoch the dataset's indices are permuted from (seed, epoch), the same way on every
/// rank, padded by repeating the first indices until their count divides by the number of
/// replicas (or cut to a multiple with drop_last), and rank r takes positions r, r + p, r + 2p,
/// ...: the shards are disjoint (but for the padding) and of equal size, so every rank runs the
/// same number of steps. The loader's own shuffle stays off: the sampler shuffles.
#include <cstdint>
#include <memory>
#include <vector>

#include "tapegrad/train/data.h"

namespace tg::distributed {

class DistributedSampler : public data::Dataset {
 public:
  /// num_replicas and rank default to world_size() and rank().
  DistributedSampler(std::shared_ptr<const data::Dataset> dataset, std::uint64_t seed = 0, bool shuffle = true,
                     bool drop_last = false, int num_replicas = -1, int rank = -1);

  /// Chooses the epoch's permutation (call before each epoch's pass, on every rank).
  void set_epoch(std::int64_t epoch);
  std::int64_t epoch() const { return epoch_; }
  /// This rank's dataset indices for the current epoch.
  const std::vector<std::int64_t>& indices() const { return indices_; }

  /// The shard's size: ceil(n / p) (floor(n / p) with drop_last).
  std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }
  data::Example get(std::int64_t index) const override;

  int num_replicas() const { return num_replicas_; }
  int rank() const { return rank_; }

 private:
  std::shared_ptr<const data::Dataset> dataset_;
  std::uint64_t seed_;
  bool shuffle_, drop_last_;
  int num_replicas_, rank_;
  std::int64_t epoch_ = 0;
  std::vector<std::int64_t> indices_;
};

}  // namespace tg::distributed
