// The kernel boundary: every byte of compute on tensor data goes through a
// Backend. Ops describe what to compute (shapes, which kernels, in which order)
// and call the backend of the device their executor runs on; the CPU backend
// lives in cpp/src/cpu/, the CUDA backend in cuda/. A kernel a backend does not
// implement throws "op X has no kernel on device Y" (the defaults below), so an
// absent backend is an empty subclass.
//
// Every pointer argument is device memory of the backend's device; shapes are
// given beside each argument, row-major float32 unless said otherwise. Each
// kernel takes the execution context: on the CPU the one OpenMP pool, on a GPU
// the stream to enqueue on.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/activations.h"
#include "ember/buffer.h"
#include "ember/context.h"
#include "ember/constraints.h"
#include "ember/conv_geometry.h"
#include "ember/device.h"
#include "ember/element/arith.h"
#include "ember/error.h"
#include "ember/layer_kernels.h"
#include "ember/losses.h"
#include "ember/metrics.h"
#include "ember/op_kind.h"
#include "ember/optimizers.h"
#include "ember/pooling_layout.h"
#include "ember/recurrent_kernels.h"
#include "ember/strided.h"

namespace ember {

// The default kernel bodies name their parameters for documentation and use none of them.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual Allocator& allocator() = 0;
  // Whether the backend runs every kernel of an op kind.
  virtual bool supports(OpKind kind) const = 0;
  // The context executors on this device use by default.
  Context context() { return Context{this, nullptr}; }

  // ---- memory --------------------------------------------------------------------------------
  // dst, src: bytes on this device.
  virtual void copy(const Context&, void* dst, const void* src, size_t bytes) { no("copy"); }
  virtual void zero(const Context&, void* dst, size_t bytes) { no("zero"); }
  // dst(n) = value.
  virtual void fill(const Context&, float* dst, int64_t n, float value) { no("fill"); }
  // Host <-> device transfers (host memory on the host side, device memory on the other).
  virtual void copy_from_host(const Context&, void* dst, const void* host, size_t bytes) {
    no("copy_from_host");
  }
  virtual void copy_to_host(const Context&, void* host, const void* src, size_t bytes) {
    no("copy_to_host");
  }
  // Waits for the context's queued work (a no-op on the CPU).
  virtual void synchronize(const Context&) {}

  // ---- GEMM and Dense's epilogue
  // ------------------------------------------------------------------ C(m,n) = alpha * op(A) op(B)
  // + beta * C; A is (m,k), or (k,m) with trans_a; B (k,n) or (n,k).
  virtual void gemm(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    float alpha, const float* a, const float* b, float beta, float* c) {
    no("gemm");
  }
  // `batch` independent GEMMs: the i-th reads A at a + i * stride_a, B at b + i * stride_b and
  // writes C at c + i * stride_c (a batched matmul; cuBLAS's strided-batched form).
  virtual void gemm_batched(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, float alpha, const float* a, int64_t stride_a,
                            const float* b, int64_t stride_b, float beta, float* c,
                            int64_t stride_c, int64_t batch) {
    no("gemm_batched");
  }
  // y(rows, cols) = act(y + bias) in place; bias (cols) or null; z (rows, cols) or null
  // receives y + bias before the activation (for a backward that needs it).
  virtual void bias_activation_forward(const Context&, const Activation& act, float* y,
                                       const float* bias, float* z, int64_t rows, int64_t cols) {
    no("bias_activation_forward");
  }
  // db(cols) (+)= sum over rows of dy(rows, cols).
  virtual void column_sums(const Context&, const float* dy, float* db, int64_t rows, int64_t cols,
                           bool accumulate) {
    no("column_sums");
  }

