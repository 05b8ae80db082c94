// Built when there is no CUDA toolkit: the GPU backend answers "none".
#include "ember/device.h"
#include "ember/error.h"

namespace ember::device {

bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_device_name(int index) {
  throw ValueError("no CUDA device " + std::to_string(index) +
                   ": ember was built without the CUDA backend");
}

}  // namespace ember::device
