// Built when there is no CUDA toolkit: the GPU backend answers "none".
#include "ember/device.h"

namespace ember::device {

bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
Backend* cuda_backend(int /*index*/) { return nullptr; }

}  // namespace ember::device
