#include "ember/ops_recurrent.h"

#include <algorithm>
#include <string>

#include "ember/backend.h"
#include "ember/error.h"
#include "ember/reducer.h"

namespace ember {
namespace {

const char* cell_name(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::SimpleRNN: return "SimpleRNN";
    case RecurrentCell::LSTM: return "LSTM";
    case RecurrentCell::GRU: return "GRU";
  }
  return "?";
}

bool fused_activation(ActivationKind k) {
  return k == ActivationKind::Linear || k == ActivationKind::Tanh || k == ActivationKind::Sigmoid ||
         k == ActivationKind::HardSigmoid || k == ActivationKind::Relu;
}

// n elements, both operands contiguous (x) or b broadcast (stride 0).
StridedLayout flat(int64_t n) {
  StridedLayout l;
  l.rank = 1;
  l.shape[0] = n;
  l.stride[0][0] = 1;
  l.stride[1][0] = 1;
  return l;
}

// (outer, inner): a contiguous, b (inner values) read again for every outer index.
StridedLayout repeated(int64_t outer, int64_t inner) {
  StridedLayout l;
  l.rank = 2;
  l.shape[0] = outer;
  l.shape[1] = inner;
  l.stride[0][0] = inner;
  l.stride[0][1] = 1;
  l.stride[1][0] = 0;
  l.stride[1][1] = 1;
  return l;
}

// (B, T, I): a contiguous, b one (I) row per sample, the same at every timestep.
StridedLayout per_sample(int64_t rows, int64_t steps, int64_t size) {
  StridedLayout l;
  l.rank = 3;
  l.shape[0] = rows;
  l.shape[1] = steps;
  l.shape[2] = size;
  l.stride[0][0] = steps * size;
  l.stride[0][1] = size;
  l.stride[0][2] = 1;
  l.stride[1][0] = size;
  l.stride[1][1] = 0;
  l.stride[1][2] = 1;
  return l;
}

// out (+)= x * m over `layout` (x and out contiguous, m as the layout reads it).
void multiply_into(const Context& ctx, const StridedLayout& layout, const float* x, const float* m,
                   float* out, bool accumulate) {
  Backend& be = ctx.be();
  if (accumulate)  // d(x * m) / dx = m: the elementwise engine's gradient adds dout * m
    be.binary_backward(ctx, BinaryKind::Multiply, layout, x, m, nullptr, x, out, true, nullptr,
                       false);
  else
    be.binary_forward(ctx, BinaryKind::Multiply, layout, x, m, out);
}

// (rows, cols) values at stride `from` copied to stride `to` (a block of columns of a row).
StridedLayout columns(int64_t rows, int64_t cols, int64_t from, int64_t to) {
  StridedLayout l;
  l.rank = 2;
  l.shape[0] = rows;
  l.shape[1] = cols;
  l.stride[0][0] = from;
  l.stride[0][1] = 1;
  l.stride[1][0] = to;
  l.stride[1][1] = 1;
  return l;
}

// One timestep's GEMM, C(m, n) = A(m, k) op(B) + beta C, in column blocks small enough that
// OpenBLAS runs each on the calling thread (it threads a product only from m * n * k = 2^18
// on). A step's products are tiny and there is one per timestep: waking the thread pool for
// each costs more than the product, and on a busy machine a wait for the other thread's
// timeslice costs milliseconds (measured: 28 s instead of 2 s per epoch of keras.io's IMDB
// LSTM shapes). The projections over all timesteps stay whole and threaded.
void step_gemm(const Context& ctx, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  constexpr int64_t kSerialProduct = (int64_t{1} << 18) - 1;
  const int64_t block = std::max<int64_t>(1, kSerialProduct / std::max<int64_t>(1, m * k));
  for (int64_t j = 0; j < n; j += block) {
    const int64_t cols = std::min(block, n - j);
    // Columns j.. of op(B): B's columns (rows when transposed) from j.
    ctx.be().gemm_ld(ctx, false, trans_b, m, cols, k, 1.0f, a, lda, b + (trans_b ? j * ldb : j),
                     ldb, beta, c + j, ldc);
  }
}

}  // namespace