  // ---- activations (activations.h has the contracts)
  // ------------------------------------------------
  virtual void activation_forward(const Context&, const Activation& act, const float* x, float* y,
                                  int64_t rows, int64_t cols) {
    no("activation_forward");
  }
  virtual void activation_backward(const Context&, const Activation& act, const float* x,
                                   const float* y, const float* dy, float* dx, int64_t rows,
                                   int64_t cols) {
    no("activation_backward");
  }
  virtual void softmax_forward_axes(const Context&, bool log, const float* x, float* y,
                                    int64_t samples, int64_t row_size, const int64_t* kept,
                                    const int64_t* reduced, int64_t n) {
    no("softmax_forward_axes");
  }
  virtual void softmax_backward_axes(const Context&, bool log, const float* y, const float* dy,
                                     float* dx, int64_t samples, int64_t row_size,
                                     const int64_t* kept, const int64_t* reduced, int64_t n) {
    no("softmax_backward_axes");
  }
  virtual void prelu_forward(const Context&, const float* x, const float* alpha,
                             const int64_t* index, float* y, int64_t rows, int64_t row_size) {
    no("prelu_forward");
  }
  virtual void prelu_backward(const Context&, const float* x, const float* alpha,
                              const int64_t* index, const float* dy, float* dx, bool dx_accumulate,
                              float* dalpha, bool dalpha_accumulate, int64_t rows, int64_t row_size,
                              int64_t alpha_size) {
    no("prelu_backward");
  }

  // ---- copies within and between rows
  // --------------------------------------------------------------- y(n) (+)= x(n).
  virtual void add_into(const Context&, const float* x, float* y, int64_t n, bool accumulate) {
    no("add_into");
  }
  // out(count, row_size) = src[order[begin + i]] (order null: begin + i). src may be host
  // memory of a user's array on the CPU backend.
  virtual void gather_rows(const Context&, const float* src, int64_t row_size, const int64_t* order,
                           int64_t begin, int64_t count, float* out) {
    no("gather_rows");
  }

  // dst(n) = src[i * stride] for i < n (one weight per row out of per-entry weights).
  virtual void take_every(const Context&, const float* src, int64_t stride, int64_t n, float* dst) {
    no("take_every");
  }
  // In place over w (rows * entries): entry j of row r becomes w[r], the row's first value read
  // from w's first `rows` values (a sample's weight spread over its entries).
  virtual void spread_rows(const Context&, float* w, int64_t rows, int64_t entries) {
    no("spread_rows");
  }

  // ---- elementwise, reductions, gathers, merges (ops_math, ops_merging, ops_reshaping) ----------
  // The elementwise engine: broadcasting is a StridedLayout (strided.h) with a stride of 0.
  // out fills layout.shape contiguously; a reads at layout.stride[0], b at layout.stride[1]. out
  // may be a or b itself when that operand's strides are out's (a fold in place).
  virtual void binary_forward(const Context&, BinaryKind kind, const StridedLayout& layout,
                              const float* a, const float* b, float* out) {
    no("binary_forward");
  }
  // da (a's elements) (+)= the sum over the axes a is broadcast along of g * d out / d a, then
  // db likewise (either null: skipped; when both are one buffer, db's flag says accumulate).
  // Sums run in a fixed order, whatever the thread count. a, b and out are read only where the
  // kind's gradient needs them (element/arith.h). Neither gradient may alias dout.
  virtual void binary_backward(const Context&, BinaryKind kind, const StridedLayout& layout,
                               const float* a, const float* b, const float* out, const float* dout,
                               float* da, bool da_accumulate, float* db, bool db_accumulate) {
    no("binary_backward");
  }
  // y(n) = f(x); dx(n) (+)= f'(x) dy.
  virtual void unary_forward(const Context&, UnaryKind kind, const float* x, float* y, int64_t n) {
    no("unary_forward");
  }
  virtual void unary_backward(const Context&, UnaryKind kind, const float* x, const float* y,
                              const float* dy, float* dx, int64_t n, bool accumulate) {
    no("unary_backward");
  }
  // Reductions over axes: layout.shape is x's (contiguous, batch axis first); stride[0] is y's,
  // 0 on the reduced axes (stride[1] unused). Each y element is the sum (in double, in x's
  // order), mean, max or min (a NaN wins) of its x elements.
  virtual void reduce_forward(const Context&, ReduceKind kind, const StridedLayout& layout,
                              const float* x, float* y) {
    no("reduce_forward");
  }
  // dx (+)= dy of each x element's y element (Mean: / the count; Max / Min: to the elements
  // equal to their y element, split evenly among ties, as jax does).
  virtual void reduce_backward(const Context&, ReduceKind kind, const StridedLayout& layout,
                               const float* x, const float* y, const float* dy, float* dx,
                               bool accumulate) {
    no("reduce_backward");
  }
  // y(rows, n) = x(rows, in_size)[index(n)] per row; dx(rows, in_size) (+)= the scatter-add
  // of dy back (an element read twice gets both gradients, in index order). index: host memory.
  virtual void gather_forward(const Context&, const float* x, int64_t in_size, const int64_t* index,
                              int64_t n, int64_t rows, float* y) {
    no("gather_forward");
  }
  virtual void gather_backward(const Context&, const float* dy, const int64_t* index, int64_t n,
                               int64_t rows, float* dx, int64_t in_size, bool accumulate) {
    no("gather_backward");
  }
  // dst (+)= src over layout.shape: src read at layout.stride[0], dst written at stride[1]
  // (no two elements of the space on one dst element). Transposes and concatenation.
  virtual void strided_copy(const Context&, const StridedLayout& layout, const float* src,
                            float* dst, bool accumulate) {
    no("strided_copy");
  }

