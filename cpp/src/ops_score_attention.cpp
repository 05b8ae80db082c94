#include "ember/ops_score_attention.h"

#include "ember/activations.h"
#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

// Keras's padding value for float32 scores (Attention._apply_scores).
constexpr float kMaskPenalty = 1.0e9f;

}  // namespace

// ---- BatchMatMulOp
Shape BatchMatMulOp::build(const std::vector<Shape>& inputs) {
  const std::string op = trans_b_ ? "batch matmul a @ b^T" : "batch matmul a @ b";
  if (inputs.size() != 2) throw ValueError(op + " takes two inputs");
  const Shape &a = inputs[0], &b = inputs[1];
  const std::string shapes = batched_shape_to_string(a) + " and " + batched_shape_to_string(b);
  if (a.size() < 2 || a.size() != b.size())
    throw ValueError(op +
                     ": needs inputs of one rank of at least 3 (batch, ..., rows, cols), "
                     "got " +
                     shapes);
  for (size_t d = 0; d + 2 < a.size(); ++d)
    if (a[d] != b[d]) throw ValueError(op + ": the leading axes of " + shapes + " differ");
  const size_t r = a.size();
  m_ = a[r - 2];
  k_ = a[r - 1];
  n_ = trans_b_ ? b[r - 2] : b[r - 1];
  const int64_t bk = trans_b_ ? b[r - 1] : b[r - 2];
  if (bk != k_)
    throw ValueError(op + ": shapes " + shapes + " do not match (" + std::to_string(k_) +
                     " against " + std::to_string(bk) + ")");
  groups_ = 1;
  for (size_t d = 0; d + 2 < r; ++d) groups_ *= a[d];
  Shape out(a.begin(), a.end() - 2);
  out.push_back(m_);
  out.push_back(n_);
  return out;
}

void BatchMatMulOp::forward(const OpForward& f) {
  f.ctx->be().gemm_batched(*f.ctx, false, trans_b_, m_, n_, k_, 1.0f, f.in[0], m_ * k_, f.in[1],
                           k_ * n_, 0.0f, f.out, m_ * n_, f.rows * groups_);
}

void BatchMatMulOp::backward(const OpBackward& b) {
  const int64_t batch = b.rows * groups_;
  const Context& ctx = *b.ctx;
  // da (m, k) = dy (m, n) @ op(b)^T; db = a^T dy (k, n), or dy^T a (n, k) when transposed.
  if (b.din[0])
    ctx.be().gemm_batched(ctx, false, !trans_b_, m_, k_, n_, 1.0f, b.dout, m_ * n_, b.in[1],
                          k_ * n_, b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0], m_ * k_, batch);
  if (b.din[1]) {
    const float beta = b.din_accumulate[1] ? 1.0f : 0.0f;
    if (trans_b_)
      ctx.be().gemm_batched(ctx, true, false, n_, k_, m_, 1.0f, b.dout, m_ * n_, b.in[0], m_ * k_,
                            beta, b.din[1], k_ * n_, batch);
    else
      ctx.be().gemm_batched(ctx, true, false, k_, n_, m_, 1.0f, b.in[0], m_ * k_, b.dout, m_ * n_,
                            beta, b.din[1], k_ * n_, batch);
  }
}

// ---- MaskedSoftmaxOp
Shape MaskedSoftmaxOp::build(const std::vector<Shape>& inputs) {
  if (inputs.empty() || inputs.size() > 2)
    throw ValueError("masked softmax takes the scores and an optional mask");
  const Shape& s = inputs[0];
  if (s.size() < 2)
    throw ValueError("masked softmax: the scores need a query and a key axis, got shape " +
                     batched_shape_to_string(s));
  tq_ = s[s.size() - 2];
  tv_ = s.back();
  groups_ = tq_ * tv_ > 0 ? num_elements(s) / (tq_ * tv_) : 0;
  has_mask_ = inputs.size() == 2;
  if (has_mask_) {
    Shape want(s.begin(), s.end() - 2);
    want.push_back(tv_);
    if (inputs[1] != want)
      throw ValueError("masked softmax: the mask of scores " + batched_shape_to_string(s) +
                       " must have shape " + batched_shape_to_string(want) + " (one entry per " +
                       "key), got " + batched_shape_to_string(inputs[1]));
  }
  return s;
}

std::vector<size_t> MaskedSoftmaxOp::scratch_bytes(int64_t max_rows) const {
  return {static_cast<size_t>(max_rows * groups_ * tq_ * tv_) * sizeof(float)};
}

void MaskedSoftmaxOp::forward(const OpForward& f) {
  const Context& ctx = *f.ctx;
  const int64_t groups = f.rows * groups_;
  ctx.be().mask_scores(ctx, f.in[0], has_mask_ ? f.in[1] : nullptr, causal_, groups, tq_, tv_,
                       kMaskPenalty, f.out);
  ctx.be().activation_forward(ctx, Activation::softmax(), f.out, f.out, groups * tq_, tv_);
}

void MaskedSoftmaxOp::backward(const OpBackward& b) {
  const Context& ctx = *b.ctx;
  const int64_t lines = b.rows * groups_ * tq_;
  if (has_mask_ && b.din[1] && !b.din_accumulate[1])  // the mask takes no gradient
    ctx.be().fill(ctx, b.din[1], b.rows * groups_ * tv_, 0.0f);
  if (!b.din[0]) return;
  float* dx = b.din_accumulate[0] ? b.scratch_as<float>(0) : b.din[0];
  ctx.be().activation_backward(ctx, Activation::softmax(), nullptr, b.out, b.dout, dx, lines, tv_);
  if (b.din_accumulate[0]) ctx.be().add_into(ctx, dx, b.din[0], lines * tv_, true);
}

}  // namespace ember
