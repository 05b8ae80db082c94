// The execution context every kernel takes: the backend of one device and, on
// a GPU, the stream to enqueue on (on the CPU, kernels run on the one OpenMP pool).
#pragma once

namespace ember {

class Backend;
class Reducer;

struct Context {
  Backend* backend = nullptr;
  void* stream = nullptr;
  // Data-parallel training (issue 16): the ranks' collectives, which ops whose training step
  // needs the global batch (BatchNormalization's statistics) call; null in one process.
  Reducer* reducer = nullptr;
  Backend& be() const { return *backend; }
};

}  // namespace ember
