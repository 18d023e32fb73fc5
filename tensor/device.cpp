#include "tensor/device.h"

#include "tensor/check.h"
#if VPS_CUDA
#include <cuda_runtime.h>
#endif

namespace vps {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return kCPU;
  if (s == "cuda" || s == "gpu") return cuda_device(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      return cuda_device(std::stoi(s.substr(5)));
    } catch (...) {
    }
  }
  VPS_FAIL("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

int cuda_device_count() {
#if VPS_CUDA
  static int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device" error
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace vps

#if VPS_CUDA
namespace vps {
void cuda_check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  VPS_CHECK(e == cudaSuccess, what, ": CUDA kernel launch failed: ", cudaGetErrorString(e));
}
}  // namespace vps
#endif
