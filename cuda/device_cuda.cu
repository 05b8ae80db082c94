// The CUDA backend: device discovery, device memory and transfers. Op kernels
// land here as launchers over the shared element math (cpp/include/ember/element/);
// until an op kind has them, supports() says no and an executor for a GPU refuses
// a graph using it, naming the op and the device.
#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "ember/backend.h"
#include "ember/device.h"
#include "ember/error.h"

namespace ember {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw ValueError(std::string("CUDA: ") + what + " failed: " + cudaGetErrorString(e));
}

cudaStream_t stream_of(const Context& ctx) { return static_cast<cudaStream_t>(ctx.stream); }

// Device memory straight from the driver. (A caching allocator replaces this
// with the CUDA backend's kernels: steps allocate nothing, so it is off the hot path.)
class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int index) : index_(index) {}
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    check(cudaSetDevice(index_), "cudaSetDevice");
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();
      throw std::bad_alloc();
    }
    return p;
  }
  void deallocate(void* p, size_t /*bytes*/) noexcept override { cudaFree(p); }

 private:
  int index_;
};

// dst(n) = value; one thread per element.
__global__ void fill_kernel(float* dst, int64_t n, float value) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = value;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index), allocator_(index) {}
  Device device() const override { return Device::cuda(index_); }
  Allocator& allocator() override { return allocator_; }
  bool supports(OpKind) const override { return false; }

  void copy(const Context& ctx, void* dst, const void* src, size_t bytes) override {
    if (bytes)
      check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(ctx)),
            "cudaMemcpyAsync");
  }
  void zero(const Context& ctx, void* dst, size_t bytes) override {
    if (bytes) check(cudaMemsetAsync(dst, 0, bytes, stream_of(ctx)), "cudaMemsetAsync");
  }
  void fill(const Context& ctx, float* dst, int64_t n, float value) override {
    if (n <= 0) return;
    constexpr int kThreads = 256;
    const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
    fill_kernel<<<blocks, kThreads, 0, stream_of(ctx)>>>(dst, n, value);
    check(cudaGetLastError(), "fill kernel launch");
  }
  void copy_from_host(const Context& ctx, void* dst, const void* host, size_t bytes) override {
    if (bytes)
      check(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_of(ctx)),
            "cudaMemcpyAsync (host to device)");
  }
  void copy_to_host(const Context& ctx, void* host, const void* src, size_t bytes) override {
    if (!bytes) return;
    check(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream_of(ctx)),
          "cudaMemcpyAsync (device to host)");
    synchronize(ctx);  // the host reads it next
  }
  void synchronize(const Context& ctx) override {
    check(cudaStreamSynchronize(stream_of(ctx)), "cudaStreamSynchronize");
  }

 private:
  int index_;
  CudaAllocator allocator_;
};

}  // namespace

namespace device {

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

Backend* cuda_backend(int index) {
  // One backend per GPU for the whole process, made on first use.
  static std::once_flag once;
  static std::vector<std::unique_ptr<CudaBackend>> backends;
  std::call_once(once, [] {
    for (int i = 0, n = cuda_device_count(); i < n; ++i)
      backends.push_back(std::make_unique<CudaBackend>(i));
  });
  if (index < 0 || static_cast<size_t>(index) >= backends.size()) return nullptr;
  return backends[static_cast<size_t>(index)].get();
}

}  // namespace device
}  // namespace ember
