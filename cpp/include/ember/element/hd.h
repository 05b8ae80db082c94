// Per-element math is written once, as small inline functions in this folder,
// and called from CPU kernels (cpp/src/cpu/) and from CUDA device code (cuda/)
// alike. EMBER_HD marks such a function: __host__ __device__ under nvcc, plain
// inline elsewhere. Functions marked with it use only what both sides have:
// arithmetic and <cmath>'s float functions (expf, logf, sqrtf, ... through the
// std:: overloads nvcc maps to device intrinsics), no std::vector, no exceptions,
// no std::max of mixed types.
#pragma once

#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif
