#pragma once
/// Seeded random numbers. A Generator is a counter-based stream (a seed and an offset): value
/// i of a draw is a hash of (seed, offset + i), so draws are reproducible and do not depend on
/// how many threads produce them.
#include <cstdint>

namespace tg {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  /// Position in the stream; with the seed, the whole state (save it to resume exactly).
  std::uint64_t offset() const { return offset_; }
  void set_state(std::uint64_t seed, std::uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  /// Reserves n counters and returns the first.
  std::uint64_t advance(std::uint64_t n) {
    const std::uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  /// 64 random bits for counter i (a pure function of the seed and i).
  std::uint64_t bits(std::uint64_t i) const {
    std::uint64_t z = seed_ * 0x9E3779B97F4A7C15ull + i * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
    return z ^ (z >> 32);
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

/// The process-wide default generator used when a factory is given none. Draws from it are
/// serialised; threads that want independent streams use their own Generator.
Generator& default_generator();
/// Seeds the default generator: every random factory then reproduces its values.
void manual_seed(std::uint64_t seed);

}  // namespace tg