RecurrentOp::RecurrentOp(VariablePtr kernel, VariablePtr recurrent_kernel, VariablePtr bias,
                         RecurrentConfig config)
    : kernel_(std::move(kernel)),
      recurrent_(std::move(recurrent_kernel)),
      bias_(std::move(bias)),
      config_(config),
      key_(config.seed) {
  const std::string name = cell_name(config_.cell);
  if (!kernel_ || !recurrent_)
    throw ValueError(name + ": kernel and recurrent_kernel are required");
  for (ActivationKind k : {config_.activation, config_.recurrent_activation})
    if (!fused_activation(k))
      throw ValueError(name +
                       ": the fused recurrent kernels support the activations linear, "
                       "tanh, sigmoid, hard_sigmoid and relu only");
  if (!(config_.dropout >= 0.0 && config_.dropout <= 1.0) ||
      !(config_.recurrent_dropout >= 0.0 && config_.recurrent_dropout <= 1.0))
    throw ValueError(name + ": dropout and recurrent_dropout must lie in [0, 1]");
  G_ = config_.cell == RecurrentCell::LSTM ? 4 : config_.cell == RecurrentCell::GRU ? 3 : 1;
}

OpKind RecurrentOp::kind() const {
  switch (config_.cell) {
    case RecurrentCell::SimpleRNN: return OpKind::SimpleRNN;
    case RecurrentCell::LSTM: return OpKind::LSTM;
    case RecurrentCell::GRU: return OpKind::GRU;
  }
  return OpKind::LSTM;
}

Shape RecurrentOp::build(const std::vector<Shape>& inputs) {
  const std::string name = cell_name(config_.cell);
  if (inputs.empty() || inputs.size() > 2)
    throw ValueError(name + " takes a sequence and optionally its mask");
  const Shape& x = inputs[0];
  if (x.size() != 2)
    throw ValueError(name + " expects inputs of rank 3 (batch, timesteps, features), got shape " +
                     batched_shape_to_string(x));
  T_ = x[0];
  I_ = x[1];
  if (T_ < 1) throw ValueError(name + ": the sequence needs at least one timestep");
  if (inputs.size() == 2 && inputs[1] != Shape{T_})
    throw ValueError(name + ": the mask must have shape (batch, " + std::to_string(T_) + "), got " +
                     batched_shape_to_string(inputs[1]));
  const Shape& u = recurrent_->value.shape();
  if (u.size() != 2 || u[1] != G_ * u[0])
    throw ValueError(name + ": recurrent_kernel has shape " + shape_to_string(u) +
                     ", expected (units, " + std::to_string(G_) + " * units)");
  H_ = u[0];
  const int64_t GH = G_ * H_;
  if (kernel_->value.shape() != Shape{I_, GH})
    throw ValueError(name + ": kernel has shape " + shape_to_string(kernel_->value.shape()) +
                     ", expected " + shape_to_string(Shape{I_, GH}) + " for inputs of " +
                     std::to_string(I_) + " features");
  if (bias_) {
    const bool two = config_.cell == RecurrentCell::GRU && config_.reset_after;
    const Shape want = two ? Shape{2, GH} : Shape{GH};
    if (bias_->value.shape() != want)
      throw ValueError(name + ": bias has shape " + shape_to_string(bias_->value.shape()) +
                       ", expected " + shape_to_string(want));
  }
  const int64_t y = config_.return_sequences ? T_ * H_ : H_;
  if (!config_.return_state) {
    out_row_ = y;
    return config_.return_sequences ? Shape{T_, H_} : Shape{H_};
  }
  out_row_ = y + H_ * (config_.cell == RecurrentCell::LSTM ? 2 : 1);
  return Shape{out_row_};
}

std::vector<VariablePtr> RecurrentOp::variables() const {
  std::vector<VariablePtr> v{kernel_, recurrent_};
  if (bias_) v.push_back(bias_);
  return v;
}

int64_t RecurrentOp::input_masks(bool training) const {
  if (!training || config_.dropout <= 0.0) return 0;
  // Keras's implementation 1 (asked for, or implied by recurrent_dropout): a mask per gate.
  return config_.recurrent_dropout > 0.0 || config_.mask_per_gate ? G_ : 1;
}