  // ---- normalization (layer_kernels.h has the contracts)
  // ---------------------------------------------
  // count: the values per channel (m * inner; with ctx.reducer, the global batch's, the
  // per-channel sums being summed across ranks - layer_kernels.h).
  virtual void channel_moments(const Context&, const float* x, int64_t m, int64_t channels,
                               int64_t inner, int64_t count, float* mean, float* var,
                               double* work) {
    no("channel_moments");
  }
  virtual void channel_affine(const Context&, const float* x, const float* scale,
                              const float* shift, float* y, int64_t m, int64_t channels,
                              int64_t inner, bool accumulate) {
    no("channel_affine");
  }
  virtual void channel_grad_sums(const Context&, const float* dy, const float* x, const float* mean,
                                 const float* rstd, int64_t m, int64_t channels, int64_t inner,
                                 float* sum_dy, float* sum_dy_xhat, double* work) {
    no("channel_grad_sums");
  }
  virtual void batch_norm_input_grad(const Context&, const float* dy, const float* x,
                                     const float* mean, const float* rstd, const float* gamma,
                                     const float* sum_dy, const float* sum_dy_xhat, int64_t m,
                                     int64_t channels, int64_t inner, int64_t count, float* dx,
                                     bool accumulate) {
    no("batch_norm_input_grad");
  }
  // BatchNormalization's per-channel arithmetic between the kernels above, on (channels)
  // vectors: training: moving = moving * momentum + batch * one_minus_momentum for mean and
  // variance; then rstd = 1 / sqrt(var + epsilon), scale = gamma * rstd (gamma null: rstd),
  // shift = beta - mean * scale (beta null: -mean * scale).
  virtual void batch_norm_update_moving(const Context&, const float* mean, const float* var,
                                        float* moving_mean, float* moving_var, int64_t channels,
                                        float momentum, float one_minus_momentum) {
    no("batch_norm_update_moving");
  }
  virtual void batch_norm_scale_shift(const Context&, const float* mean, const float* var,
                                      const float* gamma, const float* beta, float epsilon,
                                      int64_t channels, float* rstd, float* scale, float* shift) {
    no("batch_norm_scale_shift");
  }
  virtual void layer_norm_forward(const Context&, const kernels::GroupLayout& layout, int64_t rows,
                                  const float* x, const float* gamma, const float* beta,
                                  float epsilon, bool rms_scaling, float* y, float* mean,
                                  float* rstd) {
    no("layer_norm_forward");
  }
  virtual void layer_norm_backward(const Context&, const kernels::GroupLayout& layout, int64_t rows,
                                   const float* x, const float* dy, const float* gamma,
                                   const float* mean, const float* rstd, bool rms_scaling,
                                   float* dx, bool dx_accumulate, float* dgamma,
                                   bool dgamma_accumulate, float* dbeta, bool dbeta_accumulate) {
    no("layer_norm_backward");
  }
  // denom(n) = max(sqrt(variance), 1e-7): Keras's Normalization divisor.
  virtual void normalize_denominator(const Context&, const float* variance, int64_t n,
                                     float* denom) {
    no("normalize_denominator");
  }
  virtual void normalize_forward(const Context&, const float* x, const float* mean,
                                 const float* denom, const int64_t* index, int64_t rows,
                                 int64_t row_size, bool invert, float* y) {
    no("normalize_forward");
  }
  virtual void normalize_backward(const Context&, const float* dy, const float* denom,
                                  const int64_t* index, int64_t rows, int64_t row_size, bool invert,
                                  float* dx, bool accumulate) {
    no("normalize_backward");
  }

