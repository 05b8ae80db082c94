#include "cpu/isa.h"

#include "ember/device.h"

#include <cstdlib>
#include <cstring>

namespace ember::cpu {

Isa detect_isa() {
  Isa best = Isa::Baseline;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();  // checks the OS saves the wide registers (xgetbv) too
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("bmi2"))
    best = Isa::Avx2;
  if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    best = Isa::Avx512;
#endif
  // A cap, never a raise: asking for AVX-512 on a CPU without it gets what the CPU has.
  if (const char* cap = std::getenv("EMBER_CPU_ISA")) {
    if (std::strcmp(cap, "baseline") == 0) best = Isa::Baseline;
    if (std::strcmp(cap, "avx2") == 0 && best == Isa::Avx512) best = Isa::Avx2;
  }
  return best;
}

const char* isa_name() {
#if defined(EMBER_CPU_DISPATCH) && EMBER_CPU_DISPATCH
  switch (isa()) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::Baseline:
      break;
  }
  return "baseline";
#else
  return "native";
#endif
}

}  // namespace ember::cpu

namespace ember::device {
const char* cpu_instruction_set() { return cpu::isa_name(); }
}  // namespace ember::device
