// The device registry: which backend runs a device's kernels and owns its memory.
#include "ember/backend.h"

#include <cctype>

#include "cpu/cpu_backend.h"
#include "ember/error.h"

namespace ember {

const char* op_kind_name(OpKind kind) {
  static constexpr const char* kNames[] = {
#define EMBER_OP_KIND_NAME(k) #k,
      EMBER_OP_KINDS(EMBER_OP_KIND_NAME)
#undef EMBER_OP_KIND_NAME
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kNumOpKinds);
  const auto i = static_cast<size_t>(kind);
  return i < kNumOpKinds ? kNames[i] : "?";
}

Device parse_device(const std::string& name) {
  std::string s;
  for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto colon = s.find(':');
  const std::string type = s.substr(0, colon);
  int index = 0;
  if (colon != std::string::npos) {
    const std::string digits = s.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() < 6;
    for (char c : digits) ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (!ok)
      throw ValueError("Invalid device name '" + name + "': expected 'cpu' or 'gpu:<index>'");
    index = std::stoi(digits);
  }
  if (type == "cpu") {
    if (index != 0) throw ValueError("Invalid device name '" + name + "': there is one CPU device");
    return Device::cpu();
  }
  if (type == "gpu" || type == "cuda") return Device::cuda(index);
  throw ValueError("Invalid device name '" + name + "': expected 'cpu' or 'gpu:<index>'");
}

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  if (Backend* b = device::cuda_backend(device.index)) return *b;
  if (!device::cuda_built())
    throw ValueError("device " + device.str() + " is not available: ember was built without CUDA");
  const int count = device::cuda_device_count();
  if (device.index >= 0 && device.index < count)
    throw ValueError("device " + device.str() +
                     " is not available: ember's CUDA backend has no kernels yet");
  throw ValueError("device " + device.str() + " is not available: " + std::to_string(count) +
                   " CUDA device(s) found");
}

std::vector<Device> available_devices() {
  std::vector<Device> out{Device::cpu()};
  for (int i = 0, n = device::cuda_device_count(); i < n; ++i)
    if (device::cuda_backend(i)) out.push_back(Device::cuda(i));
  return out;
}

Allocator& allocator_for(Device device) { return backend_for(device).allocator(); }

Allocator& allocator_of_live_buffer(Device device) noexcept {
  // A live buffer's device had a backend when the buffer was allocated, and backends
  // live for the whole process, so this lookup cannot fail.
  if (device.is_cpu()) return cpu_backend().allocator();
  return device::cuda_backend(device.index)->allocator();
}

namespace detail {
void copy_bytes(Device device, void* dst, const void* src, size_t bytes) {
  Backend& b = backend_for(device);
  b.copy(b.context(), dst, src, bytes);
}
void zero_bytes(Device device, void* dst, size_t bytes) {
  Backend& b = backend_for(device);
  b.zero(b.context(), dst, bytes);
}
}  // namespace detail

}  // namespace ember
