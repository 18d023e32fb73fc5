// Tensors <-> files: adapters between Tensor and the framework-free RawArray of the serialization
// layer (safetensors, npy). f16/bf16 arrays become f32 tensors (compute dtypes are f32/f64).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/io/raw_array.h"
#include "tensor/tensor.h"

namespace vps {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

RawArray to_raw(const Tensor& t);                                // any device, copied to host
Tensor from_raw(const RawArray& a, Device device = kCPU);        // f16/bf16 -> f32

// Index of the first NaN or infinity of a tensor (any device; -1: none; integer tensors have none):
// what readers check before a loaded value can reach a weight, a step or a score.
int64_t first_non_finite(const Tensor& t);

Tensor load_npy(const std::string& path, Device device = kCPU);
void save_npy(const std::string& path, const Tensor& t);  // atomic
NamedTensors load_safetensors(const std::string& path, Device device = kCPU,
                              std::map<std::string, std::string>* metadata = nullptr);
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});  // atomic

}  // namespace vps
