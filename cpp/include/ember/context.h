// The execution context every kernel takes: the backend of one device and, on
// a GPU, the stream to enqueue on (on the CPU, kernels run on the one OpenMP pool).
#pragma once

namespace ember {

class Backend;

struct Context {
  Backend* backend = nullptr;
  void* stream = nullptr;
  Backend& be() const { return *backend; }
};

}  // namespace ember