  // ---- randomness, dropout, penalties (layer_kernels.h)
  // ----------------------------------------------
  virtual void bernoulli_mask(const Context&, uint64_t key, uint64_t counter, int64_t n,
                              float keep_prob, uint8_t* mask) {
    no("bernoulli_mask");
  }
  virtual void add_gaussian_noise(const Context&, const float* x, uint64_t key, uint64_t counter,
                                  int64_t n, float stddev, float* y) {
    no("add_gaussian_noise");
  }
  virtual void dropout_forward(const Context&, const float* x, const uint8_t* mask,
                               const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                               float keep_prob, float* y) {
    no("dropout_forward");
  }
  virtual void dropout_backward(const Context&, const float* dy, const uint8_t* mask,
                                const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                                float keep_prob, float* dx, bool accumulate) {
    no("dropout_backward");
  }
  // l1 * sum|w| + l2 * sum w^2, in double; the result comes back to the host.
  virtual double penalty(const Context&, const float* w, int64_t n, float l1, float l2) {
    no("penalty");
    return 0.0;
  }
  virtual void add_penalty_gradient(const Context&, const float* w, int64_t n, float l1, float l2,
                                    float* grad) {
    no("add_penalty_gradient");
  }
  // OrthogonalRegularizer's penalty of w(rows, cols); grad (or null) gets its gradient added.
  virtual double orthogonal_penalty(const Context&, const float* w, int64_t rows, int64_t cols,
                                    bool columns, float factor, float* grad) {
    no("orthogonal_penalty");
    return 0.0;
  }
  // w = constraint(w) in place; w holds c.outer * c.mid * c.inner values (constraints.h).
  virtual void apply_weight_constraint(const Context&, float* w, const WeightConstraint& c) {
    no("apply_weight_constraint");
  }

  // ---- losses (losses.h)
  // ------------------------------------------------------------------------------
  virtual double loss_forward_backward(const Context&, const LossSpec& spec, const float* pred,
                                       const float* target, const float* sample_weight,
                                       int64_t rows, int64_t cols, float grad_scale, float* dpred,
                                       float* per_sample) {
    no("loss_forward_backward");
    return 0.0;
  }

  // A custom loss's reduction (Model::graph_loss): over values v (rows, k) and per-row weights w
  // (rows, or null: 1), *sum = sum of w[r] * v[r, j] and *weight_sum = sum of w[r] * k, in
  // double, in row order; both come back to the host.
  virtual void weighted_sum(const Context&, const float* v, const float* w, int64_t rows, int64_t k,
                            double* sum, double* weight_sum) {
    no("weighted_sum");
  }
  // Its gradient: g(rows, k) = float(weight * (w ? w[r] : 1) / divisor) along each row.
  virtual void fill_row_scales(const Context&, float* g, const float* w, int64_t rows, int64_t k,
                               double weight, double divisor) {
    no("fill_row_scales");
  }

  // ---- metrics (metrics.h) ----------------------------------------------------------------------
  // Accumulates one batch into a stateful metric (Metric::update's contract).
  virtual void metric_update(const Context&, Metric& metric, const float* pred, const float* target,
                             const float* sample_weight, int64_t rows, int64_t cols,
                             int64_t weight_cols) {
    no("metric_update");
  }