int64_t RecurrentOp::state_masks(bool training) const {
  return training && config_.recurrent_dropout > 0.0 ? G_ : 0;
}

kernels::RecurrentStepSpec RecurrentOp::spec(int64_t rows) const {
  kernels::RecurrentStepSpec s;
  s.cell = config_.cell;
  s.reset_after = config_.reset_after;
  s.activation = config_.activation;
  s.recurrent_activation = config_.recurrent_activation;
  s.batch = rows;
  s.units = H_;
  s.zero_output_for_mask = config_.zero_output_for_mask;
  return s;
}

std::vector<size_t> RecurrentOp::scratch_bytes(int64_t max_rows) const {
  const auto B = static_cast<size_t>(max_rows), T = static_cast<size_t>(T_),
             H = static_cast<size_t>(H_), I = static_cast<size_t>(I_), G = static_cast<size_t>(G_);
  const size_t GH = G * H, f = sizeof(float);
  const bool lstm = config_.cell == RecurrentCell::LSTM, gru = config_.cell == RecurrentCell::GRU;
  const auto n_in = static_cast<size_t>(input_masks(true));
  const auto n_rec = static_cast<size_t>(state_masks(true));
  const size_t temp = G * B * H + 2 * B * H + std::max(T * B * H, n_in ? B * T * I : 0);
  return {B * T * GH * f,
          T * B * GH * f,
          (T + 1) * B * H * f,
          lstm ? (T + 1) * B * H * f : 0,
          lstm || gru ? T * B * H * f : 0,
          B * GH * f,
          T * B * GH * f,
          2 * B * H * f,
          temp * f,
          n_in * B * I * f,
          n_rec * B * H * f,
          std::max(n_in * B * I, n_rec * B * H),
          n_in * B * T * I * f};
}

void RecurrentOp::recurrent_product(const Context& ctx, int64_t rows, const float* h,
                                    const float* rec_mask, float* hrec, int64_t gate_begin,
                                    int64_t gate_end, float* out) const {
  Backend& be = ctx.be();
  const int64_t GH = G_ * H_;
  const float* U = recurrent_->value.data();
  if (!rec_mask) {
    step_gemm(ctx, false, rows, (gate_end - gate_begin) * H_, H_, h, H_, U + gate_begin * H_, GH,
              0.0f, out + gate_begin * H_, GH);
    return;
  }
  for (int64_t g = gate_begin; g < gate_end; ++g) {
    float* hg = hrec + g * rows * H_;
    be.binary_forward(ctx, BinaryKind::Multiply, flat(rows * H_), h, rec_mask + g * rows * H_, hg);
    step_gemm(ctx, false, rows, H_, H_, hg, H_, U + g * H_, GH, 0.0f, out + g * H_, GH);
  }
}

