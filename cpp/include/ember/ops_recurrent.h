// The recurrent ops: SimpleRNN, LSTM and GRU over a whole sequence, each one fused op.
//
// Input 0 is the sequence x (rows, T, I); an optional input 1 is a mask (rows, T): 1 keeps a
// timestep, 0 skips it (the states carry over, the output repeats the carried state, as Keras
// does). Forward: one GEMM projects every timestep's input (B*T, I) x (I, G*H); then per step
// one recurrent GEMM (B, H) x (H, G*H) and one fused gate pass (recurrent_kernels.h). Backward
// through time the same way: per step one fused gate pass and one GEMM for d h_prev; then one
// GEMM each for d recurrent_kernel (over every step's stored state), d kernel and d x.
//
// Weights as Keras 3: kernel (I, G*H), recurrent_kernel (H, G*H), bias (G*H), or (2, 3H) for a
// GRU with reset_after (input bias, recurrent bias); gate order LSTM i f c o, GRU z r h.
//
// The output row is the sequence output (T, H) with return_sequences, else the last output (H);
// with return_state the final states follow it in one flat row: [output..., h (H), c (H, LSTM)]
// (the layer slices them apart).
//
// Training with dropout / recurrent_dropout: one dropout mask per sequence for the input
// (I) and one for the recurrent state (H), fixed across timesteps, as Keras's
// DropoutRNNCell; with recurrent_dropout (Keras's implementation 1) each gate has its own.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/graph.h"
#include "ember/recurrent_kernels.h"

namespace ember {

struct RecurrentConfig {
  RecurrentCell cell = RecurrentCell::LSTM;
  ActivationKind activation = ActivationKind::Tanh;
  ActivationKind recurrent_activation = ActivationKind::Sigmoid;
  bool reset_after = true;  // GRU
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
  double dropout = 0.0, recurrent_dropout = 0.0;
  // A dropout mask per gate (Keras's implementation 1, which recurrent_dropout implies).
  bool mask_per_gate = false;
  uint64_t seed = 0;
};

class RecurrentOp final : public Op {
 public:
  // bias may be null (use_bias False). Throws ValueError for an activation the fused gate
  // passes lack (they have linear, tanh, sigmoid, hard_sigmoid and relu).
  RecurrentOp(VariablePtr kernel, VariablePtr recurrent_kernel, VariablePtr bias,
              RecurrentConfig config);
  OpKind kind() const override;
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  enum Scratch : size_t {
    kProj,      // (B, T, G*H): input projections; in backward their gradients
    kGates,     // (T, B, G*H): activated gates per step
    kStates,    // (T+1, B, H): h before each step and after the last (h' with dropout: kHRec)
    kCells,     // (T+1, B, H): c likewise (LSTM)
    kAux,       // (T, B, H): LSTM's act(c); GRU's rp_h + bias (reset_after) or r * h'
    kRec,       // (B, G*H): one step's recurrent projection
    kRecGrad,   // (T, B, G*H): recurrent preactivation gradients per step
    kDh,        // (B, H) x 2: d h and d c flowing back
    kTemp,      // (max(T*B*H, G*B*H, B*T*I)): h' copies, masked inputs' gradient
    kInMask,    // (n_in, B, I) dropout factors of the input
    kRecMask,   // (n_rec, B, H) of the state
    kMaskBits,  // bytes for the draws
    kXDrop,     // (n_in, B, T, I): the dropped-out inputs
  };
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  kernels::RecurrentStepSpec spec(int64_t rows) const;
  int64_t time_of(int64_t step) const { return config_.go_backwards ? T_ - 1 - step : step; }
  // Dropout masks in use this pass (training only): input masks 0, 1 or G; state masks 0 or G.
  int64_t input_masks(bool training) const;
  int64_t state_masks(bool training) const;
  // C(B, cols) (+)= h' U[:, cols] for one step, gate by gate when each has its own mask.
  void recurrent_product(const Context& ctx, int64_t rows, const float* h, const float* rec_mask,
                         float* hrec, int64_t gate_begin, int64_t gate_end, float* out) const;

  VariablePtr kernel_, recurrent_, bias_;
  RecurrentConfig config_;
  int64_t T_ = 0, I_ = 0, H_ = 0, G_ = 1;
  int64_t out_row_ = 0;  // the output row's size
  uint64_t key_, counter_ = 0;
};

}  // namespace ember
