#pragma once
/// Element types: float32 (the default), float64 (gradient checks), int64 (indices), bool.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tapegrad/core/error.h"

namespace tg {

enum class DType : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

/// Bytes per element.
constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

/// PyTorch's spelling: "float32", "float64", "int64", "bool".
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

/// The dtype of a binary op's result: bool < int64 < float32 < float64.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Float64 || b == DType::Float64) return DType::Float64;
  if (a == DType::Float32 || b == DType::Float32) return DType::Float32;
  return DType::Int64;  // int64 with bool
}

template <typename T>
inline constexpr DType dtype_of = [] {
  if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DType::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, bool>) return DType::Bool;
  else static_assert(sizeof(T) == 0, "tapegrad: unsupported element type");
}();

template <typename T>
struct TypeTag {
  using type = T;
};

/// True when the floating value v converts to int64 without overflow: -2^63 <= v < 2^63 (the
/// bounds are exact in float and double). NaN and +-inf are false. One compare pair, so a
/// conversion loop that calls it stays vectorisable.
template <typename F>
constexpr bool fits_int64(F v) {
  static_assert(std::is_floating_point_v<F>);
  return v >= static_cast<F>(-9.2233720368547758e18) && v < static_cast<F>(9.2233720368547758e18);
}

/// v as int64 (truncated toward zero, like static_cast), or 0 when it does not fit; ok is
/// cleared then. For loops that check a whole run and report once.
template <typename F>
constexpr std::int64_t int64_or_zero(F v, bool& ok) {
  const bool fits = fits_int64(v);
  ok = ok && fits;
  return fits ? static_cast<std::int64_t>(v) : 0;
}

/// value as To, checked: converting NaN, +-inf or a value outside int64's range to int64 is a
/// tg::Error naming op (in C++ the plain cast is undefined; x86 gives INT64_MIN).
template <typename To, typename From>
To checked_cast(From value, const char* op) {
  if constexpr (std::is_same_v<To, std::int64_t> && std::is_floating_point_v<From>) {
    TG_CHECK(fits_int64(value), "{}: value {} cannot be converted to int64 without overflow", op, value);
  }
  return static_cast<To>(value);
}

/// value as a T for an op's scalar argument; an error when an integer type cannot hold it.
template <typename T>
T scalar_cast(double value, const char* op) {
  return checked_cast<T>(value, op);
}

/// Calls fn(TypeTag<T>{}) with T the C++ type of dtype t.
template <typename Fn>
decltype(auto) dispatch(DType t, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    case DType::Int64: return fn(TypeTag<std::int64_t>{});
    case DType::Bool: return fn(TypeTag<bool>{});
  }
  fail("dispatch: invalid dtype {}", static_cast<int>(t));
}

/// Like dispatch, for ops defined on floating types only; names the op otherwise.
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    default: fail("{}: expected a floating-point tensor (float32 or float64), got {}", op, dtype_name(t));
  }
}

/// Like dispatch, for ops defined on numbers but not on bool; names the op otherwise.
template <typename Fn>
decltype(auto) dispatch_numeric(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    case DType::Int64: return fn(TypeTag<std::int64_t>{});
    default: fail("{}: not defined for {} tensors", op, dtype_name(t));
  }
}

}  // namespace tg
