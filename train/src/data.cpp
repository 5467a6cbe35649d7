// Dataset, the two collates and the DataLoader. A pass over the data (DataLoader::Pass) owns the
// epoch's order, the current batch and, when prefetching, the task that builds the next one.
#include "tapegrad/train/data.h"

#include <algorithm>
#include <utility>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/background.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/core/random.h"

namespace tg::data {

// ---- TensorDataset -------------------------------------------------------------------------

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  TG_CHECK(!tensors_.empty(), "TensorDataset: expected at least one tensor");
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    TG_CHECK(tensors_[i].defined(), "TensorDataset: tensor {} is undefined", i);
    TG_CHECK(tensors_[i].dim() >= 1, "TensorDataset: tensor {} is 0-d; every tensor needs a first dim of examples", i);
    TG_CHECK(tensors_[i].size(0) == tensors_[0].size(0),
             "TensorDataset: every tensor needs the same number of examples in dim 0, got {} (tensor 0, shape {}) "
             "and {} (tensor {}, shape {})",
             tensors_[0].size(0), tensors_[0].shape(), tensors_[i].size(0), i, tensors_[i].shape());
  }
  size_ = tensors_[0].size(0);
}

Example TensorDataset::get(std::int64_t index) const {
  TG_CHECK(index >= 0 && index < size_, "TensorDataset: index {} is out of range for {} examples", index, size_);
  Example out;
  out.reserve(tensors_.size());
  for (const Tensor& t : tensors_) out.push_back(t.select(0, index));
  return out;
}

// ---- Batch and the collates -------------------------------------------------------------

const Tensor& Batch::operator[](std::int64_t i) const {
  const auto n = static_cast<std::int64_t>(fields.size());
  TG_CHECK(i >= -n && i < n, "Batch: field {} is out of range for a batch of {} fields", i, n);
  return fields[static_cast<std::size_t>(i < 0 ? i + n : i)];
}

namespace {

/// The examples' common field count (the error names the first example that differs).
std::size_t field_count(const std::vector<Example>& examples, const char* op) {
  TG_CHECK(!examples.empty(), "{}: no examples to collate", op);
  const std::size_t n = examples[0].size();
  for (std::size_t e = 1; e < examples.size(); ++e)
    TG_CHECK(examples[e].size() == n, "{}: example 0 has {} fields but example {} has {}", op, n, e,
             examples[e].size());
  return n;
}

Tensor stack_field(const std::vector<Example>& examples, std::size_t f, const char* op) {
  std::vector<Tensor> parts;
  parts.reserve(examples.size());
  for (std::size_t e = 0; e < examples.size(); ++e) {
    const Tensor& t = examples[e][f];
    TG_CHECK(t.defined(), "{}: field {} of example {} is undefined", op, f, e);
    const Tensor& first = examples[0][f];
    TG_CHECK(t.shape() == first.shape() && t.dtype() == first.dtype(),
             "{}: field {} has shape {} ({}) in example 0 but {} ({}) in example {}; to batch sequences of "
             "different lengths use pad_collate",
             op, f, first.shape(), dtype_name(first.dtype()), t.shape(), dtype_name(t.dtype()), e);
    parts.push_back(t);
  }
  return stack(parts, 0);
}

}  // namespace

Batch stack_collate(const std::vector<Example>& examples) {
  const std::size_t n = field_count(examples, "stack_collate");
  Batch batch;
  batch.fields.reserve(n);
  for (std::size_t f = 0; f < n; ++f) batch.fields.push_back(stack_field(examples, f, "stack_collate"));
  return batch;
}

Collate pad_collate(double padding_value, std::vector<std::int64_t> fields) {
  TG_CHECK(!fields.empty(), "pad_collate: expected at least one field to pad");
  return [padding_value, fields = std::move(fields)](const std::vector<Example>& examples) {
    constexpr const char* kOp = "pad_collate";
    const std::size_t n = field_count(examples, kOp);
    const auto B = static_cast<std::int64_t>(examples.size());
    std::vector<bool> padded(n, false);
    for (std::int64_t f : fields) {
      TG_CHECK(f >= 0 && f < static_cast<std::int64_t>(n), "{}: field {} is out of range for examples of {} fields",
               kOp, f, n);
      padded[static_cast<std::size_t>(f)] = true;
    }
    const auto lead = static_cast<std::size_t>(fields[0]);
    std::vector<std::int64_t> lengths(examples.size());
    for (std::size_t e = 0; e < examples.size(); ++e) {
      const Tensor& t = examples[e][lead];
      TG_CHECK(t.defined() && t.dim() >= 1, "{}: field {} of example {} must be a sequence [T, ...], got {}", kOp, lead,
               e, t.defined() ? fmt::format("shape {}", t.shape()) : std::string("an undefined tensor"));
      lengths[e] = t.size(0);
    }
    const std::int64_t T = B == 0 ? 0 : *std::max_element(lengths.begin(), lengths.end());

    Batch batch;
    batch.fields.resize(n);
    for (std::size_t f = 0; f < n; ++f) {
      if (!padded[f]) {
        batch.fields[f] = stack_field(examples, f, kOp);
        continue;
      }
      const Tensor& first = examples[0][f];
      for (std::size_t e = 0; e < examples.size(); ++e) {
        const Tensor& t = examples[e][f];
        TG_CHECK(t.defined() && t.dim() == first.dim() && t.dtype() == first.dtype(),
                 "{}: field {} must have the rank and dtype of example 0's ({} dims, {}) in every example; "
                 "example {} differs",
                 kOp, f, first.dim(), dtype_name(first.dtype()), e);
        for (std::int64_t d = 1; d < t.dim(); ++d)
          TG_CHECK(t.size(d) == first.size(d),
                   "{}: field {} needs the same trailing dims in every example, got {} (example 0) and {} "
                   "(example {})",
                   kOp, f, first.shape(), t.shape(), e);
        TG_CHECK(t.size(0) == lengths[e],
                 "{}: field {} of example {} has length {} but field {} has {}; padded fields must agree", kOp, f, e,
                 t.size(0), lead, lengths[e]);
      }
      std::vector<std::int64_t> full_shape{B, T};
      for (std::int64_t d = 1; d < first.dim(); ++d) full_shape.push_back(first.size(d));
      Tensor out = full(full_shape, padding_value, first.dtype());
      for (std::size_t e = 0; e < examples.size(); ++e)
        if (lengths[e] > 0) out.select(0, static_cast<std::int64_t>(e)).narrow(0, 0, lengths[e]).copy_(examples[e][f]);
      batch.fields[f] = out;
    }
    batch.lengths = from_vector(lengths, {B});
    std::vector<bool> mask(static_cast<std::size_t>(B * T));
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t t = 0; t < T; ++t)
        mask[static_cast<std::size_t>(b * T + t)] = t >= lengths[static_cast<std::size_t>(b)];
    batch.padding_mask = from_vector(mask, {B, T});
    return batch;
  };
}

