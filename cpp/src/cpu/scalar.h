// Scalar functions the CPU kernels share: the element math's (ember/element/),
// under the names the kernels use.
#pragma once
#include "ember/element/scalar.h"

namespace ember::cpu {

using element::sigmoid;

}  // namespace ember::cpu
