// The task seq2seq_attention and transformer learn: reverse a string of random symbols. One
// vocabulary for both: 0 the padding, 1 <bos> (the decoder's first input), 2 <eos>, then the
// symbols (a..l for seq2seq_attention, the digits for transformer).
//
// It is the examples' own header, not part of tapegrad's API.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace example {

constexpr std::int64_t kPad = 0, kBos = 1, kEos = 2;
/// Symbol k is token kFirstSymbol + k.
constexpr std::int64_t kFirstSymbol = 3;

/// `size` random strings of min_len..max_len symbols (out of `symbols`) and their reversals, made
/// up front from a std::mt19937_64 seeded with seed * 1000003 + stream (one stream for the
/// training data, another for the test data), so that get() only reads: it runs on the loader's
/// background thread. Example i is {source [L+1] = string <eos>, decoder input [L+1] = <bos>
/// reversed, target [L+1] = reversed <eos>} (int64): the three have one length, so one
/// pad_collate(kPad, {0, 1, 2}) pads them and its padding mask serves all three.
class ReverseDataset : public tg::data::Dataset {
 public:
  ReverseDataset(std::int64_t size, std::int64_t symbols, std::int64_t min_len, std::int64_t max_len,
                 std::uint64_t seed, std::uint64_t stream) {
    std::mt19937_64 rng(seed * 1000003 + stream);
    const auto uniform = [&](std::int64_t n) {
      return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
    };
    for (std::int64_t i = 0; i < size; ++i) {
      std::vector<std::int64_t> str(static_cast<std::size_t>(min_len + uniform(max_len - min_len + 1)));
      for (auto& t : str) t = kFirstSymbol + uniform(symbols);
      strings_.push_back(std::move(str));
    }
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(strings_.size()); }
  /// String i: its tokens, without <eos>.
  const std::vector<std::int64_t>& sequence(std::int64_t i) const { return strings_[static_cast<std::size_t>(i)]; }
  /// The answer: string i reversed, then <eos>.
  std::vector<std::int64_t> target(std::int64_t i) const {
    std::vector<std::int64_t> t(sequence(i).rbegin(), sequence(i).rend());
    t.push_back(kEos);
    return t;
  }
  tg::data::Example get(std::int64_t i) const override {
    std::vector<std::int64_t> source = sequence(i), target_out = target(i), input{kBos};
    source.push_back(kEos);
    input.insert(input.end(), target_out.begin(), target_out.end() - 1);
    const auto n = static_cast<std::int64_t>(source.size());
    return {tg::from_vector(source, {n}), tg::from_vector(input, {n}), tg::from_vector(target_out, {n})};
  }

 private:
  std::vector<std::vector<std::int64_t>> strings_;
};

}  // namespace example