  // ---- optimizer updates (optimizers.h)
  // -------------------------------------------------------------
  virtual void sgd_update(const Context&, float* param, const float* grad, float* momentum_buf,
                          int64_t n, float lr, double momentum, bool nesterov) {
    no("sgd_update");
  }
  virtual void rmsprop_update(const Context&, float* param, const float* grad, float* velocity,
                              float* average_grad, float* momentum_buf, int64_t n, float lr,
                              double rho, double momentum, double epsilon) {
    no("rmsprop_update");
  }
  virtual void adagrad_update(const Context&, float* param, const float* grad, float* accumulator,
                              int64_t n, float lr, double epsilon) {
    no("adagrad_update");
  }
  virtual void adadelta_update(const Context&, float* param, const float* grad,
                               float* accumulated_grad, float* accumulated_delta, int64_t n,
                               float lr, double rho, double epsilon) {
    no("adadelta_update");
  }
  virtual void lion_update(const Context&, float* param, const float* grad, float* m, int64_t n,
                           float lr, double beta_1, double beta_2) {
    no("lion_update");
  }
  virtual void adam_update(const Context&, float* param, const float* grad, float* m, float* v,
                           float* v_hat, int64_t n, const kernels::AdamScalars& s) {
    no("adam_update");
  }
  virtual void adamax_update(const Context&, float* param, const float* grad, float* m, float* u,
                             int64_t n, const kernels::AdamaxScalars& s) {
    no("adamax_update");
  }
  virtual void nadam_update(const Context&, float* param, const float* grad, float* m, float* v,
                            int64_t n, const kernels::NadamScalars& s) {
    no("nadam_update");
  }
  virtual void ftrl_update(const Context&, float* param, const float* grad, float* accumulator,
                           float* linear, int64_t n, const kernels::FtrlScalars& s) {
    no("ftrl_update");
  }
  virtual void adafactor_update(const Context&, float* param, const float* grad, float* r, float* c,
                                float* v, int64_t prefix, int64_t rows, int64_t cols, bool factored,
                                const kernels::AdafactorScalars& s) {
    no("adafactor_update");
  }
  virtual void schedule_free_adamw_update(const Context&, float* param, const float* grad, float* z,
                                          float* v, int64_t n,
                                          const kernels::ScheduleFreeScalars& s) {
    no("schedule_free_adamw_update");
  }
  virtual void lamb_update(const Context&, float* param, const float* grad, float* m, float* v,
                           int64_t n, float lr, const kernels::LambScalars& s) {
    no("lamb_update");
  }
  virtual void muon_update(const Context&, float* param, const float* grad, float* m,
                           int64_t rows, int64_t cols, const kernels::MuonScalars& s,
                           float* scratch) {
    no("muon_update");
  }
  virtual double sum_of_squares(const Context&, const float* x, int64_t n) {
    no("sum_of_squares");
    return 0.0;
  }
  virtual void clip_by_norm(const Context&, const float* grad, float* out, int64_t n,
                            double clipnorm) {
    no("clip_by_norm");
  }
  virtual void scale_gradient(const Context&, const float* grad, float* out, int64_t n,
                              float scale) {
    no("scale_gradient");
  }
  virtual void clip_by_value(const Context&, const float* grad, float* out, int64_t n,
                             double clipvalue) {
    no("clip_by_value");
  }
  virtual void decay_weights(const Context&, float* param, int64_t n, double weight_decay,
                             float lr) {
    no("decay_weights");
  }

