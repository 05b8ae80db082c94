// Devices: where a buffer lives and which backend runs its kernels.
// The CPU is always there. cuda/ is built when a CUDA toolkit is found (device
// discovery; its backend's kernels come with the CUDA issue), and otherwise a stub
// answers "no device".
#pragma once
#include <cstdint>
#include <string>

namespace ember {

enum class DeviceKind : uint8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i) { return {DeviceKind::CUDA, i}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  // Keras's spelling: "cpu", "gpu:0".
  std::string str() const { return is_cpu() ? "cpu" : "gpu:" + std::to_string(index); }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// "cpu", "cpu:0", "gpu", "gpu:1", "cuda:1" -> a Device. Throws ValueError naming the text.
Device parse_device(const std::string& name);

class Backend;

namespace device {
bool cuda_built();
int cuda_device_count();  // 0 when none is usable
// The CUDA backend of GPU `index`, or null when ember was built without CUDA, the GPU is
// not there, or the backend is not yet there to run on it. Lives in cuda/ (or its stub).
Backend* cuda_backend(int index);
// The instruction set the CPU kernels' hot loops run with: "native" in a build tuned for
// its machine (-march=native) or without run-time dispatch; in a portable build
// (EMBER_NATIVE=OFF, the wheel) the path chosen for this CPU: "avx512", "avx2" or
// "baseline" (capped by the environment variable EMBER_CPU_ISA). cpu/isa.h.
const char* cpu_instruction_set();
}  // namespace device

}  // namespace ember
