// A device is a property of a tensor: CPU, or CUDA with an index. Never a global mode.
#pragma once
#include <string>

namespace vps {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  static Device parse(const std::string& s);  // "cpu", "cuda", "cuda:1"
};

constexpr Device kCPU{};
inline Device cuda_device(int i = 0) { return Device(DeviceType::CUDA, i); }

// True when vps was built with CUDA and at least one GPU is usable.
bool cuda_available();
int cuda_device_count();

}  // namespace vps