  // ---- pooling and upsampling (issue 11; pooling_layout.h has the shapes) -----------------------
  // y(images, out_h, out_w, C) = the max or average of each window of x(images, in_h, in_w, C).
  // Max: the first largest element of a window in row-major order wins (a NaN wins over
  // numbers), as XLA's reduce_window and its select-and-scatter gradient choose.
  // where (or null; max pooling only) receives, per element of y, the index of the chosen
  // element in its window (row-major), for a backward that then need not read x again.
  virtual void pool_forward(const Context&, const kernels::PoolLayout& layout, int64_t images,
                            const float* x, float* y, uint8_t* where) {
    no("pool_forward");
  }
  // dx (+)= dy routed back: max to the element the forward chose (from where when not null,
  // else recomputed from x), average split evenly over the window's real elements.
  // Deterministic: no atomics.
  virtual void pool_backward(const Context&, const kernels::PoolLayout& layout, int64_t images,
                             const float* x, const uint8_t* where, const float* dy, float* dx,
                             bool accumulate) {
    no("pool_backward");
  }
  // y(images, out_h, out_w, C) = x(images, in_h, in_w, C) interpolated (ResizeLayout);
  // dx (+)= its transpose applied to dy.
  virtual void resize_forward(const Context&, const kernels::ResizeLayout& layout, int64_t images,
                              const float* x, float* y) {
    no("resize_forward");
  }
  virtual void resize_backward(const Context&, const kernels::ResizeLayout& layout, int64_t images,
                               const float* dy, float* dx, bool accumulate) {
    no("resize_backward");
  }
  // ---- sequences (issue 11; ops_embedding.h) ---------------------------------------------------
  // ids (n): int32 token ids. The position of the first id outside [0, limit), or -1; the
  // answer comes back to the host (an op checks ids before it uses them).
  virtual int64_t first_id_out_of_range(const Context&, const int32_t* ids, int64_t n,
                                        int64_t limit) {
    no("first_id_out_of_range");
    return -1;
  }
  // out(n, dim) = table[ids[i]] row by row; ids already checked against the table.
  virtual void embedding_forward(const Context&, const float* table, const int32_t* ids, int64_t n,
                                 int64_t dim, float* out) {
    no("embedding_forward");
  }
  // dtable(vocab, dim) (+)= the scatter-add of dy(n, dim) into rows ids[i] (a row read twice
  // gets both gradients, in order). Without accumulate the rows nobody read are zeroed.
  virtual void embedding_backward(const Context&, const float* dy, const int32_t* ids, int64_t n,
                                  int64_t dim, float* dtable, int64_t vocab, bool accumulate) {
    no("embedding_backward");
  }
  // y(n) = float(ids[i]), rounded to nearest.
  virtual void ids_to_float(const Context&, const int32_t* ids, int64_t n, float* y) {
    no("ids_to_float");
  }
  // ids(n) = x[i] truncated toward zero; returns the position of the first value that is not
  // finite or outside int32's range (its id then unspecified), or -1, to the host.
  virtual int64_t float_to_ids(const Context&, const float* x, int64_t n, int32_t* ids) {
    no("float_to_ids");
    return -1;
  }
  // out(n) = (mask[i] != 0 ? scale : 0) * (w ? w[i] : 1), where scale = n / (number of
  // nonzero mask entries) with rescale (0 when none), else 1: Keras's apply_mask merging a
  // mask (n) into per-entry sample weights w (n, or null).
  virtual void mask_weights(const Context&, const float* mask, const float* w, int64_t n,
                            bool rescale, float* out) {
    no("mask_weights");
  }
  // mask(groups) = 1 where any of the group's group_size values of x (groups, group_size)
  // differs from value, else 0; with ids, x holds int32 bits compared with int32(value).
  virtual void not_equal_mask(const Context&, const float* x, int64_t groups, int64_t group_size,
                              float value, bool ids, float* mask) {
    no("not_equal_mask");
  }
  // ---- recurrent layers (issue 11; recurrent_kernels.h has the contracts) -------------------
  // gemm with leading dimensions: A's rows lda apart, B's ldb, C's ldc (blocks of wider
  // matrices: one gate's columns of a kernel, every other timestep's rows of a sequence).
  virtual void gemm_ld(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float beta, float* c, int64_t ldc) {
    no("gemm_ld");
  }
  virtual void recurrent_step_forward(const Context&, const kernels::RecurrentStepSpec& spec,
                                      const kernels::RecurrentStepForward& f) {
    no("recurrent_step_forward");
  }
  virtual void gru_reset_gate_forward(const Context&, const kernels::RecurrentStepSpec& spec,
                                      const kernels::GruResetGateForward& f) {
    no("gru_reset_gate_forward");
  }
  virtual void recurrent_step_backward(const Context&, const kernels::RecurrentStepSpec& spec,
                                       const kernels::RecurrentStepBackward& b) {
    no("recurrent_step_backward");
  }
  virtual void gru_reset_gate_backward(const Context&, const kernels::RecurrentStepSpec& spec,
                                       const kernels::GruResetGateBackward& b) {
    no("gru_reset_gate_backward");
  }
  // out(n) = dropout factors (1 / keep_prob kept, 0 dropped) of the Bernoulli draws
  // bernoulli_mask(key, counter) makes; bits: n bytes of work space.
  virtual void dropout_factors(const Context&, uint64_t key, uint64_t counter, int64_t n,
                               float keep_prob, uint8_t* bits, float* out) {
    no("dropout_factors");
  }
  // ---- score attention (issue 17; ops_score_attention.h) -------------------------------------
  // y(groups, tq, tv) = x - penalty where a score is masked, else x (the same float32
  // subtraction as Keras's `where(mask, scores - 1e9, scores)`): where mask(groups, tv) (or
  // null) is 0 (read as <= 0.5), or with causal where the key index j exceeds the query
  // index i. y may be x.
  virtual void mask_scores(const Context&, const float* x, const float* mask, bool causal,
                           int64_t groups, int64_t tq, int64_t tv, float penalty, float* y) {
    no("mask_scores");
  }
  // ---- convolution (issue 11) ---------------------------------------------------------------
  // col(images * g.positions(), g.col_width()) = the patches of x(images, g.in_h, g.in_w,
  // g.channels) that each output position reads, zeros where they fall in the padding
  // (conv_geometry.h has the column order).
  virtual void im2col(const Context&, const kernels::ConvGeometry& g, int64_t images,
                      const float* x, float* col) {
    no("im2col");
  }
  // A one-group convolution's forward: col = im2col(x) (as im2col writes it: the backward reads
  // it), y(images * g.positions(), filters) = act(col kernel(g.col_width(), filters) + bias), z
  // (or null) receiving the pre-activation as bias_activation_forward's does. This default runs
  // the three kernels one after the other; a backend may interleave them in cache-sized blocks.
  virtual void conv_forward(const Context& ctx, const kernels::ConvGeometry& g, int64_t images,
                            const float* x, const float* kernel, const float* bias,
                            const Activation& act, int64_t filters, float* col, float* y,
                            float* z) {
    im2col(ctx, g, images, x, col);
    gemm(ctx, false, false, images * g.positions(), filters, g.col_width(), 1.0f, col, kernel, 0.0f,
         y);
    bias_activation_forward(ctx, act, y, bias, z, images * g.positions(), filters);
  }
  // x(images, g.in_h, g.in_w, g.channels) (+)= im2col's adjoint: every column added back onto
  // the pixel it was read from (padding dropped).
  virtual void col2im(const Context&, const kernels::ConvGeometry& g, int64_t images,
                      const float* col, float* x, bool accumulate) {
    no("col2im");
  }
  // A one-group convolution's weight gradients when no input gradient is wanted (a first
  // layer): dz = dy * act'(z) (z the pre-activation or null, as activation_backward takes it;
  // written into dz, which may alias z; null for a linear activation, dz is then dy),
  // dkernel(g.col_width(), filters) (+)= im2col(x)^T dz and dbias (or null) (+)= dz's column
  // sums. col has room for im2col(x) and already holds it when col_filled (the forward's
  // columns, still in scratch). This default runs the kernels one after the other; a backend
  // may interleave them in cache-sized blocks.
  virtual void conv_backward_filter(const Context& ctx, const kernels::ConvGeometry& g,
                                    int64_t images, const float* x, const float* z, const float* y,
                                    const float* dy, const Activation& act, int64_t filters,
                                    float* col, bool col_filled, float* dz, float* dkernel,
                                    bool kernel_accumulate, float* dbias, bool bias_accumulate) {
    const int64_t rows = images * g.positions();
    const float* d = dy;
    if (!act.is_linear()) {
      activation_backward(ctx, act, z, y, dy, dz, rows, filters);
      d = dz;
    }
    if (dbias) column_sums(ctx, d, dbias, rows, filters, bias_accumulate);
    if (!col_filled) im2col(ctx, g, images, x, col);
    gemm(ctx, true, false, g.col_width(), filters, rows, 1.0f, col, d,
         kernel_accumulate ? 1.0f : 0.0f, dkernel);
  }

 protected:
  // Throws ValueError("op NAME has no kernel on device D").
  [[noreturn]] void no(const char* kernel) const {
    throw ValueError(std::string("op ") + kernel + " has no kernel on device " + device().str());
  }
};

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// The backend of a device: the CPU's always; CUDA's when built and present. Throws
// ValueError naming the device otherwise.
Backend& backend_for(Device device);
// The CPU backend (also reachable as backend_for(Device::cpu())).
Backend& cpu_backend();
// The devices this process can run on: the CPU first, then each usable GPU.
std::vector<Device> available_devices();

}  // namespace ember
