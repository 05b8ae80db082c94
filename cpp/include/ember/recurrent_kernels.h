// The fused gate passes of the recurrent ops (SimpleRNN, LSTM, GRU): the per-element math of
// one timestep, between the GEMMs that RecurrentOp (ops_recurrent.h) runs through the backend.
//
// B rows (the batch), H units, G gates (SimpleRNN 1, LSTM 4: i f c o, GRU 3: z r h), all
// row-major float32. "xp" is a timestep's input projection x W + input bias; "rp" its recurrent
// projection h' U (+ GRU reset_after's recurrent bias, passed separately), h' being the previous
// state (times the recurrent dropout mask in training). Gates are stored activated, and every
// gradient is read off the stored values (each supported activation's derivative is a function
// of its output).
#pragma once
#include <cstdint>

#include "ember/activations.h"

namespace ember {

enum class RecurrentCell : uint8_t { SimpleRNN, LSTM, GRU };

namespace kernels {

// The shape of one timestep's gate pass.
struct RecurrentStepSpec {
  RecurrentCell cell = RecurrentCell::LSTM;
  bool reset_after = true;  // GRU: the reset gate multiplies h' U_h (True) or h' (False)
  // linear, tanh, sigmoid, hard_sigmoid or relu (RecurrentOp checks)
  ActivationKind activation = ActivationKind::Tanh;
  ActivationKind recurrent_activation = ActivationKind::Sigmoid;
  int64_t batch = 0, units = 0;
  // Masked steps output 0 instead of the carried state (Bidirectional's return_sequences).
  bool zero_output_for_mask = false;
  int64_t gates() const {
    return cell == RecurrentCell::LSTM ? 4 : cell == RecurrentCell::GRU ? 3 : 1;
  }
};

// Pointers of one forward timestep. Row b of xp is at xp + b * xp_stride (G*H values); rp, the
// gates, the states are contiguous (B, G*H) / (B, H). mask: row b's keep flag at
// mask[b * mask_stride] (null: every row kept); a masked row keeps h_prev (and c_prev) and outputs
// h_prev, or 0 with zero_output_for_mask. y: row b's output (H) at y + b * y_stride, or null.
struct RecurrentStepForward {
  const float* xp = nullptr;
  int64_t xp_stride = 0;
  const float* rp = nullptr;        // (B, G*H); GRU reset_before: its h block is (r * h') U_h
  const float* rec_bias = nullptr;  // (G*H) or null: GRU reset_after's recurrent bias
  const float* h_prev = nullptr;    // (B, H)
  const float* c_prev = nullptr;    // (B, H), LSTM
  const float* mask = nullptr;
  int64_t mask_stride = 0;
  float* gates = nullptr;  // (B, G*H) out: activated gates (GRU: z, r, candidate)
  float* aux = nullptr;    // (B, H) out: LSTM act(c); GRU reset_after: rp's h block + bias_h
  float* h = nullptr;      // (B, H) out
  float* c = nullptr;      // (B, H) out, LSTM
  float* y = nullptr;
  int64_t y_stride = 0;
};

// GRU reset_before's first pass: z and r into the gates' first two blocks, and
// rh = r * h_rec (B, H), h_rec being h' of the candidate's product (rh U_h follows).
struct GruResetGateForward {
  const float* xp = nullptr;
  int64_t xp_stride = 0;
  const float* rp = nullptr;     // (B, 3H): the z and r blocks are read
  const float* h_rec = nullptr;  // (B, H)
  float* gates = nullptr;        // (B, 3H)
  float* rh = nullptr;           // (B, H)
};

// Pointers of one backward timestep. dh_next / dc_next: d loss / d (this step's new h / c);
// dy: d loss / d (this step's output), row b at dy + b * dy_stride, or null. Writes the
// preactivation gradients of the input projection (dxp, rows at dxp_stride) and of the
// recurrent projection (drp, contiguous (B, G*H)), and the direct part of d loss / d h_prev
// (dh_prev; the recurrent GEMM adds drp U^T afterwards) and d loss / d c_prev. dh_prev may be
// dh_next and dc_prev dc_next (updated in place). Masked rows pass their gradients through and
// give the gates none.
struct RecurrentStepBackward {
  const float* gates = nullptr;   // (B, G*H) from the forward
  const float* aux = nullptr;     // the forward's aux (LSTM act(c), GRU reset_after rp_h + b)
  const float* h_prev = nullptr;  // (B, H)
  const float* c_prev = nullptr;  // (B, H), LSTM
  const float* mask = nullptr;
  int64_t mask_stride = 0;
  const float* dh_next = nullptr;
  const float* dc_next = nullptr;
  const float* dy = nullptr;
  int64_t dy_stride = 0;
  float* dxp = nullptr;
  int64_t dxp_stride = 0;
  float* drp = nullptr;      // GRU reset_before: the r block is left to the second pass
  float* dh_prev = nullptr;  // (B, H)
  float* dc_prev = nullptr;  // (B, H), LSTM
};

// GRU reset_before's second backward pass: with drh = d loss / d rh = drp_h U_h^T (B, H),
// the r block of dxp and drp (drh * h_rec * r'), and dh_prev += drh * r * (rec_mask or 1).
struct GruResetGateBackward {
  const float* gates = nullptr;     // (B, 3H)
  const float* h_rec = nullptr;     // (B, H): h' of the candidate's product
  const float* drh = nullptr;       // (B, H)
  const float* rec_mask = nullptr;  // (B, H) or null: the candidate's recurrent dropout mask
  float* dxp = nullptr;
  int64_t dxp_stride = 0;
  float* drp = nullptr;
  float* dh_prev = nullptr;
};

void recurrent_step_forward(const RecurrentStepSpec& spec, const RecurrentStepForward& f);
void gru_reset_gate_forward(const RecurrentStepSpec& spec, const GruResetGateForward& f);
void recurrent_step_backward(const RecurrentStepSpec& spec, const RecurrentStepBackward& b);
void gru_reset_gate_backward(const RecurrentStepSpec& spec, const GruResetGateBackward& b);
// out(n) = the Bernoulli(keep_prob) draws of bernoulli_mask(key, counter) as dropout factors:
// 1 / keep_prob where kept, else 0 (Keras's dropout of a tensor of ones). bits: n bytes of work.
void dropout_factors(uint64_t key, uint64_t counter, int64_t n, float keep_prob, uint8_t* bits,
                     float* out);

}  // namespace kernels
}  // namespace ember
