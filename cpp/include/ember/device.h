// The seam between the engine and its GPU backend. Built without a CUDA
// toolkit, cuda_built() is false and the rest report "no device".
#pragma once
#include <string>

namespace ember::device {

bool cuda_built();
int cuda_device_count();                  // 0 when none is usable
std::string cuda_device_name(int index);  // throws ValueError for a bad index

}  // namespace ember::device
