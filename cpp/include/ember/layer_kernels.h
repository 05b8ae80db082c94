// CPU kernels of the normalization and regularization layers, and of the
// penalties regularizers add to the loss. Every buffer is row-major float32
// unless said otherwise; shapes are given beside each argument.
#pragma once
#include <cstdint>

namespace ember {
class Reducer;
}

namespace ember::kernels {

// ---- BatchNormalization -------------------------------------------------------------------
// A batch is viewed as (m, channels, inner): m = rows x the axes before the channel axis,
// inner = the product of the axes after it (1 for the usual channels-last axis=-1).

// mean(channels), var(channels) = the biased moments of each channel's m * inner values
// (Keras: ops.moments, i.e. jnp.mean / jnp.var), accumulated in double in work (2, channels).
// count: the values per channel the moments are over, m * inner - or, with a reducer
// (data-parallel training, issue 16), the global batch's, x being this rank's shard: the
// per-channel sums are then summed across ranks after each of the two passes.
void channel_moments(const float* x, int64_t m, int64_t channels, int64_t inner, int64_t count,
                     Reducer* reducer, float* mean, float* var, double* work);

// y(m, channels, inner) = x * scale[c] + shift[c]; shift may be null (zero). With accumulate,
// y += instead (used for the input gradient with fixed statistics, shift null).
void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t m,
                    int64_t channels, int64_t inner, bool accumulate = false);

// Per channel: sum_dy[c] = sum dy, sum_dy_xhat[c] = sum dy * (x - mean[c]) * rstd[c], over the
// m * inner values of dy, x (m, channels, inner); accumulated in double in work (2, channels).
void channel_grad_sums(const float* dy, const float* x, const float* mean, const float* rstd,
                       int64_t m, int64_t channels, int64_t inner, float* sum_dy,
                       float* sum_dy_xhat, double* work);

// The input gradient of y = gamma * (x - mean) * rstd + beta when mean and rstd are the
// batch's own statistics (n = count values per channel: m * inner, or with data parallelism
// the global batch's; sum_dy and sum_dy_xhat are then the global batch's too):
// dx = gamma rstd (dy - sum_dy / n - xhat sum_dy_xhat / n), xhat = (x - mean) rstd.
// gamma may be null (scale=False). dx (+)= with accumulate.
void batch_norm_input_grad(const float* dy, const float* x, const float* mean, const float* rstd,
                           const float* gamma, const float* sum_dy, const float* sum_dy_xhat,
                           int64_t m, int64_t channels, int64_t inner, int64_t count, float* dx,
                           bool accumulate);

// ---- LayerNormalization -------------------------------------------------------------------
// Values normalized together form a group; element j of group g of row r sits at
// r * row_size + group_offset[g] + norm_offset[j], so any set of axes can be normalized.
struct GroupLayout {
  int64_t row_size = 0;
  int64_t groups = 0;                     // groups per row
  int64_t size = 0;                       // values per group (the normalized axes' product)
  const int64_t* group_offset = nullptr;  // (groups)
  const int64_t* norm_offset = nullptr;   // (size)
};

// y = (x - mean) rstd gamma + beta per group, with Keras's rounding order (inv = rstd * gamma,
// y = x * inv + (beta - mean * inv)); rms_scaling: y = x rstd gamma (Keras's deprecated
// variant, still dividing by the centred variance). rstd = 1 / sqrt(var + epsilon).
// gamma, beta (size) may be null. Keeps mean, rstd (rows, groups) for the backward pass.
void layer_norm_forward(const GroupLayout& layout, int64_t rows, const float* x, const float* gamma,
                        const float* beta, float epsilon, bool rms_scaling, float* y, float* mean,
                        float* rstd);

// Gradients of layer_norm_forward. dx (rows, row_size), dgamma, dbeta (size) may each be null
// (not needed); each has its own accumulate flag.
void layer_norm_backward(const GroupLayout& layout, int64_t rows, const float* x, const float* dy,
                         const float* gamma, const float* mean, const float* rstd, bool rms_scaling,
                         float* dx, bool dx_accumulate, float* dgamma, bool dgamma_accumulate,
                         float* dbeta, bool dbeta_accumulate);

// ---- Normalization (preprocessing) ----------------------------------------------------------
// y(rows, row_size) = (x - mean[k]) / denom[k], or with invert mean[k] + x * denom[k], where
// k = index[p] maps a row position p to its statistics (mean, denom: (statistics)).
void normalize_forward(const float* x, const float* mean, const float* denom, const int64_t* index,
                       int64_t rows, int64_t row_size, bool invert, float* y);
// dx (+)= dy / denom[k] (invert: dy * denom[k]).
void normalize_backward(const float* dy, const float* denom, const int64_t* index, int64_t rows,
                        int64_t row_size, bool invert, float* dx, bool accumulate);

// ---- Randomness -----------------------------------------------------------------------------
// Counter-based: value i of a draw depends only on (key, counter + i), so a draw splits
// across threads and repeats for the same key and counter.

// mask(n) = 1 with probability keep_prob, else 0 (bytes).
void bernoulli_mask(uint64_t key, uint64_t counter, int64_t n, float keep_prob, uint8_t* mask);

// y(n) = x + stddev * N(0, 1) (Box-Muller on 32-bit uniforms; tails reach 6.6 stddev).
void add_gaussian_noise(const float* x, uint64_t key, uint64_t counter, int64_t n, float stddev,
                        float* y);

// ---- Dropout --------------------------------------------------------------------------------
// y(rows, row_size) = mask ? x / keep_prob : 0, as Keras (inputs / keep_prob, then select).
// Without a noise shape (index null) the mask is (rows, row_size). With one, row position p
// uses mask value index[p] of a (rows, noise_row) mask, or of its single row when
// shared_across_rows (a noise shape of 1 on the batch axis).
struct MaskLayout {
  const int64_t* index = nullptr;  // (row_size) or null
  int64_t noise_row = 0;
  bool shared_across_rows = false;
};
void dropout_forward(const float* x, const uint8_t* mask, const MaskLayout& layout, int64_t rows,
                     int64_t row_size, float keep_prob, float* y);
// dx (+)= mask ? dy / keep_prob : 0.
void dropout_backward(const float* dy, const uint8_t* mask, const MaskLayout& layout, int64_t rows,
                      int64_t row_size, float keep_prob, float* dx, bool accumulate);

// ---- Regularization penalties ---------------------------------------------------------------
// l1 * sum |w| + l2 * sum w^2 over w(n), accumulated in double.
double penalty(const float* w, int64_t n, float l1, float l2);
// grad(n) += l1 * sign(w) + 2 * l2 * w, with sign(0) = +1 as jax differentiates |w|.
void add_penalty_gradient(const float* w, int64_t n, float l1, float l2, float* grad);
// OrthogonalRegularizer's penalty of w(rows, cols) (see Variable::orthogonal), in
// float32 as Keras computes it; grad(rows, cols), when given, gets its gradient added.
double orthogonal_penalty(const float* w, int64_t rows, int64_t cols, bool columns, float factor,
                          float* grad);

}  // namespace ember::kernels
