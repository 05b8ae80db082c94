// The CPU backend: host memory from an aligned allocator, and every kernel of
// the Backend interface on the CPU kernels of this folder (OpenMP's one pool,
// GEMMs through OpenBLAS).
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

// 64-byte aligned host memory (a cache line; what AVX-512 loads like).
class HostAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) noexcept override;
};

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }
  Allocator& allocator() override { return allocator_; }
  bool supports(OpKind) const override { return true; }

  void copy(const Context&, void* dst, const void* src, size_t bytes) override;
  void zero(const Context&, void* dst, size_t bytes) override;
  void fill(const Context&, float* dst, int64_t n, float value) override;
  void copy_from_host(const Context&, void* dst, const void* host, size_t bytes) override;
  void copy_to_host(const Context&, void* host, const void* src, size_t bytes) override;
  void gemm(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
            float alpha, const float* a, const float* b, float beta, float* c) override;
  void gemm_batched(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    float alpha, const float* a, int64_t stride_a, const float* b, int64_t stride_b,
                    float beta, float* c, int64_t stride_c, int64_t batch) override;
  void bias_activation_forward(const Context&, const Activation& act, float* y, const float* bias,
                               float* z, int64_t rows, int64_t cols) override;
  void column_sums(const Context&, const float* dy, float* db, int64_t rows, int64_t cols,
                   bool accumulate) override;
  void activation_forward(const Context&, const Activation& act, const float* x, float* y,
                          int64_t rows, int64_t cols) override;
  void activation_backward(const Context&, const Activation& act, const float* x, const float* y,
                           const float* dy, float* dx, int64_t rows, int64_t cols) override;
  void softmax_forward_axes(const Context&, bool log, const float* x, float* y, int64_t samples,
                            int64_t row_size, const int64_t* kept, const int64_t* reduced,
                            int64_t n) override;
  void softmax_backward_axes(const Context&, bool log, const float* y, const float* dy, float* dx,
                             int64_t samples, int64_t row_size, const int64_t* kept,
                             const int64_t* reduced, int64_t n) override;
  void prelu_forward(const Context&, const float* x, const float* alpha, const int64_t* index,
                     float* y, int64_t rows, int64_t row_size) override;
  void prelu_backward(const Context&, const float* x, const float* alpha, const int64_t* index,
                      const float* dy, float* dx, bool dx_accumulate, float* dalpha,
                      bool dalpha_accumulate, int64_t rows, int64_t row_size,
                      int64_t alpha_size) override;
  void take_every(const Context&, const float* src, int64_t stride, int64_t n, float* dst) override;
  void spread_rows(const Context&, float* w, int64_t rows, int64_t entries) override;
  void weighted_sum(const Context&, const float* v, const float* w, int64_t rows, int64_t k,
                    double* sum, double* weight_sum) override;
  void fill_row_scales(const Context&, float* g, const float* w, int64_t rows, int64_t k,
                       double weight, double divisor) override;
  void metric_update(const Context&, Metric& metric, const float* pred, const float* target,
                     const float* sample_weight, int64_t rows, int64_t cols,
                     int64_t weight_cols) override;
  void add_into(const Context&, const float* x, float* y, int64_t n, bool accumulate) override;
  void gather_rows(const Context&, const float* src, int64_t row_size, const int64_t* order,
                   int64_t begin, int64_t count, float* out) override;
  void binary_forward(const Context&, BinaryKind kind, const StridedLayout& layout, const float* a,
                      const float* b, float* out) override;
  void binary_backward(const Context&, BinaryKind kind, const StridedLayout& layout, const float* a,
                       const float* b, const float* out, const float* dout, float* da,
                       bool da_accumulate, float* db, bool db_accumulate) override;
  void unary_forward(const Context&, UnaryKind kind, const float* x, float* y, int64_t n) override;
  void unary_backward(const Context&, UnaryKind kind, const float* x, const float* y,
                      const float* dy, float* dx, int64_t n, bool accumulate) override;
  void reduce_forward(const Context&, ReduceKind kind, const StridedLayout& layout, const float* x,
                      float* y) override;
  void reduce_backward(const Context&, ReduceKind kind, const StridedLayout& layout, const float* x,
                       const float* y, const float* dy, float* dx, bool accumulate) override;
  void gather_forward(const Context&, const float* x, int64_t in_size, const int64_t* index,
                      int64_t n, int64_t rows, float* y) override;
  void gather_backward(const Context&, const float* dy, const int64_t* index, int64_t n,
                       int64_t rows, float* dx, int64_t in_size, bool accumulate) override;
  void strided_copy(const Context&, const StridedLayout& layout, const float* src, float* dst,
                    bool accumulate) override;
  void channel_moments(const Context&, const float* x, int64_t m, int64_t channels, int64_t inner,
                       int64_t count, float* mean, float* var, double* work) override;
  void channel_affine(const Context&, const float* x, const float* scale, const float* shift,
                      float* y, int64_t m, int64_t channels, int64_t inner,
                      bool accumulate) override;
  void channel_grad_sums(const Context&, const float* dy, const float* x, const float* mean,
                         const float* rstd, int64_t m, int64_t channels, int64_t inner,
                         float* sum_dy, float* sum_dy_xhat, double* work) override;
  void batch_norm_input_grad(const Context&, const float* dy, const float* x, const float* mean,
                             const float* rstd, const float* gamma, const float* sum_dy,
                             const float* sum_dy_xhat, int64_t m, int64_t channels, int64_t inner,
                             int64_t count, float* dx, bool accumulate) override;
  void batch_norm_update_moving(const Context&, const float* mean, const float* var,
                                float* moving_mean, float* moving_var, int64_t channels,
                                float momentum, float one_minus_momentum) override;
  void batch_norm_scale_shift(const Context&, const float* mean, const float* var,
                              const float* gamma, const float* beta, float epsilon,
                              int64_t channels, float* rstd, float* scale, float* shift) override;
  void layer_norm_forward(const Context&, const kernels::GroupLayout& layout, int64_t rows,
                          const float* x, const float* gamma, const float* beta, float epsilon,
                          bool rms_scaling, float* y, float* mean, float* rstd) override;
  void layer_norm_backward(const Context&, const kernels::GroupLayout& layout, int64_t rows,
                           const float* x, const float* dy, const float* gamma, const float* mean,
                           const float* rstd, bool rms_scaling, float* dx, bool dx_accumulate,
                           float* dgamma, bool dgamma_accumulate, float* dbeta,
                           bool dbeta_accumulate) override;
  void normalize_denominator(const Context&, const float* variance, int64_t n,
                             float* denom) override;
  void normalize_forward(const Context&, const float* x, const float* mean, const float* denom,
                         const int64_t* index, int64_t rows, int64_t row_size, bool invert,
                         float* y) override;
  void normalize_backward(const Context&, const float* dy, const float* denom, const int64_t* index,
                          int64_t rows, int64_t row_size, bool invert, float* dx,
                          bool accumulate) override;
  void bernoulli_mask(const Context&, uint64_t key, uint64_t counter, int64_t n, float keep_prob,
                      uint8_t* mask) override;
  void add_gaussian_noise(const Context&, const float* x, uint64_t key, uint64_t counter, int64_t n,
                          float stddev, float* y) override;
  void dropout_forward(const Context&, const float* x, const uint8_t* mask,
                       const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                       float keep_prob, float* y) override;
  void dropout_backward(const Context&, const float* dy, const uint8_t* mask,
                        const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                        float keep_prob, float* dx, bool accumulate) override;
  double penalty(const Context&, const float* w, int64_t n, float l1, float l2) override;
  double orthogonal_penalty(const Context&, const float* w, int64_t rows, int64_t cols,
                            bool columns, float factor, float* grad) override;
  void apply_weight_constraint(const Context&, float* w, const WeightConstraint& c) override;
  void add_penalty_gradient(const Context&, const float* w, int64_t n, float l1, float l2,
                            float* grad) override;
  double loss_forward_backward(const Context&, const LossSpec& spec, const float* pred,
                               const float* target, const float* sample_weight, int64_t rows,
                               int64_t cols, float grad_scale, float* dpred,
                               float* per_sample) override;
  void sgd_update(const Context&, float* param, const float* grad, float* momentum_buf, int64_t n,
                  float lr, double momentum, bool nesterov) override;
  void rmsprop_update(const Context&, float* param, const float* grad, float* velocity,
                      float* average_grad, float* momentum_buf, int64_t n, float lr, double rho,
                      double momentum, double epsilon) override;
  void adagrad_update(const Context&, float* param, const float* grad, float* accumulator,
                      int64_t n, float lr, double epsilon) override;
  void adadelta_update(const Context&, float* param, const float* grad, float* accumulated_grad,
                       float* accumulated_delta, int64_t n, float lr, double rho,
                       double epsilon) override;
  void lion_update(const Context&, float* param, const float* grad, float* m, int64_t n, float lr,
                   double beta_1, double beta_2) override;
  void adam_update(const Context&, float* param, const float* grad, float* m, float* v,
                   float* v_hat, int64_t n, const kernels::AdamScalars& s) override;
  void adamax_update(const Context&, float* param, const float* grad, float* m, float* u, int64_t n,
                     const kernels::AdamaxScalars& s) override;
  void nadam_update(const Context&, float* param, const float* grad, float* m, float* v, int64_t n,
                    const kernels::NadamScalars& s) override;
  void ftrl_update(const Context&, float* param, const float* grad, float* accumulator,
                   float* linear, int64_t n, const kernels::FtrlScalars& s) override;
  void adafactor_update(const Context&, float* param, const float* grad, float* r, float* c,
                        float* v, int64_t prefix, int64_t rows, int64_t cols, bool factored,
                        const kernels::AdafactorScalars& s) override;
  void schedule_free_adamw_update(const Context&, float* param, const float* grad, float* z,
                                  float* v, int64_t n,
                                  const kernels::ScheduleFreeScalars& s) override;
  void muon_update(const Context&, float* param, const float* grad, float* m, int64_t rows,
                   int64_t cols, const kernels::MuonScalars& s, float* scratch) override;
  void lamb_update(const Context&, float* param, const float* grad, float* m, float* v, int64_t n,
                   float lr, const kernels::LambScalars& s) override;
  double sum_of_squares(const Context&, const float* x, int64_t n) override;
  void clip_by_norm(const Context&, const float* grad, float* out, int64_t n,
                    double clipnorm) override;
  void scale_gradient(const Context&, const float* grad, float* out, int64_t n,
                      float scale) override;
  void clip_by_value(const Context&, const float* grad, float* out, int64_t n,
                     double clipvalue) override;
  void decay_weights(const Context&, float* param, int64_t n, double weight_decay,
                     float lr) override;

  // pooling and upsampling (issue 11): cpu/pooling_kernels.cpp
  void pool_forward(const Context&, const kernels::PoolLayout& layout, int64_t images,
                    const float* x, float* y, uint8_t* where) override;
  void pool_backward(const Context&, const kernels::PoolLayout& layout, int64_t images,
                     const float* x, const uint8_t* where, const float* dy, float* dx,
                     bool accumulate) override;
  void resize_forward(const Context&, const kernels::ResizeLayout& layout, int64_t images,
                      const float* x, float* y) override;
  void resize_backward(const Context&, const kernels::ResizeLayout& layout, int64_t images,
                       const float* dy, float* dx, bool accumulate) override;
  // score attention (issue 17): cpu/attention_kernels.cpp
  void mask_scores(const Context&, const float* x, const float* mask, bool causal, int64_t groups,
                   int64_t tq, int64_t tv, float penalty, float* y) override;
  // sequences (issue 11): cpu/embedding_kernels.cpp
  int64_t first_id_out_of_range(const Context&, const int32_t* ids, int64_t n,
                                int64_t limit) override;
  void embedding_forward(const Context&, const float* table, const int32_t* ids, int64_t n,
                         int64_t dim, float* out) override;
  void embedding_backward(const Context&, const float* dy, const int32_t* ids, int64_t n,
                          int64_t dim, float* dtable, int64_t vocab, bool accumulate) override;
  void ids_to_float(const Context&, const int32_t* ids, int64_t n, float* y) override;
  int64_t float_to_ids(const Context&, const float* x, int64_t n, int32_t* ids) override;
  void not_equal_mask(const Context&, const float* x, int64_t groups, int64_t group_size,
                      float value, bool ids, float* mask) override;
  void mask_weights(const Context&, const float* mask, const float* w, int64_t n, bool rescale,
                    float* out) override;
  // recurrent layers (issue 11)
  void gemm_ld(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
               float* c, int64_t ldc) override;
  void recurrent_step_forward(const Context&, const kernels::RecurrentStepSpec& spec,
                              const kernels::RecurrentStepForward& f) override {
    kernels::recurrent_step_forward(spec, f);
  }
  void gru_reset_gate_forward(const Context&, const kernels::RecurrentStepSpec& spec,
                              const kernels::GruResetGateForward& f) override {
    kernels::gru_reset_gate_forward(spec, f);
  }
  void recurrent_step_backward(const Context&, const kernels::RecurrentStepSpec& spec,
                               const kernels::RecurrentStepBackward& b) override {
    kernels::recurrent_step_backward(spec, b);
  }
  void gru_reset_gate_backward(const Context&, const kernels::RecurrentStepSpec& spec,
                               const kernels::GruResetGateBackward& b) override {
    kernels::gru_reset_gate_backward(spec, b);
  }
  void dropout_factors(const Context&, uint64_t key, uint64_t counter, int64_t n, float keep_prob,
                       uint8_t* bits, float* out) override {
    kernels::dropout_factors(key, counter, n, keep_prob, bits, out);
  }
  // convolution (issue 11): cpu/conv_kernels.cpp
  void im2col(const Context&, const kernels::ConvGeometry& g, int64_t images, const float* x,
              float* col) override;
  void col2im(const Context&, const kernels::ConvGeometry& g, int64_t images, const float* col,
              float* x, bool accumulate) override;
  void conv_forward(const Context& ctx, const kernels::ConvGeometry& g, int64_t images,
                    const float* x, const float* kernel, const float* bias, const Activation& act,
                    int64_t filters, float* col, float* y, float* z) override;
  void conv_backward_filter(const Context& ctx, const kernels::ConvGeometry& g, int64_t images,
                            const float* x, const float* z, const float* y, const float* dy,
                            const Activation& act, int64_t filters, float* col, bool col_filled,
                            float* dz, float* dkernel, bool kernel_accumulate, float* dbias,
                            bool bias_accumulate) override;

 private:
  HostAllocator allocator_;
};

}  // namespace ember::cpu
