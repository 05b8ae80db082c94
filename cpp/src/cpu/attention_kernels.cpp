// Score-attention kernels (issue 17): the masking of attention scores before their softmax.
//
// x, y (groups, tq, tv): one score matrix per sample and leading index; mask (groups, tv),
// 1 keep, 0 masked, broadcast over the tq query lines. A masked score becomes x - penalty in
// float32, exactly Keras's `where(padding_mask, scores - 1e9, scores)`, so a line whose every
// score is masked keeps the same (finite) softmax as in Keras.
#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {

void CpuBackend::mask_scores(const Context&, const float* x, const float* mask, bool causal,
                             int64_t groups, int64_t tq, int64_t tv, float penalty, float* y) {
  parallel_for(groups * tq, groups * tq * tv, [&](int64_t line) {
    const int64_t g = line / tq, i = line % tq;
    const float* in = x + line * tv;
    float* out = y + line * tv;
    const float* keep = mask ? mask + g * tv : nullptr;
    for (int64_t j = 0; j < tv; ++j) {
      // A mask holds 1 or 0; reading it as <= 0.5 also keeps a perturbed mask's meaning.
      const bool masked = (keep && keep[j] <= 0.5f) || (causal && j > i);
      out[j] = masked ? in[j] - penalty : in[j];
    }
  });
}

}  // namespace ember::cpu
