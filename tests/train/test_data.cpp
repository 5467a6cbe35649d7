// The data API: TensorDataset, the collates, the DataLoader (order, epochs, drop_last,
// prefetch, errors from a dataset on the background thread) and its bad inputs.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>

#include "support/helpers.h"
#include "tapegrad/tapegrad.h"
#include "tapegrad/train/data.h"

using namespace tg;
using namespace tg::data;
using Catch::Matchers::Contains;
using tg_test::error_of;

namespace {

/// 0, 1, ..., n-1 as examples {x = [i, 10 i] float32, y = i int64}.
std::shared_ptr<TensorDataset> counting(std::int64_t n) {
  std::vector<float> xs;
  std::vector<std::int64_t> ys;
  for (std::int64_t i = 0; i < n; ++i) {
    xs.push_back(static_cast<float>(i));
    xs.push_back(static_cast<float>(10 * i));
    ys.push_back(i);
  }
  return std::make_shared<TensorDataset>(std::vector<Tensor>{from_vector(xs, {n, 2}), from_vector(ys, {n})});
}

/// Every batch's labels, in order, for one pass.
std::vector<std::vector<std::int64_t>> labels_of(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (const Batch& b : loader) out.push_back(b[1].to_vector<std::int64_t>());
  return out;
}

/// Sequences of lengths `lengths`: example i is {tokens [len_i] int64 = i*100 + t, label i}.
class Sequences : public Dataset {
 public:
  explicit Sequences(std::vector<std::int64_t> lengths) : lengths_(std::move(lengths)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(lengths_.size()); }
  Example get(std::int64_t i) const override {
    std::vector<std::int64_t> tokens;
    for (std::int64_t t = 0; t < lengths_[static_cast<std::size_t>(i)]; ++t) tokens.push_back(i * 100 + t);
    return {from_vector(tokens, {static_cast<std::int64_t>(tokens.size())}),
            scalar_tensor(static_cast<double>(i), kInt64)};
  }

 private:
  std::vector<std::int64_t> lengths_;
};

/// A dataset whose example `bad` throws.
class Faulty : public Dataset {
 public:
  explicit Faulty(std::int64_t bad) : bad_(bad) {}
  std::int64_t size() const override { return 8; }
  Example get(std::int64_t i) const override {
    TG_CHECK(i != bad_, "Faulty: example {} cannot be read", i);
    return {scalar_tensor(static_cast<double>(i))};
  }

 private:
  std::int64_t bad_;
};

}  // namespace

TEST_CASE("TensorDataset cuts its tensors along dim 0", "[data]") {
  auto ds = counting(5);
  REQUIRE(ds->size() == 5);
  Example e = ds->get(3);
  REQUIRE(e.size() == 2);
  CHECK(e[0].to_vector<float>() == std::vector<float>{3, 30});
  CHECK(e[1].item<std::int64_t>() == 3);
  CHECK_TG_ERROR(ds->get(5), Contains("TensorDataset: index 5 is out of range for 5 examples"));
  CHECK_TG_ERROR(ds->get(-1), Contains("index -1 is out of range"));
  CHECK_TG_ERROR(TensorDataset({zeros({3, 2}), zeros({4})}),
                 Contains("same number of examples in dim 0, got 3 (tensor 0, shape [3, 2]) and 4 (tensor 1"));
  CHECK_TG_ERROR(TensorDataset({}), Contains("TensorDataset: expected at least one tensor"));
  CHECK_TG_ERROR(TensorDataset({scalar_tensor(1.0)}), Contains("tensor 0 is 0-d"));
}

TEST_CASE("DataLoader without shuffle gives the examples in order, the last batch short", "[data]") {
  DataLoader loader(counting(10), DataLoaderOptions(4));
  CHECK(loader.size() == 3);
  std::vector<std::vector<std::int64_t>> want{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}};
  CHECK(labels_of(loader) == want);
  // The stacked inputs follow the labels, and a batch knows its dataset indices.
  for (const Batch& b : loader) {
    REQUIRE(b[0].dim() == 2);
    CHECK(b[0].size(1) == 2);
    const auto x = b[0].to_vector<float>();
    for (std::int64_t i = 0; i < b.size(); ++i)
      CHECK(x[static_cast<std::size_t>(2 * i + 1)] ==
            10.0f * static_cast<float>(b.indices[static_cast<std::size_t>(i)]));
  }
}

