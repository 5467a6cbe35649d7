// The programs of docs/data.md, run as tests: a training loop over a DataLoader with a progress
// bar and a metrics CSV, padded batches of sequences feeding an LSTM, and a custom Dataset.
#include <catch2/catch.hpp>
#include <cstdio>

#include "golden_io/io_helpers.h"
#include "tapegrad/tapegrad.h"
#include "tapegrad/train/data.h"
#include "tapegrad/train/metrics.h"
#include "tapegrad/train/progress.h"

using tg_io_test::TempDir;

// Regions at file scope are copied word for word into docs/data.md (the doc_snippets test checks it).

// [doc:loop]
/// Trains a small classifier for 5 epochs; the mean loss of each epoch goes to out/metrics.csv.
double train_classifier(const std::string& out, std::FILE* log) {
  // 512 points in 2-d; the label says which side of the line x + y = 0 each one lies on.
  tg::manual_seed(0);
  tg::Tensor x = tg::randn({512, 2});
  tg::Tensor y = tg::gt(x.sum(1), 0.0).to(tg::kInt64);
  auto train = std::make_shared<tg::data::TensorDataset>(std::vector<tg::Tensor>{x, y});
  tg::data::DataLoader loader(train, tg::data::DataLoaderOptions(32).shuffle(true).seed(1));

  auto model = std::make_shared<tg::nn::Sequential>(std::initializer_list<std::shared_ptr<tg::nn::Module>>{
      std::make_shared<tg::nn::Linear>(2, 16), std::make_shared<tg::nn::ReLU>(),
      std::make_shared<tg::nn::Linear>(16, 2)});
  tg::optim::Adam opt(model->parameters(), tg::optim::AdamOptions(0.01));
  tg::MetricsLog metrics(out + "/metrics.csv", {"epoch", "loss"});

  double mean_loss = 0;
  for (int epoch = 0; epoch < 5; ++epoch) {
    tg::ProgressBar bar(loader.size(), tg::ProgressOptions().label(fmt::format("epoch {}", epoch)).stream(log));
    for (const tg::data::Batch& batch : loader) {  // a new order every epoch
      opt.zero_grad();
      tg::Tensor loss = tg::nn::functional::cross_entropy(model->forward(batch[0]), batch[1]);
      loss.backward();
      opt.step();
      bar.step(loss.item(), batch.size());
    }
    bar.finish();
    mean_loss = bar.mean_loss();
    metrics.write({static_cast<double>(epoch), mean_loss});
  }
  tg::plot_curves(out + "/metrics.csv", out + "/loss.png", "epoch", {"loss"});  // false without gnuplot
  return mean_loss;
}
// [/doc:loop]

// [doc:sequences]
/// Batches of token sequences of different lengths, padded, through an LSTM that skips the padding.
std::int64_t run_sequences() {
  // A Dataset of token sequences of different lengths; the label is the sequence's first token.
  class Sequences : public tg::data::Dataset {
   public:
    std::int64_t size() const override { return 100; }
    tg::data::Example get(std::int64_t i) const override {
      std::vector<std::int64_t> tokens;
      for (std::int64_t t = 0; t < 1 + i % 7; ++t) tokens.push_back((i + t) % 5);
      const auto length = static_cast<std::int64_t>(tokens.size());
      return {tg::from_vector(tokens, {length}), tg::scalar_tensor(static_cast<double>(tokens[0]), tg::kInt64)};
    }
  };

  tg::data::DataLoader loader(std::make_shared<Sequences>(),
                              tg::data::DataLoaderOptions(16).collate(tg::data::pad_collate(/*padding_value=*/0)));
  tg::nn::Embedding embed(5, 8);
  tg::nn::LSTM lstm(tg::nn::RNNOptions(8, 12).batch_first(true));
  for (const tg::data::Batch& batch : loader) {
    // batch[0]: tokens [16, T] (T = the longest sequence of the batch), padded with 0
    // batch.lengths: int64 [16]; batch.padding_mask: bool [16, T], true at the padding
    auto [output, state] = lstm(embed.forward(batch[0]), std::nullopt, batch.lengths);
    CHECK(output.size(1) == batch[0].size(1));
    CHECK(batch.padding_mask.size(1) == batch[0].size(1));
  }
  return loader.size();
}
// [/doc:sequences]

TEST_CASE("data guide: a training loop over a DataLoader, with progress and metrics", "[data][guide]") {
  TempDir dir;
  std::FILE* log = std::fopen("/dev/null", "w");
  const double last = train_classifier(dir.path().string(), log);
  std::fclose(log);
  const tg::Table table = tg::read_csv((dir / "metrics.csv").string());
  REQUIRE(table.rows.size() == 5);
  CHECK(last < 0.5 * table.rows[0][1]);
}

TEST_CASE("data guide: padded batches of sequences into an LSTM", "[data][guide]") { CHECK(run_sequences() == 7); }
