#include "tensor/io/tensor_io.h"

#include <cmath>
#include <cstring>

#include "tensor/io/npy.h"
#include "tensor/io/safetensors.h"

namespace vps {

RawArray to_raw(const Tensor& t) {
  RawArray a;
  a.dtype = t.dtype();
  a.shape = t.shape();
  Tensor c = t.contiguous().cpu();
  a.data.resize(c.nbytes());
  if (!a.data.empty()) std::memcpy(a.data.data(), c.raw_data(), a.data.size());
  return a;
}

int64_t first_non_finite(const Tensor& t) {
  Tensor c = t.contiguous().cpu();
  auto scan = [&](auto* p) -> int64_t {
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(double(p[i]))) return i;
    return -1;
  };
  if (c.dtype() == DType::f32) return scan(c.data<float>());
  if (c.dtype() == DType::f64) return scan(c.data<double>());
  return -1;
}

Tensor from_raw(const RawArray& in, Device device) {
  const RawArray& a = (in.dtype == DType::f16 || in.dtype == DType::bf16) ? to_f32(in) : in;
  Tensor t = Tensor::empty(a.shape, a.dtype, kCPU);
  VPS_CHECK(a.data.size() == t.nbytes(), "from_raw: ", a.data.size(), " bytes for shape ", shape_str(a.shape), " ",
            dtype_name(a.dtype));
  if (!a.data.empty()) std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t.to(device);
}

Tensor load_npy(const std::string& path, Device device) { return from_raw(read_npy(path), device); }
void save_npy(const std::string& path, const Tensor& t) { write_npy(path, to_raw(t)); }

NamedTensors load_safetensors(const std::string& path, Device device, std::map<std::string, std::string>* metadata) {
  SafetensorsFile f = read_safetensors(path);
  NamedTensors out;
  out.reserve(f.arrays.size());
  for (auto& [name, a] : f.arrays) out.emplace_back(name, from_raw(a, device));
  if (metadata) *metadata = f.metadata;
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& md) {
  NamedArrays arrays;
  arrays.reserve(tensors.size());
  for (auto& [name, t] : tensors) arrays.emplace_back(name, to_raw(t));
  write_safetensors(path, arrays, md);
}

}  // namespace vps
