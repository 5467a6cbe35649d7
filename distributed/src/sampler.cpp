// DistributedSampler: one permutation per epoch, shared by all ranks, dealt out round-robin.
#include "tapegrad/distributed/sampler.h"

#include <utility>

#include "tapegrad/distributed/comm.h"

namespace tg::distributed {

DistributedSampler::DistributedSampler(std::shared_ptr<const data::Dataset> dataset, std::uint64_t seed, bool shuffle,
                                       bool drop_last, int num_replicas, int rank)
    : dataset_(std::move(dataset)),
      seed_(seed),
      shuffle_(shuffle),
      drop_last_(drop_last),
      num_replicas_(num_replicas < 0 ? world_size() : num_replicas),
      rank_(rank < 0 ? distributed::rank() : rank) {
  TG_CHECK(dataset_ != nullptr, "DistributedSampler: the dataset is null");
  TG_CHECK(num_replicas_ >= 1, "DistributedSampler: num_replicas must be >= 1, got {}", num_replicas_);
  TG_CHECK(rank_ < num_replicas_, "DistributedSampler: rank {} is not in [0, {})", rank_, num_replicas_);
  set_epoch(0);
}

void DistributedSampler::set_epoch(std::int64_t epoch) {
  TG_CHECK(epoch >= 0, "DistributedSampler: set_epoch expects an epoch >= 0, got {}", epoch);
  epoch_ = epoch;
  const std::int64_t n = dataset_->size();
  const std::int64_t p = num_replicas_;
  // The DataLoader's own shuffle is a pure function of (seed, epoch): use it for the permutation.
  data::DataLoader order_of(dataset_, data::DataLoaderOptions(1).shuffle(shuffle_).seed(seed_).prefetch(false));
  std::vector<std::int64_t> order = order_of.order(epoch);
  const std::int64_t total = drop_last_ ? n / p * p : (n + p - 1) / p * p;
  if (!drop_last_ && n > 0) {
    for (std::int64_t i = n; i < total; ++i) order.push_back(order[static_cast<std::size_t>((i - n) % n)]);
  }
  order.resize(static_cast<std::size_t>(total));
  indices_.clear();
  for (std::int64_t i = rank_; i < total; i += p) indices_.push_back(order[static_cast<std::size_t>(i)]);
}

data::Example DistributedSampler::get(std::int64_t index) const {
  TG_CHECK(index >= 0 && index < size(), "DistributedSampler: index {} is out of range for a shard of {} examples",
           index, size());
  return dataset_->get(indices_[static_cast<std::size_t>(index)]);
}

}  // namespace tg::distributed