void RecurrentOp::forward(const OpForward& f) {
  const int64_t B = f.rows;
  if (B == 0) return;
  const Context& ctx = *f.ctx;
  Backend& be = ctx.be();
  const int64_t H = H_, T = T_, I = I_, GH = G_ * H_, BH = B * H;
  const bool lstm = config_.cell == RecurrentCell::LSTM, gru = config_.cell == RecurrentCell::GRU;
  const bool reset_before = gru && !config_.reset_after;
  const float* x = f.in[0];
  const float* mask = f.in.size() > 1 ? f.in[1] : nullptr;
  float* P = f.scratch_as<float>(kProj);
  float* A = f.scratch_as<float>(kGates);
  float* S = f.scratch_as<float>(kStates);
  float* C = f.scratch_as<float>(kCells);
  float* aux = f.scratch_as<float>(kAux);
  float* R = f.scratch_as<float>(kRec);
  float* temp = f.scratch_as<float>(kTemp);
  float* hrec = temp;             // (G, B, H): h' per gate
  float* hcand = temp + G_ * BH;  // (B, H): h' of GRU reset_before's candidate
  float* in_mask = f.scratch_as<float>(kInMask);
  float* rec_mask = f.scratch_as<float>(kRecMask);
  auto* bits = f.scratch_as<uint8_t>(kMaskBits);
  float* xdrop = f.scratch_as<float>(kXDrop);
  const float* W = kernel_->value.data();

  // Dropout masks: one draw per sequence, held across its timesteps.
  const int64_t n_in = input_masks(f.training), n_rec = state_masks(f.training);
  if (n_in) {
    const int64_t n = n_in * B * I;
    be.dropout_factors(ctx, key_for_rank(key_, ctx.reducer), counter_, n,
                       static_cast<float>(1.0 - config_.dropout), bits, in_mask);
    counter_ += static_cast<uint64_t>(n);
    for (int64_t g = 0; g < n_in; ++g)
      be.binary_forward(ctx, BinaryKind::Multiply, per_sample(B, T, I), x, in_mask + g * B * I,
                        xdrop + g * B * T * I);
  }
  if (n_rec) {
    const int64_t n = n_rec * BH;
    be.dropout_factors(ctx, key_for_rank(key_, ctx.reducer), counter_, n,
                       static_cast<float>(1.0 - config_.recurrent_dropout), bits, rec_mask);
    counter_ += static_cast<uint64_t>(n);
  }

  // Every timestep's input projection at once: (B*T, I) x (I, G*H), plus the input bias.
  if (n_in <= 1) {
    be.gemm(ctx, false, false, B * T, GH, I, 1.0f, n_in ? xdrop : x, W, 0.0f, P);
  } else {
    for (int64_t g = 0; g < G_; ++g)
      be.gemm_ld(ctx, false, false, B * T, H, I, 1.0f, xdrop + g * B * T * I, I, W + g * H, GH,
                 0.0f, P + g * H, GH);
  }
  const float* bias = bias_ ? bias_->value.data() : nullptr;
  if (bias) be.bias_activation_forward(ctx, Activation(), P, bias, nullptr, B * T, GH);
  const float* rec_bias = bias && gru && config_.reset_after ? bias + GH : nullptr;

  be.fill(ctx, S, BH, 0.0f);
  if (lstm) be.fill(ctx, C, BH, 0.0f);
  const float* rmask = n_rec ? rec_mask : nullptr;
  const kernels::RecurrentStepSpec sp = spec(B);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = time_of(s);
    const float* hp = S + s * BH;
    kernels::RecurrentStepForward k;
    k.xp = P + t * GH;
    k.xp_stride = T * GH;
    k.rp = R;
    k.rec_bias = rec_bias;
    k.h_prev = hp;
    k.mask = mask ? mask + t : nullptr;
    k.mask_stride = T;
    k.gates = A + s * B * GH;
    k.h = S + (s + 1) * BH;
    if (lstm) {
      k.c_prev = C + s * BH;
      k.c = C + (s + 1) * BH;
    }
    if (lstm || (gru && config_.reset_after)) k.aux = aux + s * BH;
    if (config_.return_sequences) {
      k.y = f.out + s * H;
    } else if (s == T - 1) {
      k.y = f.out;
    }
    k.y_stride = out_row_;
    if (reset_before) {
      recurrent_product(ctx, B, hp, rmask, hrec, 0, 2, R);
      const float* h_cand = hp;
      if (rmask) {
        be.binary_forward(ctx, BinaryKind::Multiply, flat(BH), hp, rmask + 2 * BH, hcand);
        h_cand = hcand;
      }
      kernels::GruResetGateForward r;
      r.xp = k.xp;
      r.xp_stride = k.xp_stride;
      r.rp = R;
      r.h_rec = h_cand;
      r.gates = k.gates;
      r.rh = aux + s * BH;
      be.gru_reset_gate_forward(ctx, sp, r);
      step_gemm(ctx, false, B, H, H, r.rh, H, recurrent_->value.data() + 2 * H, GH, 0.0f, R + 2 * H,
                GH);
    } else {
      recurrent_product(ctx, B, hp, rmask, hrec, 0, G_, R);
    }
    be.recurrent_step_forward(ctx, sp, k);
  }
  if (config_.return_state) {
    const int64_t y = config_.return_sequences ? T * H : H;
    be.strided_copy(ctx, columns(B, H, H, out_row_), S + T * BH, f.out + y, false);
    if (lstm) be.strided_copy(ctx, columns(B, H, H, out_row_), C + T * BH, f.out + y + H, false);
  }
}

