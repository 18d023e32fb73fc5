// Element types. f16/bf16 exist for reading checkpoints (converted to f32 on load); compute is f32/f64,
// and bf16 the inputs of the CPU's products in the bf16 inference path (MatmulPrecision, tensor/bf16.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/check.h"

namespace vps {

enum class DType : uint8_t { f32, f64, i32, i64, u8, b8, f16, bf16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::b8: return 1;
    case DType::f16: return 2;
    case DType::bf16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::b8: return "bool";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

// C++ type -> DType
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };

// A bfloat16 value (the top 16 bits of a float32) as the bf16 path stores it. Converting from float
// rounds to nearest even (integer operations, no branch: loops of it vectorise), NaN stays a quiet NaN.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet_nan = (u >> 16) | 0x40u;
    bits = uint16_t((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
};
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
// bf16(src[i]) for i < n on the calling thread, vectorised for the CPU it runs on (tensor/bf16.cpp).
void round_to_bf16(const float* src, bf16* dst, int64_t n);

// What the convolutions' and linear layers' products take as inputs: float32 (the default) or bf16
// (operands rounded to bf16, products summed in float32; CPU inference only, oneDNN, tensor/bf16.h).
enum class MatmulPrecision : uint8_t { f32, bf16 };

// Half-precision conversions (host only; used when reading checkpoints).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

}  // namespace vps