TEST_CASE("DataLoader drop_last, a batch larger than the dataset and an empty dataset", "[data]") {
  DataLoader dropping(counting(10), DataLoaderOptions(4).drop_last(true));
  CHECK(dropping.size() == 2);
  CHECK(labels_of(dropping).size() == 2);

  DataLoader big(counting(3), DataLoaderOptions(100));
  CHECK(big.size() == 1);
  CHECK(labels_of(big) == std::vector<std::vector<std::int64_t>>{{0, 1, 2}});
  DataLoader big_dropped(counting(3), DataLoaderOptions(100).drop_last(true));
  CHECK(big_dropped.size() == 0);
  CHECK(labels_of(big_dropped).empty());

  DataLoader empty(std::make_shared<Sequences>(std::vector<std::int64_t>{}), DataLoaderOptions(2));
  CHECK(empty.size() == 0);
  int n = 0;
  for (const Batch& b : empty) n += static_cast<int>(b.size());
  CHECK(n == 0);
}

TEST_CASE("DataLoader shuffle: a permutation per epoch, a pure function of seed and epoch", "[data]") {
  DataLoader a(counting(50), DataLoaderOptions(8).shuffle(true).seed(11));
  DataLoader b(counting(50), DataLoaderOptions(8).shuffle(true).seed(11));
  const auto e0 = labels_of(a), e1 = labels_of(a);
  CHECK(e0 != e1);  // a new order each pass
  CHECK(labels_of(b) == e0);
  CHECK(labels_of(b) == e1);
  std::multiset<std::int64_t> seen;
  for (const auto& batch : e0) seen.insert(batch.begin(), batch.end());
  CHECK(seen.size() == 50);
  CHECK(std::set<std::int64_t>(seen.begin(), seen.end()).size() == 50);
  // Resuming: a fresh loader set to epoch 1 replays epoch 1.
  DataLoader resumed(counting(50), DataLoaderOptions(8).shuffle(true).seed(11));
  resumed.set_epoch(1);
  CHECK(labels_of(resumed) == e1);
  CHECK(resumed.epoch() == 2);
  // Another seed, another order; no seed: drawn from the default generator, so manual_seed repeats it.
  DataLoader other(counting(50), DataLoaderOptions(8).shuffle(true).seed(12));
  CHECK(labels_of(other) != e0);
  manual_seed(5);
  DataLoader c(counting(50), DataLoaderOptions(8).shuffle(true));
  manual_seed(5);
  DataLoader d(counting(50), DataLoaderOptions(8).shuffle(true));
  CHECK(c.seed() == d.seed());
  CHECK(labels_of(c) == labels_of(d));
}

TEST_CASE("DataLoader with and without prefetch gives the same batches", "[data][threads]") {
  DataLoader pre(counting(37), DataLoaderOptions(5).shuffle(true).seed(3).prefetch(true));
  DataLoader plain(counting(37), DataLoaderOptions(5).shuffle(true).seed(3).prefetch(false));
  for (int epoch = 0; epoch < 3; ++epoch) CHECK(labels_of(pre) == labels_of(plain));
  // Leaving a pass early joins the batch being prepared.
  for (const Batch& b : pre) {
    CHECK(b.size() == 5);
    break;
  }
}

TEST_CASE("DataLoader: an error in the dataset reaches the loop, on whichever thread it happened", "[data][threads]") {
  for (bool prefetch : {true, false}) {
    DataLoader loader(std::make_shared<Faulty>(5), DataLoaderOptions(2).prefetch(prefetch));
    const std::string msg = error_of([&] {
      for (const Batch& b : loader) CHECK(b.size() == 2);
    });
    CHECK_THAT(msg, Contains("Faulty: example 5 cannot be read"));
  }
  DataLoader first(std::make_shared<Faulty>(0), DataLoaderOptions(2));
  CHECK_TG_ERROR(first.begin(), Contains("Faulty: example 0 cannot be read"));
}

TEST_CASE("pad_collate pads sequences and gives their lengths and padding mask", "[data]") {
  DataLoader loader(std::make_shared<Sequences>(std::vector<std::int64_t>{3, 1, 0, 2}),
                    DataLoaderOptions(4).collate(pad_collate(-1)));
  int batches = 0;
  for (const Batch& b : loader) {
    ++batches;
    CHECK(b[0].shape() == DimVec{4, 3});
    CHECK(b[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 100, -1, -1, -1, -1, -1, 300, 301, -1});
    CHECK(b.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1, 0, 2});
    CHECK(b.padding_mask.dtype() == kBool);
    CHECK(b.padding_mask.to_vector<bool>() ==
          std::vector<bool>{false, false, false, false, true, true, true, true, true, false, false, true});
    CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3});
  }
  CHECK(batches == 1);
  // All of length zero: [B, 0] and a mask with no columns.
  DataLoader zeros_only(std::make_shared<Sequences>(std::vector<std::int64_t>{0, 0}),
                        DataLoaderOptions(2).collate(pad_collate()));
  for (const Batch& b : zeros_only) {
    CHECK(b[0].shape() == DimVec{2, 0});
    CHECK(b.padding_mask.shape() == DimVec{2, 0});
  }
}

