// The CUDA backend's entry points. Device discovery is here; the kernels and
// the cuBLASLt GEMM land behind the same interface as the CPU kernels.
#include <cuda_runtime.h>

#include "ember/device.h"
#include "ember/error.h"

namespace ember::device {

bool cuda_built() { return true; }

int cuda_device_count() {
  int n = 0;
  // No driver or no device is not an error here: it means "none".
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string cuda_device_name(int index) {
  if (index < 0 || index >= cuda_device_count())
    throw ValueError("no CUDA device " + std::to_string(index));
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess)
    throw ValueError("could not query CUDA device " + std::to_string(index));
  return prop.name;
}

}  // namespace ember::device
