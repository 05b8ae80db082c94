// Sequence kernels (issue 11): the Embedding lookup and its scatter-add, the id checks and
// casts between int32 ids and floats, and the masks of Embedding(mask_zero) and Masking.
//
// ids are int32 (n); the table is (vocab, dim) row-major. The lookup copies whole rows. The
// backward writes only the rows the batch touched (zeroing the rest first unless it
// accumulates): for keras.io's IMDB shapes (a 20000 x 128 table, 32 x 80 ids per batch) the
// scatter is 2560 row additions, and the zeroing one streaming memset of the table, which the
// optimizer's update reads anyway. The scatter splits the columns among threads, so every
// thread adds its ids in order: the sums do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {

int64_t CpuBackend::first_id_out_of_range(const Context&, const int32_t* ids, int64_t n,
                                          int64_t limit) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= limit) return i;
  return -1;
}

void CpuBackend::embedding_forward(const Context&, const float* table, const int32_t* ids,
                                   int64_t n, int64_t dim, float* out) {
  const auto bytes = static_cast<size_t>(dim) * sizeof(float);
  parallel_for(n, n * dim, [&](int64_t i) {
    std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, bytes);
  });
}

void CpuBackend::embedding_backward(const Context&, const float* dy, const int32_t* ids, int64_t n,
                                    int64_t dim, float* dtable, int64_t vocab, bool accumulate) {
  if (!accumulate)
    parallel_chunks(vocab * dim, [&](int64_t begin, int64_t end) {
      std::memset(dtable + begin, 0, static_cast<size_t>(end - begin) * sizeof(float));
    });
  constexpr int64_t kColumns = 32;  // columns per task: two cache lines of each touched row
  const int64_t blocks = (dim + kColumns - 1) / kColumns;
  parallel_for(blocks, n * dim, [&](int64_t blk) {
    const int64_t c0 = blk * kColumns, c1 = std::min(dim, c0 + kColumns);
    for (int64_t i = 0; i < n; ++i) {
      float* row = dtable + static_cast<int64_t>(ids[i]) * dim;
      const float* g = dy + i * dim;
      for (int64_t c = c0; c < c1; ++c) row[c] += g[c];
    }
  });
}

void CpuBackend::ids_to_float(const Context&, const int32_t* ids, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(ids[i]);
}

int64_t CpuBackend::float_to_ids(const Context&, const float* x, int64_t n, int32_t* ids) {
  // int32's range as floats: [-2^31, 2^31); 2^31 itself is the first float past it.
  constexpr float kLow = -2147483648.0f, kHigh = 2147483648.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!(v >= kLow && v < kHigh)) return i;  // NaN fails both comparisons
    ids[i] = static_cast<int32_t>(v);         // truncates toward zero, as Keras's cast
  }
  return -1;
}

void CpuBackend::not_equal_mask(const Context&, const float* x, int64_t groups, int64_t group_size,
                                float value, bool ids, float* mask) {
  if (ids) {
    const auto* id = reinterpret_cast<const int32_t*>(x);
    const auto v = static_cast<int32_t>(value);
    for (int64_t g = 0; g < groups * group_size; g += group_size) {
      bool any = false;
      for (int64_t k = 0; k < group_size; ++k) any = any || id[g + k] != v;
      mask[g / group_size] = any ? 1.0f : 0.0f;
    }
    return;
  }
  for (int64_t g = 0; g < groups; ++g) {
    const float* row = x + g * group_size;
    bool any = false;
    for (int64_t k = 0; k < group_size; ++k) any = any || row[k] != value;
    mask[g] = any ? 1.0f : 0.0f;
  }
}

void CpuBackend::mask_weights(const Context&, const float* mask, const float* w, int64_t n,
                              bool rescale, float* out) {
  float scale = 1.0f;
  if (rescale) {
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) kept += mask[i] != 0.0f;
    // Keras's divide_no_nan(total, valid) in float32.
    scale = kept ? static_cast<float>(n) / static_cast<float>(kept) : 0.0f;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = mask[i] != 0.0f ? (w ? w[i] : 1.0f) * scale : 0.0f;
}

}  // namespace ember::cpu