// ---- DataLoader ------------------------------------------------------------------------------

struct DataLoader::Pass {
  std::shared_ptr<const Dataset> dataset;
  Collate collate;
  std::vector<std::int64_t> order;
  std::int64_t batch_size = 1, num_batches = 0;
  std::int64_t index = 0;  // of the current batch
  bool prefetch = true;
  Batch current;
  Batch next;                               // filled by `pending` (declared after it: the task
  std::unique_ptr<BackgroundTask> pending;  // is destroyed, so joined, before the batch it writes)

  Batch make(std::int64_t b) const {
    NoGradGuard no_grad;  // loading data records nothing, on whichever thread it runs
    const std::int64_t begin = b * batch_size;
    const std::int64_t end = std::min<std::int64_t>(begin + batch_size, static_cast<std::int64_t>(order.size()));
    std::vector<Example> examples;
    examples.reserve(static_cast<std::size_t>(end - begin));
    for (std::int64_t i = begin; i < end; ++i) examples.push_back(dataset->get(order[static_cast<std::size_t>(i)]));
    Batch batch = collate ? collate(examples) : stack_collate(examples);
    batch.indices.assign(order.begin() + begin, order.begin() + end);
    return batch;
  }

  void start_next() {
    const std::int64_t b = index + 1;
    if (!prefetch || b >= num_batches) return;
    pending = std::make_unique<BackgroundTask>([this, b] { next = make(b); });
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TG_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  TG_CHECK(options_.batch_size() >= 1, "DataLoader: batch_size must be at least 1, got {}", options_.batch_size());
  seed_ = options_.seed() ? *options_.seed() : default_generator().bits(default_generator().advance(1));
}

std::int64_t DataLoader::size() const {
  const std::int64_t n = dataset_->size(), b = options_.batch_size();
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(std::int64_t epoch) {
  TG_CHECK(epoch >= 0, "DataLoader: set_epoch expects an epoch >= 0, got {}", epoch);
  epoch_ = epoch;
}

std::vector<std::int64_t> DataLoader::order(std::int64_t epoch) const {
  const std::int64_t n = dataset_->size();
  TG_CHECK(n >= 0, "DataLoader: the dataset reports a negative size {}", n);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
  if (!options_.shuffle()) return idx;
  // Fisher-Yates with counters (epoch * n + i) of a generator seeded once: a pure function of
  // (seed, epoch). j = floor(bits * (i + 1) / 2^64) is uniform on [0, i] up to 2^-64.
  const Generator gen(seed_);
  const std::uint64_t base = static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(n);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto r = static_cast<unsigned __int128>(gen.bits(base + static_cast<std::uint64_t>(i))) *
                   static_cast<unsigned __int128>(i + 1);
    const auto j = static_cast<std::int64_t>(r >> 64);
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  return idx;
}

DataLoader::Iterator DataLoader::begin() {
  auto pass = std::make_shared<Pass>();
  pass->dataset = dataset_;
  pass->collate = options_.collate();
  pass->order = order(epoch_);
  pass->batch_size = options_.batch_size();
  pass->num_batches = size();
  ++epoch_;
  if (pass->num_batches == 0) return Iterator(pass);
  pass->prefetch = options_.prefetch();
  pass->current = pass->make(0);
  pass->start_next();
  return Iterator(pass);
}

const Batch& DataLoader::Iterator::operator*() const {
  TG_CHECK(pass_ && pass_->index < pass_->num_batches, "DataLoader: dereferenced an iterator past the last batch");
  return pass_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  TG_CHECK(pass_ && pass_->index < pass_->num_batches, "DataLoader: advanced an iterator past the last batch");
  Pass& p = *pass_;
  if (++p.index >= p.num_batches) {
    p.current = Batch();
    return *this;
  }
  if (p.pending) {
    p.pending->wait();  // rethrows what the dataset or the collate threw
    p.pending.reset();
    p.current = std::move(p.next);
    p.next = Batch();
  } else {
    p.current = p.make(p.index);
  }
  p.start_next();
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const {
  return !pass_ || pass_->index >= pass_->num_batches;
}

}  // namespace tg::data
