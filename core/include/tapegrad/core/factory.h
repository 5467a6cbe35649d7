#pragma once
/// Tensor factories. Shapes are lists ({2, 3}); dtype defaults to float32.
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg {

/// Uninitialised memory.
Tensor empty(IntArrayRef shape, Options options = {});
Tensor zeros(IntArrayRef shape, Options options = {});
Tensor ones(IntArrayRef shape, Options options = {});
Tensor full(IntArrayRef shape, double value, Options options = {});
/// 0, 1, ..., end-1 (int64 by default, as in PyTorch when the arguments are integers).
Tensor arange(std::int64_t end, Options options = kInt64);
/// start, start+step, ... < end.
Tensor arange(double start, double end, double step = 1.0, Options options = kFloat32);
/// An n x m identity matrix (m = n when omitted).
Tensor eye(std::int64_t n, std::int64_t m = -1, Options options = {});
/// Standard normal samples.
Tensor randn(IntArrayRef shape, Options options = {}, Generator* generator = nullptr);
/// Uniform samples in [0, 1).
Tensor rand(IntArrayRef shape, Options options = {}, Generator* generator = nullptr);
/// Uniform integers in [low, high) (int64 by default).
Tensor randint(std::int64_t low, std::int64_t high, IntArrayRef shape, Options options = kInt64,
               Generator* generator = nullptr);

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor randn_like(const Tensor& t, Generator* generator = nullptr);
Tensor rand_like(const Tensor& t, Generator* generator = nullptr);

/// A scalar (0-d) tensor.
Tensor scalar_tensor(double value, Options options = {});

/// A tensor from a flat vector and a shape (the dtype follows T unless options say otherwise).
Tensor from_vector(const std::vector<float>& values, IntArrayRef shape, Options options = kFloat32);
Tensor from_vector(const std::vector<double>& values, IntArrayRef shape, Options options = kFloat64);
Tensor from_vector(const std::vector<std::int64_t>& values, IntArrayRef shape, Options options = kInt64);
Tensor from_vector(const std::vector<bool>& values, IntArrayRef shape, Options options = kBool);

/// A nested list of numbers: tensor({{1, 2}, {3, 4}}) is a 2x2 float32 tensor.
class NestedList {
 public:
  NestedList(double value) : value_(value), is_scalar_(true) {}  // NOLINT: implicit by design
  NestedList(std::initializer_list<NestedList> items) : items_(items) {}
  const std::vector<NestedList>& items() const { return items_; }
  bool is_scalar() const { return is_scalar_; }
  double value() const { return value_; }

 private:
  double value_ = 0.0;
  bool is_scalar_ = false;
  std::vector<NestedList> items_;
};

Tensor tensor(const NestedList& values, Options options = {});

}  // namespace tg