void RecurrentOp::backward(const OpBackward& b) {
  const int64_t B = b.rows;
  const Context& ctx = *b.ctx;
  Backend& be = ctx.be();
  const int64_t H = H_, T = T_, I = I_, GH = G_ * H_, BH = B * H;
  if (b.din.size() > 1 && b.din[1] && !b.din_accumulate[1])  // the mask takes no gradient
    be.fill(ctx, b.din[1], B * T, 0.0f);
  if (B == 0) {
    for (size_t i = 0; i < b.dvar.size(); ++i)
      if (b.dvar[i] && !b.dvar_accumulate[i])
        be.fill(ctx, b.dvar[i], variables()[i]->value.size(), 0.0f);
    return;
  }
  const bool lstm = config_.cell == RecurrentCell::LSTM, gru = config_.cell == RecurrentCell::GRU;
  const bool reset_before = gru && !config_.reset_after;
  const float* x = b.in[0];
  const float* mask = b.in.size() > 1 ? b.in[1] : nullptr;
  float* dP = b.scratch_as<float>(kProj);  // the projections are spent: their gradients go here
  const float* A = b.scratch_as<float>(kGates);
  const float* S = b.scratch_as<float>(kStates);
  const float* C = b.scratch_as<float>(kCells);
  const float* aux = b.scratch_as<float>(kAux);
  float* dR = b.scratch_as<float>(kRecGrad);
  float* DH = b.scratch_as<float>(kDh);
  float* DC = DH + BH;
  float* temp = b.scratch_as<float>(kTemp);
  float* drh = temp + G_ * BH;  // (B, H)
  float* hcand = drh + BH;      // (B, H)
  float* big = hcand + BH;      // (max(T*B*H, B*T*I))
  float* gtemp = temp;          // (B, H): one gate's d h' when each has its own mask
  const float* in_mask = b.scratch_as<float>(kInMask);
  const float* rec_mask = b.scratch_as<float>(kRecMask);
  const float* xdrop = b.scratch_as<float>(kXDrop);
  const float* W = kernel_->value.data();
  const float* U = recurrent_->value.data();
  const int64_t n_in = input_masks(b.training), n_rec = state_masks(b.training);
  const float* rmask = n_rec ? rec_mask : nullptr;

  // The gradients arriving at the final states.
  const int64_t y = config_.return_sequences ? T * H : H;
  if (config_.return_state)
    be.strided_copy(ctx, columns(B, H, out_row_, H), b.dout + y, DH, false);
  else
    be.fill(ctx, DH, BH, 0.0f);
  if (lstm) {
    if (config_.return_state)
      be.strided_copy(ctx, columns(B, H, out_row_, H), b.dout + y + H, DC, false);
    else
      be.fill(ctx, DC, BH, 0.0f);
  }

  const kernels::RecurrentStepSpec sp = spec(B);
  const int64_t rec_gates = reset_before ? 2 : G_;  // gates whose preactivation has h' U
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = time_of(s);
    const float* hp = S + s * BH;
    kernels::RecurrentStepBackward k;
    k.gates = A + s * B * GH;
    if (lstm || (gru && config_.reset_after)) k.aux = aux + s * BH;
    k.h_prev = hp;
    if (lstm) {
      k.c_prev = C + s * BH;
      k.dc_next = DC;
      k.dc_prev = DC;
    }
    k.mask = mask ? mask + t : nullptr;
    k.mask_stride = T;
    k.dh_next = DH;
    if (config_.return_sequences) {
      k.dy = b.dout + s * H;
    } else if (s == T - 1) {
      k.dy = b.dout;
    }
    k.dy_stride = out_row_;
    k.dxp = dP + t * GH;
    k.dxp_stride = T * GH;
    k.drp = dR + s * B * GH;
    k.dh_prev = DH;
    be.recurrent_step_backward(ctx, sp, k);
    if (reset_before) {
      step_gemm(ctx, true, B, H, H, k.drp + 2 * H, GH, U + 2 * H, GH, 0.0f, drh, H);
      const float* h_cand = hp;
      if (rmask) {
        be.binary_forward(ctx, BinaryKind::Multiply, flat(BH), hp, rmask + 2 * BH, hcand);
        h_cand = hcand;
      }
      kernels::GruResetGateBackward r;
      r.gates = k.gates;
      r.h_rec = h_cand;
      r.drh = drh;
      r.rec_mask = rmask ? rmask + 2 * BH : nullptr;
      r.dxp = k.dxp;
      r.dxp_stride = k.dxp_stride;
      r.drp = k.drp;
      r.dh_prev = DH;
      be.gru_reset_gate_backward(ctx, sp, r);
    }
    if (s == 0) break;  // the initial state is a constant: nothing flows further
    // d h_prev += d rp U^T (times each gate's mask when the state was dropped out).
    if (!rmask) {
      step_gemm(ctx, true, B, H, rec_gates * H, k.drp, GH, U, GH, 1.0f, DH, H);
    } else {
      for (int64_t g = 0; g < rec_gates; ++g) {
        step_gemm(ctx, true, B, H, H, k.drp + g * H, GH, U + g * H, GH, 0.0f, gtemp, H);
        multiply_into(ctx, flat(BH), gtemp, rmask + g * BH, DH, true);
      }
    }
  }

  size_t vi = 0;
  float* dW = b.dvar[vi];
  const bool dW_acc = b.dvar_accumulate[vi++];
  float* dU = b.dvar[vi];
  const bool dU_acc = b.dvar_accumulate[vi++];
  float* db = bias_ ? b.dvar[vi] : nullptr;
  const bool db_acc = bias_ && b.dvar_accumulate[vi];

  // d recurrent_kernel: every step's h' against its recurrent gradient, one GEMM over all.
  if (dU) {
    const float beta = dU_acc ? 1.0f : 0.0f;
    if (!rmask) {
      be.gemm_ld(ctx, true, false, H, rec_gates * H, T * B, 1.0f, S, H, dR, GH, beta, dU, GH);
    } else {
      for (int64_t g = 0; g < rec_gates; ++g) {
        be.binary_forward(ctx, BinaryKind::Multiply, repeated(T, BH), S, rmask + g * BH, big);
        be.gemm_ld(ctx, true, false, H, H, T * B, 1.0f, big, H, dR + g * H, GH, beta, dU + g * H,
                   GH);
      }
    }
    if (reset_before)  // the candidate's block multiplies r * h'
      be.gemm_ld(ctx, true, false, H, H, T * B, 1.0f, aux, H, dR + 2 * H, GH, beta, dU + 2 * H, GH);
  }
  if (db) {
    be.column_sums(ctx, dP, db, B * T, GH, db_acc);
    if (gru && config_.reset_after) be.column_sums(ctx, dR, db + GH, T * B, GH, db_acc);
  }
  if (dW) {
    const float beta = dW_acc ? 1.0f : 0.0f;
    if (n_in <= 1) {
      be.gemm(ctx, true, false, I, GH, B * T, 1.0f, n_in ? xdrop : x, dP, beta, dW);
    } else {
      for (int64_t g = 0; g < G_; ++g)
        be.gemm_ld(ctx, true, false, I, H, B * T, 1.0f, xdrop + g * B * T * I, I, dP + g * H, GH,
                   beta, dW + g * H, GH);
    }
  }
  float* dx = b.din[0];
  if (dx) {
    if (n_in == 0) {
      be.gemm(ctx, false, true, B * T, I, GH, 1.0f, dP, W, b.din_accumulate[0] ? 1.0f : 0.0f, dx);
    } else {
      for (int64_t g = 0; g < n_in; ++g) {
        const int64_t cols = n_in == 1 ? GH : H;
        be.gemm_ld(ctx, false, true, B * T, I, cols, 1.0f, dP + g * H, GH, W + g * H, GH, 0.0f, big,
                   I);
        multiply_into(ctx, per_sample(B, T, I), big, in_mask + g * B * I, dx,
                      g > 0 || b.din_accumulate[0]);
      }
    }
  }
}

}  // namespace ember