TEST_CASE("pad_collate keeps trailing dims and pads several fields together", "[data]") {
  // Field 0: features [T, 2]; field 1: per-step targets [T]; field 2: a class.
  std::vector<Example> ex{{ones({2, 2}), full({2}, 7.0, kInt64), scalar_tensor(0.0, kInt64)},
                          {ones({1, 2}), full({1}, 8.0, kInt64), scalar_tensor(1.0, kInt64)}};
  Batch b = pad_collate(0.0, {0, 1})(ex);
  CHECK(b.size() == 2);  // no indices outside a DataLoader: field 0's first dim
  CHECK(b[0].shape() == DimVec{2, 2, 2});
  const std::vector<float> padded{1, 1, 1, 1, 1, 1, 0, 0};
  CHECK(b[0].to_vector<float>() == padded);
  CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7, 8, 0});
  CHECK(b[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
  // Bad inputs: lengths that disagree, trailing dims that differ, a field out of range.
  std::vector<Example> disagree{{ones({2, 2}), full({3}, 7.0, kInt64), scalar_tensor(0.0, kInt64)}};
  CHECK_TG_ERROR(pad_collate(0.0, {0, 1})(disagree),
                 Contains("pad_collate: field 1 of example 0 has length 3 but field 0 has 2"));
  std::vector<Example> trailing{{ones({2, 2})}, {ones({2, 3})}};
  CHECK_TG_ERROR(pad_collate()(trailing), Contains("field 0 needs the same trailing dims in every example"));
  CHECK_TG_ERROR(pad_collate(0.0, {4})(trailing),
                 Contains("pad_collate: field 4 is out of range for examples of 1 fields"));
  std::vector<Example> scalar{{scalar_tensor(1.0)}};
  CHECK_TG_ERROR(pad_collate()(scalar), Contains("field 0 of example 0 must be a sequence [T, ...], got shape []"));
}

TEST_CASE("stack_collate and DataLoader bad inputs name the problem", "[data]") {
  std::vector<Example> ragged{{ones({2})}, {ones({3})}};
  CHECK_TG_ERROR(stack_collate(ragged), Contains("stack_collate: field 0 has shape [2] (float32) in example 0 but [3] "
                                                 "(float32) in example 1; to batch sequences of different lengths use "
                                                 "pad_collate"));
  std::vector<Example> fields{{ones({2}), ones({2})}, {ones({2})}};
  CHECK_TG_ERROR(stack_collate(fields), Contains("example 0 has 2 fields but example 1 has 1"));
  CHECK_TG_ERROR(stack_collate({}), Contains("stack_collate: no examples to collate"));
  CHECK_TG_ERROR(DataLoader(counting(3), DataLoaderOptions(0)),
                 Contains("DataLoader: batch_size must be at least 1, got 0"));
  CHECK_TG_ERROR(DataLoader(nullptr), Contains("DataLoader: the dataset is null"));
  DataLoader loader(counting(3), DataLoaderOptions(2));
  CHECK_TG_ERROR(loader.set_epoch(-1), Contains("set_epoch expects an epoch >= 0, got -1"));
  auto it = loader.begin();
  CHECK_TG_ERROR((*it)[2], Contains("Batch: field 2 is out of range for a batch of 2 fields"));
  ++it;
  ++it;
  CHECK(it == loader.end());
  CHECK_TG_ERROR(*it, Contains("dereferenced an iterator past the last batch"));
  CHECK_TG_ERROR(++it, Contains("advanced an iterator past the last batch"));
}

TEST_CASE("DataLoader batches feed a model: an epoch over a TensorDataset trains it", "[data]") {
  manual_seed(1);
  Tensor x = randn({64, 3});
  Tensor y = matmul(x, tensor({{1.0}, {-2.0}, {0.5}}));
  DataLoader loader(std::make_shared<TensorDataset>(std::vector<Tensor>{x, y}),
                    DataLoaderOptions(16).shuffle(true).seed(2));
  nn::Linear model(3, 1);
  optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));
  double first = 0, last = 0;
  for (int epoch = 0; epoch < 20; ++epoch) {
    double total = 0;
    for (const Batch& b : loader) {
      opt.zero_grad();
      Tensor loss = nn::functional::mse_loss(model.forward(b[0]), b[1]);
      loss.backward();
      opt.step();
      total += loss.item();
    }
    (epoch == 0 ? first : last) = total;
  }
  CHECK(last < 0.01 * first);
}
