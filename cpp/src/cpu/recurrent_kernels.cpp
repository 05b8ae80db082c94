// The recurrent ops' fused gate passes on the CPU (contracts in ember/recurrent_kernels.h).
// One pass per timestep over (B, H) elements: every gate of a unit is computed from its
// preactivations xp + rp in one go, so a step reads each projection once. The activation
// formulas are the shared element math (element/activation.h); their gradients are read off
// the stored outputs.
//
// A step's pass is small (B x H elements, microseconds) and runs once per timestep: it goes to
// the thread pool only when B x H alone is worth a parallel region (cpu::kParallelWork), since
// a region per step costs more than the step on a busy machine.
#include "ember/recurrent_kernels.h"

#include <cstdint>

#include "cpu/parallel.h"
#include "ember/element/activation.h"
#include "ember/element/vector_exp.h"
#include "ember/layer_kernels.h"

namespace ember::kernels {
namespace {

namespace act = element::activation;

inline float act_forward(ActivationKind kind, float x) {
  switch (kind) {
    case ActivationKind::Tanh: return element::vector_tanh(x);
    case ActivationKind::Sigmoid: return element::vector_sigmoid(x);
    case ActivationKind::HardSigmoid: return act::HardSigmoid{}.fwd(x);
    case ActivationKind::Relu: return act::Relu{}.fwd(x);
    default: return x;  // linear
  }
}

// p(n) = act(p) in place: one loop per kind, so that each vectorizes.
void act_in_place(ActivationKind kind, float* __restrict p, int64_t n) {
  switch (kind) {
    case ActivationKind::Tanh:
      for (int64_t i = 0; i < n; ++i) p[i] = element::vector_tanh(p[i]);
      break;
    case ActivationKind::Sigmoid:
      for (int64_t i = 0; i < n; ++i) p[i] = element::vector_sigmoid(p[i]);
      break;
    case ActivationKind::HardSigmoid:
      for (int64_t i = 0; i < n; ++i) p[i] = act::HardSigmoid{}.fwd(p[i]);
      break;
    case ActivationKind::Relu:
      for (int64_t i = 0; i < n; ++i) p[i] = act::Relu{}.fwd(p[i]);
      break;
    default: break;  // linear
  }
}

// g * act'(x) from y = act(x). hard_sigmoid's slope is 1/6 exactly where 0 < y < 1, which is
// where its x + 3 lies strictly inside (0, 6): x = 6y - 3 gives its functor the same answer.
inline float act_grad(ActivationKind kind, float g, float y) {
  switch (kind) {
    case ActivationKind::Tanh: return act::Tanh{}.bwd(g, 0.0f, y);
    case ActivationKind::Sigmoid: return act::Sigmoid{}.bwd(g, 0.0f, y);
    case ActivationKind::HardSigmoid: return act::HardSigmoid{}.bwd(g, 6.0f * y - 3.0f, y);
    case ActivationKind::Relu: return act::Relu{}.bwd(g, 0.0f, y);
    default: return g;
  }
}

// A mask holds 1 (keep) or 0 (skip); reading it as > 0.5 also keeps a perturbed mask's
// meaning under finite differences.
inline bool kept(const float* mask, int64_t stride, int64_t b) {
  return mask == nullptr || mask[b * stride] > 0.5f;
}

}  // namespace

void recurrent_step_forward(const RecurrentStepSpec& s, const RecurrentStepForward& f) {
  const int64_t H = s.units, G = s.gates(), GH = G * H;
  const ActivationKind a = s.activation, ra = s.recurrent_activation;
  cpu::parallel_for(s.batch, s.batch * H, [&](int64_t b) {
    const float* xp = f.xp + b * f.xp_stride;
    const float* rp = f.rp + b * GH;
    const float* hp = f.h_prev + b * H;
    float* gates = f.gates + b * GH;
    float* h = f.h + b * H;
    float* y = f.y ? f.y + b * f.y_stride : nullptr;
    if (!kept(f.mask, f.mask_stride, b)) {
      // The step is skipped: the states carry over, and the output is the carried state.
      for (int64_t j = 0; j < H; ++j) {
        h[j] = hp[j];
        if (y) y[j] = s.zero_output_for_mask ? 0.0f : hp[j];
      }
      if (s.cell == RecurrentCell::LSTM)
        for (int64_t j = 0; j < H; ++j) f.c[b * H + j] = f.c_prev[b * H + j];
      // Stored gates of a skipped step are never read; zeros keep the buffer defined.
      for (int64_t j = 0; j < GH; ++j) gates[j] = 0.0f;
      if (f.aux)
        for (int64_t j = 0; j < H; ++j) f.aux[b * H + j] = 0.0f;
      return;
    }
    // Preactivations into the gates' row, activated block by block, then combined.
    switch (s.cell) {
      case RecurrentCell::SimpleRNN:
        for (int64_t j = 0; j < H; ++j) gates[j] = xp[j] + rp[j];
        act_in_place(a, gates, H);
        for (int64_t j = 0; j < H; ++j) h[j] = gates[j];
        break;
      case RecurrentCell::LSTM: {
        const float* cp = f.c_prev + b * H;
        float* c = f.c + b * H;
        float* tc = f.aux + b * H;  // act(c), kept for the backward
        for (int64_t j = 0; j < GH; ++j) gates[j] = xp[j] + rp[j];
        act_in_place(ra, gates, 2 * H);  // i, f
        act_in_place(a, gates + 2 * H, H);
        act_in_place(ra, gates + 3 * H, H);
        // Keras: c = f * c_tm1 + i * act(z_c); h = o * act(c).
        for (int64_t j = 0; j < H; ++j)
          c[j] = tc[j] = gates[H + j] * cp[j] + gates[j] * gates[2 * H + j];
        act_in_place(a, tc, H);
        for (int64_t j = 0; j < H; ++j) h[j] = gates[3 * H + j] * tc[j];
        break;
      }
      case RecurrentCell::GRU: {
        if (s.reset_after) {
          const float* rb = f.rec_bias;
          float* rh = f.aux + b * H;  // the recurrent h block with its bias, for the backward
          for (int64_t j = 0; j < 2 * H; ++j) gates[j] = xp[j] + rp[j] + (rb ? rb[j] : 0.0f);
          act_in_place(ra, gates, 2 * H);
          for (int64_t j = 0; j < H; ++j) {
            rh[j] = rp[2 * H + j] + (rb ? rb[2 * H + j] : 0.0f);
            gates[2 * H + j] = xp[2 * H + j] + gates[H + j] * rh[j];
          }
        } else {
          // z and r from gru_reset_gate_forward; rp's h block is (r h') U_h.
          for (int64_t j = 0; j < H; ++j) gates[2 * H + j] = xp[2 * H + j] + rp[2 * H + j];
        }
        act_in_place(a, gates + 2 * H, H);
        for (int64_t j = 0; j < H; ++j)
          h[j] = gates[j] * hp[j] + (1.0f - gates[j]) * gates[2 * H + j];
        break;
      }
    }
    if (y)
      for (int64_t j = 0; j < H; ++j) y[j] = h[j];
  });
}

void gru_reset_gate_forward(const RecurrentStepSpec& s, const GruResetGateForward& f) {
  const int64_t H = s.units, GH = 3 * H;
  cpu::parallel_for(s.batch, s.batch * H, [&](int64_t b) {
    const float* xp = f.xp + b * f.xp_stride;
    const float* rp = f.rp + b * GH;
    float* gates = f.gates + b * GH;
    for (int64_t j = 0; j < H; ++j) {
      const float z = act_forward(s.recurrent_activation, xp[j] + rp[j]);
      const float r = act_forward(s.recurrent_activation, xp[H + j] + rp[H + j]);
      gates[j] = z;
      gates[H + j] = r;
      f.rh[b * H + j] = r * f.h_rec[b * H + j];
    }
  });
}

void recurrent_step_backward(const RecurrentStepSpec& s, const RecurrentStepBackward& k) {
  const int64_t H = s.units, G = s.gates(), GH = G * H;
  const ActivationKind a = s.activation, ra = s.recurrent_activation;
  cpu::parallel_for(s.batch, s.batch * H, [&](int64_t b) {
    const float* gates = k.gates + b * GH;
    const float* dhn = k.dh_next + b * H;
    const float* dy = k.dy ? k.dy + b * k.dy_stride : nullptr;
    float* dxp = k.dxp + b * k.dxp_stride;
    float* drp = k.drp + b * GH;
    float* dhp = k.dh_prev + b * H;
    if (!kept(k.mask, k.mask_stride, b)) {
      // h_new = h_prev, and the output is h_prev too unless zeroed.
      for (int64_t j = 0; j < H; ++j)
        dhp[j] = dhn[j] + (dy && !s.zero_output_for_mask ? dy[j] : 0.0f);
      if (s.cell == RecurrentCell::LSTM)
        for (int64_t j = 0; j < H; ++j) k.dc_prev[b * H + j] = k.dc_next[b * H + j];
      for (int64_t j = 0; j < GH; ++j) dxp[j] = drp[j] = 0.0f;
      return;
    }
    switch (s.cell) {
      case RecurrentCell::SimpleRNN:
        for (int64_t j = 0; j < H; ++j) {
          const float dh = dhn[j] + (dy ? dy[j] : 0.0f);
          dxp[j] = drp[j] = act_grad(a, dh, gates[j]);
          dhp[j] = 0.0f;
        }
        break;
      case RecurrentCell::LSTM: {
        const float* cp = k.c_prev + b * H;
        const float* dcn = k.dc_next + b * H;
        float* dcp = k.dc_prev + b * H;
        for (int64_t j = 0; j < H; ++j) {
          const float dh = dhn[j] + (dy ? dy[j] : 0.0f);
          const float i = gates[j], fg = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
          const float tc = k.aux[b * H + j];
          const float dc = dcn[j] + act_grad(a, dh * o, tc);
          const float di = act_grad(ra, dc * g, i);
          const float df = act_grad(ra, dc * cp[j], fg);
          const float dg = act_grad(a, dc * i, g);
          const float dout = act_grad(ra, dh * tc, o);
          dxp[j] = drp[j] = di;
          dxp[H + j] = drp[H + j] = df;
          dxp[2 * H + j] = drp[2 * H + j] = dg;
          dxp[3 * H + j] = drp[3 * H + j] = dout;
          dcp[j] = dc * fg;
          dhp[j] = 0.0f;
        }
        break;
      }
      case RecurrentCell::GRU: {
        const float* hp = k.h_prev + b * H;
        for (int64_t j = 0; j < H; ++j) {
          const float dh = dhn[j] + (dy ? dy[j] : 0.0f);
          const float z = gates[j], r = gates[H + j], hh = gates[2 * H + j];
          const float dz = act_grad(ra, dh * (hp[j] - hh), z);
          const float dhh = act_grad(a, dh * (1.0f - z), hh);
          dxp[j] = drp[j] = dz;
          dxp[2 * H + j] = dhh;
          if (s.reset_after) {
            const float rh = k.aux[b * H + j];
            const float dr = act_grad(ra, dhh * rh, r);
            dxp[H + j] = drp[H + j] = dr;
            drp[2 * H + j] = dhh * r;
          } else {
            drp[2 * H + j] = dhh;  // d loss / d ((r h') U_h); the r block comes second
          }
          dhp[j] = dh * z;
        }
        break;
      }
    }
  });
}

void gru_reset_gate_backward(const RecurrentStepSpec& s, const GruResetGateBackward& k) {
  const int64_t H = s.units, GH = 3 * H;
  cpu::parallel_for(s.batch, s.batch * H, [&](int64_t b) {
    const float* gates = k.gates + b * GH;
    for (int64_t j = 0; j < H; ++j) {
      const float drh = k.drh[b * H + j], r = gates[H + j];
      const float dr = act_grad(s.recurrent_activation, drh * k.h_rec[b * H + j], r);
      k.dxp[b * k.dxp_stride + H + j] = dr;
      k.drp[b * GH + H + j] = dr;
      k.dh_prev[b * H + j] += drh * r * (k.rec_mask ? k.rec_mask[b * H + j] : 1.0f);
    }
  });
}

void dropout_factors(uint64_t key, uint64_t counter, int64_t n, float keep_prob, uint8_t* bits,
                     float* out) {
  bernoulli_mask(key, counter, n, keep_prob, bits);
  const float scale = 1.0f / keep_prob;
  for (int64_t i = 0; i < n; ++i) out[i] = bits[i] ? scale : 0.0f;
}

}  // namespace ember::kernels
