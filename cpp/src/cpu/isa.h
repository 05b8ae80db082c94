// Run-time choice of instruction set for the hot element-wise loops.
//
// A portable build (EMBER_NATIVE=OFF: what `pip wheel .` makes) compiles the engine for
// baseline x86-64 (SSE2), so that it runs on any x86-64 CPU. Where the loops are hot
// (activations and their gradients, bias adds, optimizer updates, element-wise math and
// reductions), EMBER_ISA_DISPATCH compiles the statement it wraps twice more, for AVX2+FMA
// (x86-64-v3) and for AVX-512 (x86-64-v4), as lambdas with GCC's target attribute, and runs
// the variant the CPU supports (cpuid, once per process). `flatten` inlines the whole call
// tree of the statement (the range function, the element functors) into each variant, so
// the loops vectorize for that variant's registers; calls the compiler cannot inline
// (libm) stay what they are.
//
// The variants compute the same bits: FMA contraction is off (-ffp-contract=off) and the
// compiler never reassociates float arithmetic, so a wider vector changes only the speed.
// tests/test_cpu_dispatch.py checks that, training the same model on every path.
//
// EMBER_CPU_ISA=baseline|avx2|avx512 in the environment caps the choice (for tests, and to
// compare paths); a level the CPU lacks is never chosen. A native build (-march=native,
// the default for a plain CMake build) or a non-x86 build has one path, and the macro runs
// the statement as written.
#pragma once

namespace ember::cpu {

enum class Isa { Baseline, Avx2, Avx512 };

// The instruction set the dispatched loops run with: the best the CPU and OS support
// (AVX-512 needs F, BW, CD, DQ and VL), capped by EMBER_CPU_ISA.
Isa detect_isa();
inline Isa isa() {
  static const Isa chosen = detect_isa();
  return chosen;
}

// "native" for a build without dispatch (one path: whatever the compiler targeted),
// else "baseline", "avx2" or "avx512".
const char* isa_name();

}  // namespace ember::cpu

#if defined(EMBER_CPU_DISPATCH) && EMBER_CPU_DISPATCH
#define EMBER_TARGET_AVX2 \
  __attribute__((target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt"), flatten))
#define EMBER_TARGET_AVX512                                                                 \
  __attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c," \
                        "lzcnt,movbe,popcnt"),                                              \
                 flatten))
// Runs `statement` (which may assign to variables of the enclosing scope) compiled for
// the best instruction set this CPU has.
#define EMBER_ISA_DISPATCH(...)                                   \
  do {                                                            \
    switch (::ember::cpu::isa()) {                                \
      case ::ember::cpu::Isa::Avx512:                             \
        [&]() EMBER_TARGET_AVX512 { __VA_ARGS__; }();             \
        break;                                                    \
      case ::ember::cpu::Isa::Avx2:                               \
        [&]() EMBER_TARGET_AVX2 { __VA_ARGS__; }();               \
        break;                                                    \
      case ::ember::cpu::Isa::Baseline:                           \
        __VA_ARGS__;                                              \
        break;                                                    \
    }                                                             \
  } while (0)
#else
#define EMBER_ISA_DISPATCH(...) \
  do {                          \
    __VA_ARGS__;                \
  } while (0)
#endif
