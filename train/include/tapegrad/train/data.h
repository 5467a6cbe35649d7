#pragma once
/// The data API: a Dataset hands out examples, a DataLoader groups them into batches.
///
///   auto data = std::make_shared<tg::data::TensorDataset>(std::vector{images, labels});
///   tg::data::DataLoader loader(data, tg::data::DataLoaderOptions(64).shuffle(true).seed(7));
///   for (int epoch = 0; epoch < 10; ++epoch)
///     for (const tg::data::Batch& batch : loader) {  // each pass is the next epoch
///       tg::Tensor x = batch[0], y = batch[1];
///       ...
///     }
///
/// An example is a list of tensors (its fields, e.g. input then target); a batch holds each
/// field stacked along a new first dim. For sequences of different lengths, pad_collate pads
/// them and adds each one's length and a padding mask (true = padding, the attention modules'
/// convention). The order of an epoch is a pure function of (seed, epoch), so a run resumed at
/// epoch e (set_epoch) sees the same batches as a run that never stopped. While the caller
/// works on one batch, the next is prepared on tapegrad's threads (a BackgroundTask).
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/core/tensor.h"

namespace tg::data {

/// One example: its fields in order (for instance {input, target}).
using Example = std::vector<Tensor>;

/// A collection of examples. get() may be called from another thread than the one that made
/// the dataset (the loader prefetches), so it must not change shared state without a lock.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  /// Example `index`, 0 <= index < size().
  virtual Example get(std::int64_t index) const = 0;
};

/// Examples cut from tensors along their first dim: example i is {t[i] for t in tensors}.
class TensorDataset : public Dataset {
 public:
  /// Every tensor needs the same size in dim 0 (the number of examples), and at least one dim.
  explicit TensorDataset(std::vector<Tensor> tensors);
  std::int64_t size() const override { return size_; }
  Example get(std::int64_t index) const override;
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
  std::int64_t size_ = 0;
};

/// A batch: each field of its examples stacked (or padded) along a new first dim.
struct Batch {
  std::vector<Tensor> fields;
  /// int64 [B]: each padded sequence's length before padding (pad_collate only).
  Tensor lengths;
  /// bool [B, T]: true at the padded positions (pad_collate only), the mask the attention modules take.
  Tensor padding_mask;
  /// The dataset indices of the examples, in batch order.
  std::vector<std::int64_t> indices;

  /// Number of examples (from indices, or field 0's first dim for a batch made by a collate
  /// called directly).
  std::int64_t size() const {
    if (!indices.empty()) return static_cast<std::int64_t>(indices.size());
    return fields.empty() || !fields[0].defined() || fields[0].dim() == 0 ? 0 : fields[0].size(0);
  }
  /// Field i (negative counts from the end); out of range is a tg::Error.
  const Tensor& operator[](std::int64_t i) const;
};

/// Turns the examples of one batch into a Batch (the loader fills in `indices` afterwards).
using Collate = std::function<Batch(const std::vector<Example>&)>;

/// The default collate: field i of every example stacked into [B, ...]. The examples need the
/// same number of fields and equal shapes per field (the error names the first that differs).
Batch stack_collate(const std::vector<Example>& examples);

/// A collate for sequences of different lengths: each field listed in `fields` has shape
/// [T_i, ...] (equal trailing dims) and is padded with padding_value to [B, T_max, ...]; the
/// other fields are stacked. lengths and padding_mask come from the first listed field (the
/// listed fields must agree on T_i per example). A sequence of length 0 is allowed: its row of
/// the mask is all true.
Collate pad_collate(double padding_value = 0.0, std::vector<std::int64_t> fields = {0});

struct DataLoaderOptions : public ChainedOptions<DataLoaderOptions> {
  explicit DataLoaderOptions(std::int64_t batch_size = 1) : batch_size_(batch_size) {}
  DataLoaderOptions& batch_size(std::int64_t n) { return assign(batch_size_, n); }
  /// A new order every epoch, from the seed.
  DataLoaderOptions& shuffle(bool on) { return assign(shuffle_, on); }
  /// Drop the last batch when it holds fewer than batch_size examples.
  DataLoaderOptions& drop_last(bool on) { return assign(drop_last_, on); }
  /// Seed of the shuffle; without one, the loader draws it from tg::default_generator() when it
  /// is made (so tg::manual_seed reproduces the order too).
  DataLoaderOptions& seed(std::uint64_t s) { return assign(seed_, s); }
  /// Prepare the next batch in the background while the current one is used.
  DataLoaderOptions& prefetch(bool on) { return assign(prefetch_, on); }
  /// How examples become a batch (stack_collate by default; pad_collate for sequences).
  DataLoaderOptions& collate(Collate fn) { return assign(collate_, std::move(fn)); }

  std::int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  bool drop_last() const { return drop_last_; }
  const std::optional<std::uint64_t>& seed() const { return seed_; }
  bool prefetch() const { return prefetch_; }
  const Collate& collate() const { return collate_; }

 private:
  std::int64_t batch_size_;
  bool shuffle_ = false, drop_last_ = false, prefetch_ = true;
  std::optional<std::uint64_t> seed_;
  Collate collate_;
};

/// Batches of a dataset, one epoch per range-for pass. Each begin() starts epoch epoch() and
/// moves the counter on, so `for (epoch ...) for (batch : loader)` reshuffles every epoch;
/// set_epoch(e) makes the next pass epoch e (to resume a run). Only one pass may be in flight
/// at a time per loader.
class DataLoader {
 public:
  struct Pass;  // the state of one pass over the data (defined in data.cpp)

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    Iterator() = default;
    const Batch& operator*() const;
    const Batch* operator->() const { return &**this; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const;

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Pass> pass) : pass_(std::move(pass)) {}
    std::shared_ptr<Pass> pass_;
  };

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = DataLoaderOptions());

  /// Starts the pass over epoch epoch() and advances the epoch counter.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

  /// Batches per epoch (len(loader) in PyTorch).
  std::int64_t size() const;
  /// The epoch the next pass will be.
  std::int64_t epoch() const { return epoch_; }
  void set_epoch(std::int64_t epoch);
  /// The dataset indices in the order of `epoch` (0, 1, ..., n-1 without shuffle).
  std::vector<std::int64_t> order(std::int64_t epoch) const;
  /// The seed of the shuffle (given, or drawn when the loader was made).
  std::uint64_t seed() const { return seed_; }
  const DataLoaderOptions& options() const { return options_; }
  const std::shared_ptr<const Dataset>& dataset() const { return dataset_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::uint64_t seed_ = 0;
  std::int64_t epoch_ = 0;
};

}  // namespace tg::data
