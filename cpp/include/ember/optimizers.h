// Optimizers: Keras 3's update rules, applied to every trainable variable in one
// call per step. The math lives in kernels: each element's update rule in
// ember/element/optimizer.h, looped over by cpu/optimizer_kernels.cpp (and CUDA launchers).
//
// A step follows keras.optimizers.Optimizer.apply: the learning rate is the
// schedule's value at `iterations` (or the constant), gradients are clipped
// (clipnorm per variable, or global_clipnorm over all, or clipvalue), weight decay
// shrinks each variable (w -= w * weight_decay * lr), then the optimizer's own
// update runs and `iterations` counts the step.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ember/context.h"
#include "ember/element/optimizer.h"
#include "ember/graph.h"
#include "ember/schedules.h"
#include "ember/tensor.h"

namespace ember {

namespace kernels {
// Each updates param(n) in place from grad(n); slots are (n) buffers. lr is float32
// (Keras's learning-rate variable); the other hyperparameters come as the user's
// numbers and are rounded to float32 where Keras's arithmetic rounds them. step
// counts from 1.
void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                double momentum, bool nesterov);
void rmsprop_update(float* param, const float* grad, float* velocity, float* average_grad,
                    float* momentum_buf, int64_t n, float lr, double rho, double momentum,
                    double epsilon);
void adagrad_update(float* param, const float* grad, float* accumulator, int64_t n, float lr,
                    double epsilon);
void adadelta_update(float* param, const float* grad, float* accumulated_grad,
                     float* accumulated_delta, int64_t n, float lr, double rho, double epsilon);
void lion_update(float* param, const float* grad, float* m, int64_t n, float lr, double beta_1,
                 double beta_2);

// Adam, Adamax and Nadam share per-step scalars (powers of the betas) across all
// variables: computed once per step, then each variable's update uses them. The
// structs live beside the per-element math that reads them (element/optimizer.h).
AdamScalars adam_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step);
void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, int64_t n,
                 const AdamScalars& s);

AdamaxScalars adamax_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step);
void adamax_update(float* param, const float* grad, float* m, float* u, int64_t n,
                   const AdamaxScalars& s);

// u_product: the running product including this step's factor.
NadamScalars nadam_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step,
                           float u_product);
void nadam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const NadamScalars& s);
// Nadam's running product after one more step: u_product * b1 * (1 - 0.96^step / 2).
float nadam_u_product_step(float u_product, double beta_1, int64_t step);

// Ftrl's per-step scalars (element/optimizer.h's FtrlScalars) from its arguments.
FtrlScalars ftrl_scalars(float lr, double learning_rate_power, double l1, double l2,
                         double l2_shrinkage, double beta);
void ftrl_update(float* param, const float* grad, float* accumulator, float* linear, int64_t n,
                 const FtrlScalars& s);

// Lamb: Adam's step scaled per variable by ||w|| / ||step|| (1 when either is 0).
LambScalars lamb_scalars(double beta_1, double beta_2, double epsilon, int64_t step);
void lamb_update(float* param, const float* grad, float* m, float* v, int64_t n, float lr,
                 const LambScalars& s);

// Adafactor's per-step scalars; schedule: the rate comes from a schedule or callable
// (Keras then leaves it as it is where relative_step would cap it at 1 / sqrt(t)).
AdafactorScalars adafactor_scalars(float lr, bool relative_step, bool schedule, double beta_2_decay,
                                   double epsilon_1, double epsilon_2, double clip_threshold,
                                   int64_t step);
// A variable of shape (prefix, rows, cols): factored, r(prefix, rows) and c(prefix, cols)
// hold the second moment's row and column means and v(n) is rebuilt from them; else
// v(n) is the second moment itself (r and c unused).
void adafactor_update(float* param, const float* grad, float* r, float* c, float* v, int64_t prefix,
                      int64_t rows, int64_t cols, bool factored, const AdafactorScalars& s);

ScheduleFreeScalars schedule_free_scalars(float lr, double beta_1, double beta_2, double epsilon,
                                          int64_t warmup_steps, int64_t step);
void schedule_free_adamw_update(float* param, const float* grad, float* z, float* v, int64_t n,
                                const ScheduleFreeScalars& s);

// Muon's orthogonalised momentum step for one matrix variable param(rows, cols) (Keras's
// _muon_update_step): m += g + m (momentum - 1); G = g + momentum m (nesterov) or m;
// X = G (transposed when rows > cols) / (||G||_F + 1e-7); ns_steps times A = X X^T,
// X = a X + (b A + (c A) A) X; w -= lr X (times sqrt(max(rows, cols)) rms_rate when
// rms_rate is set). scratch: muon_scratch_size(rows, cols) floats.
struct MuonScalars {
  float lr;
  float momentum, momentum_minus_1;  // float32(momentum), float32(momentum - 1)
  bool nesterov;
  int64_t ns_steps;
  float a, b, c;
  bool adjust;     // rms_rate is set
  float rms_rate;
};
int64_t muon_scratch_size(int64_t rows, int64_t cols);
void muon_update(float* param, const float* grad, float* m, int64_t rows, int64_t cols,
                 const MuonScalars& s, float* scratch);

// Sum of x(n)^2, accumulated in double.
double sum_of_squares(const float* x, int64_t n);
// out(n) = grad(n) * clipnorm / max(||grad||, clipnorm).
void clip_by_norm(const float* grad, float* out, int64_t n, double clipnorm);
// out(n) = grad(n) * scale.
void scale_gradient(const float* grad, float* out, int64_t n, float scale);
// out(n) = clip(grad(n), -clipvalue, clipvalue).
void clip_by_value(const float* grad, float* out, int64_t n, double clipvalue);
// The factor clip_by_global_norm scales every gradient by, from the sum of all
// their squares: clipnorm * min(1 / norm, 1 / clipnorm), NaN for a non-finite norm.
float global_clip_scale(double sum_of_squares, double clipnorm);
// param(n) -= param * weight_decay * lr.
void decay_weights(float* param, int64_t n, double weight_decay, float lr);
}  // namespace kernels

class Optimizer {
 public:
  explicit Optimizer(float lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;

  // The device its updates run on and its slots live on: the model's (its executor's
  // context) when compiled; the CPU until then. A change of device drops the slots.
  void set_context(const Context& ctx);
  const Context& context() const { return ctx_; }

  // Allocates the slots for variables of the given sizes. Keeps existing slots
  // (and the names of a build from variables) when the sizes are unchanged, so
  // recompiling does not lose state.
  void build(const std::vector<int64_t>& sizes);
  // The same, also learning the variables' names, which exclude_from_weight_decay's
  // name patterns are matched against.
  void build(const std::vector<Variable*>& variables);
  // One step: params[i] is updated in place from grads[i]. Increments iterations.
  void apply(const std::vector<float*>& params, const std::vector<const float*>& grads);
  // The same step taken one variable at a time, so that each can be updated while
  // its gradient is still in cache: open_step, then apply_one once for every
  // variable in any order, then close_step. Each variable's update is the one
  // apply() makes. Not possible with global_clipnorm, which scales every gradient
  // by the norm of all of them: steps_per_variable() says whether it is.
  bool steps_per_variable() const;
  void open_step(const std::vector<float*>& params);
  void apply_one(size_t i, float* param, const float* grad);
  void close_step();

  // Slot tensors per variable, in the order of slot_names(); for saving and inspection.
  virtual std::vector<std::string> slot_names() const = 0;
  std::vector<std::vector<Tensor>>& slots() { return slots_; }
  // Optimizer-wide scalars besides iterations and the learning rate (Nadam's
  // u_product), in the order of scalar_names(); for saving.
  virtual std::vector<std::string> scalar_names() const { return {}; }
  virtual std::vector<float> scalar_state() const { return {}; }
  // Restores scalar_state(). Set iterations first: the values belong to that step.
  void set_scalar_state(const std::vector<float>& values);

  // The rate the next step uses: the schedule at `iterations`, else learning_rate.
  float current_learning_rate() const;

  // Keras's common arguments. Unset (nullopt) or 0 turns each off, as in Keras.
  void set_weight_decay(std::optional<double> weight_decay);
  std::optional<double> weight_decay() const { return weight_decay_; }
  // At most one of the three may be set.
  void set_clipping(std::optional<double> clipnorm, std::optional<double> clipvalue,
                    std::optional<double> global_clipnorm);
  std::optional<double> clipnorm() const { return clipnorm_; }
  std::optional<double> clipvalue() const { return clipvalue_; }
  std::optional<double> global_clipnorm() const { return global_clipnorm_; }
  // Variables weight decay skips: these ones, and those whose name a pattern
  // (ECMAScript regex, searched as Keras's re.search) is found in. Replaces any
  // earlier exclusion.
  void exclude_from_weight_decay(std::vector<std::shared_ptr<const Variable>> variables,
                                 const std::vector<std::string>& name_patterns);

  float learning_rate;  // the constant rate, used while no schedule is set
  // Sets learning_rate; ValueError unless it is >= 0 (NaN included).
  void set_learning_rate(float lr);
  std::shared_ptr<const LearningRateSchedule> schedule;
  // Steps taken; a step runs only when 0 <= iterations < kMaxIterations (the powers
  // of the betas at a step count past that, or below 0, are not numbers Keras has).
  int64_t iterations = 0;
  static constexpr int64_t kMaxIterations = int64_t{1} << 53;
  // Sets iterations (a restored state's count); ValueError when out of range.
  void set_iterations(int64_t steps);

 protected:
  std::optional<double> weight_decay_;
  // Initial value of every element of slot `slot` (Adagrad starts above zero).
  virtual float slot_initial_value(size_t /*slot*/) const { return 0.0f; }
  // Elements of slot `slot` for a variable of this shape: the variable's own count
  // unless the slot is smaller (Adafactor's factored moments).
  virtual int64_t slot_size(size_t /*slot*/, const Shape& shape) const {
    return num_elements(shape);
  }
  // Once per variable per step, before weight decay and update() (ScheduleFreeAdamW
  // starts its momentum at the variable's value on the first step).
  virtual void before_update(std::vector<Tensor>& /*slot*/, float* /*param*/, int64_t /*n*/,
                             int64_t /*step*/) {}
  // The shape of the variable update() is updating: as built from variables, or
  // {n} when built from sizes.
  const Shape& variable_shape() const { return shapes_[current_]; }
  // The weight decay of the variable update() is about to update (Muon decays its
  // AdamW-updated variables by adam_weight_decay); any_weight_decay: whether any
  // variable may decay.
  virtual std::optional<double> variable_weight_decay(size_t /*i*/, const float* /*param*/) const {
    return weight_decay_;
  }
  virtual bool any_weight_decay() const;
  // The name of variable i (empty when built from sizes).
  std::string variable_name(size_t i) const { return i < names_.size() ? names_[i] : ""; }
  const Shape& shape_of_variable(size_t i) const { return shapes_.at(i); }
  size_t current_variable_index() const { return current_; }
  // Once per step, before any variable's update; step counts from 1.
  virtual void begin_step(int64_t /*step*/, float /*lr*/) {}
  // Restores this optimizer's scalars (as many as scalar_names()).
  virtual void restore_scalars(const std::vector<float>& /*values*/) {}
  // The backend every update runs on (context().be()).
  Backend& be() const { return *ctx_.backend; }
  // slot holds this variable's slot buffers; lr is this step's learning rate.
  virtual void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                      int64_t step, float lr) = 0;

 private:
  void allocate_slots(const std::vector<Shape>& shapes);
  // Weight decay of variable i for this step, if it applies (exclusions resolved).
  void decay_one(size_t i, float* param, float lr);
  void check_count(size_t count) const;
  // Decides once (until the next build or exclusion) which variables weight decay skips.
  void resolve_decays(const std::vector<float*>& params);
  // Variable i's buffer for clipped gradients (all allocated on first use).
  float* clip_scratch(size_t i);
  // Gradient i clipped by norm or value into scratch, or grad as it is.
  const float* clipped_one(size_t i, const float* grad);

  Context ctx_;
  // The open step (open_step .. close_step): its number and learning rate.
  int64_t open_step_ = 0;
  float open_lr_ = 0.0f;

  std::vector<int64_t> sizes_;
  std::vector<Shape> shapes_;
  size_t current_ = 0;              // the variable being updated (variable_shape())
  std::vector<std::string> names_;  // empty when built from sizes alone
  std::vector<std::vector<Tensor>> slots_;

  std::optional<double> clipnorm_, clipvalue_, global_clipnorm_;
  std::vector<Tensor> clip_scratch_;  // clipped gradients, allocated once

  std::vector<std::shared_ptr<const Variable>> decay_excluded_;
  std::vector<std::string> decay_excluded_patterns_;
  std::vector<char> decays_;  // per variable: does weight decay apply; resolved on the next step
  bool decays_resolved_ = false;
};

// w -= lr * g; with momentum m = momentum * m - lr * g, w += m (nesterov:
// w += momentum * m - lr * g).
class SGD final : public Optimizer {
 public:
  SGD(float lr = 0.01f, double momentum_ = 0.0, bool nesterov_ = false);
  std::string name() const override { return "SGD"; }
  std::vector<std::string> slot_names() const override;
  double momentum;
  bool nesterov;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;
};

// m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// w -= m * lr * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)   (amsgrad: v = max(v_hat, v))
class Adam : public Optimizer {
 public:
  Adam(float lr = 0.001f, double beta_1_ = 0.9, double beta_2_ = 0.999, double epsilon_ = 1e-7,
       bool amsgrad_ = false);
  std::string name() const override { return "Adam"; }
  std::vector<std::string> slot_names() const override;
  double beta_1, beta_2, epsilon;
  bool amsgrad;

 protected:
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::AdamScalars scalars_{};
};

// Adam with decoupled weight decay: the common weight_decay, on by default.
class AdamW final : public Adam {
 public:
  AdamW(float lr = 0.001f, double weight_decay = 0.004, double beta_1_ = 0.9,
        double beta_2_ = 0.999, double epsilon_ = 1e-7, bool amsgrad_ = false);
  std::string name() const override { return "AdamW"; }
};

// v = rho v + (1 - rho) g^2; (centered: a = rho a + (1 - rho) g, v - a^2 below)
// inc = lr g / sqrt(v + eps); momentum: m = momentum m + inc, w -= m; else w -= inc.
class RMSprop final : public Optimizer {
 public:
  RMSprop(float lr = 0.001f, double rho_ = 0.9, double momentum_ = 0.0, double epsilon_ = 1e-7,
          bool centered_ = false);
  std::string name() const override { return "RMSprop"; }
  std::vector<std::string> slot_names() const override;
  double rho, momentum, epsilon;
  bool centered;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;
};

// acc += g^2 (acc starts at initial_accumulator_value); w -= lr g / sqrt(acc + eps).
class Adagrad final : public Optimizer {
 public:
  Adagrad(float lr = 0.001f, double initial_accumulator_value_ = 0.1, double epsilon_ = 1e-7);
  std::string name() const override { return "Adagrad"; }
  std::vector<std::string> slot_names() const override { return {"accumulator"}; }
  double initial_accumulator_value, epsilon;

 protected:
  float slot_initial_value(size_t slot) const override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;
};

// Ag = rho Ag + (1 - rho) g^2; d = -sqrt(Ad + eps) g / sqrt(Ag + eps);
// Ad = rho Ad + (1 - rho) d^2; w += lr d.
class Adadelta final : public Optimizer {
 public:
  Adadelta(float lr = 0.001f, double rho_ = 0.95, double epsilon_ = 1e-7);
  std::string name() const override { return "Adadelta"; }
  std::vector<std::string> slot_names() const override {
    return {"accumulated_grad", "accumulated_delta_var"};
  }
  double rho, epsilon;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;
};

// m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps)).
class Adamax final : public Optimizer {
 public:
  Adamax(float lr = 0.001f, double beta_1_ = 0.9, double beta_2_ = 0.999, double epsilon_ = 1e-7);
  std::string name() const override { return "Adamax"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "norm"}; }
  double beta_1, beta_2, epsilon;

 protected:
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::AdamaxScalars scalars_{};
};

// Adam with Nesterov momentum and Dozat's momentum schedule u_t = b1 (1 - 0.96^t / 2);
// u_product = prod of u_s for s <= t is state, advanced once per step.
class Nadam final : public Optimizer {
 public:
  Nadam(float lr = 0.001f, double beta_1_ = 0.9, double beta_2_ = 0.999, double epsilon_ = 1e-7);
  std::string name() const override { return "Nadam"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  std::vector<std::string> scalar_names() const override { return {"u_product"}; }
  std::vector<float> scalar_state() const override;
  double beta_1, beta_2, epsilon;

 protected:
  void begin_step(int64_t step, float lr) override;
  void restore_scalars(const std::vector<float>& values) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  // u_product after `steps` steps, replaying the float32 products from 1.
  float u_product_after(int64_t steps) const;
  float u_product_ = 1.0f;
  int64_t u_product_steps_ = 0;  // the step count u_product_ belongs to
  kernels::NadamScalars scalars_{};
};

// w -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g.
class Lion final : public Optimizer {
 public:
  Lion(float lr = 0.001f, double beta_1_ = 0.9, double beta_2_ = 0.99);
  std::string name() const override { return "Lion"; }
  std::vector<std::string> slot_names() const override { return {"momentum"}; }
  double beta_1, beta_2;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;
};

// FTRL-proximal: n += g^2; z += g + 2 s w - (n^-p - n_prev^-p) / lr w;
// w = (clip(z, -l1, l1) - z) / (n^-p / lr + 2 (l2 + beta / (2 lr))).
class Ftrl final : public Optimizer {
 public:
  Ftrl(float lr = 0.001f, double learning_rate_power_ = -0.5,
       double initial_accumulator_value_ = 0.1, double l1_regularization_strength_ = 0.0,
       double l2_regularization_strength_ = 0.0, double l2_shrinkage_regularization_strength_ = 0.0,
       double beta_ = 0.0);
  std::string name() const override { return "Ftrl"; }
  std::vector<std::string> slot_names() const override { return {"accumulator", "linear"}; }
  double learning_rate_power, initial_accumulator_value, l1_regularization_strength,
      l2_regularization_strength, l2_shrinkage_regularization_strength, beta;

 protected:
  float slot_initial_value(size_t slot) const override;
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::FtrlScalars scalars_{};
};

// Adafactor (Shazeer & Stern 2018), Keras's variant: a variable of rank >= 2 keeps
// its second moment factored over the last two dimensions (row means r, column means
// c; v = r / mean(r) x c), others keep v. With t the step, rho = min(lr, 1/sqrt(t)),
// b = 1 - t^beta_2_decay and G = g^2 + epsilon_1: r = b r + (1 - b) mean_cols(G) (c
// likewise, or v = b v + (1 - b) G); u = g / sqrt(v), u /= max(1, rms(u) / clip);
// w -= max(epsilon_2, rms(w)) rho u.
class Adafactor final : public Optimizer {
 public:
  Adafactor(float lr = 0.001f, double beta_2_decay_ = -0.8, double epsilon_1_ = 1e-30,
            double epsilon_2_ = 1e-3, double clip_threshold_ = 1.0, bool relative_step_ = true);
  std::string name() const override { return "Adafactor"; }
  std::vector<std::string> slot_names() const override { return {"r", "c", "velocity"}; }
  double beta_2_decay, epsilon_1, epsilon_2, clip_threshold;
  bool relative_step;

 protected:
  int64_t slot_size(size_t slot, const Shape& shape) const override;
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::AdafactorScalars scalars_{};
};

// Schedule-free AdamW (Defazio et al. 2024), Keras's variant: z (`momentum`, starting
// at the variable's value) takes Adam-scaled steps, x averages the z's uniformly, and
// the variable holds y = (1 - b1) z + b1 x; no learning-rate schedule is needed.
class ScheduleFreeAdamW final : public Optimizer {
 public:
  ScheduleFreeAdamW(float lr = 0.0025f, double beta_1_ = 0.9, double beta_2_ = 0.999,
                    double epsilon_ = 1e-8, int64_t warmup_steps_ = 0);
  std::string name() const override { return "ScheduleFreeAdamW"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  double beta_1, beta_2, epsilon;
  int64_t warmup_steps;

 protected:
  void before_update(std::vector<Tensor>& slot, float* param, int64_t n, int64_t step) override;
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::ScheduleFreeScalars scalars_{};
};

// Adam's moments; the step u = m_hat / (sqrt(v_hat) + eps) is scaled by the
// layer-wise trust ratio ||w|| / ||u|| (1 when either norm is 0): w -= ratio lr u.
class Lamb final : public Optimizer {
 public:
  Lamb(float lr = 0.001f, double beta_1_ = 0.9, double beta_2_ = 0.999, double epsilon_ = 1e-7);
  std::string name() const override { return "Lamb"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  double beta_1, beta_2, epsilon;

 protected:
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::LambScalars scalars_{};
};

// Muon (Keras's): matrices (rank-2 variables, except embeddings' and those whose
// name matches exclude_layers) take muon_update's orthogonalised momentum step; every
// other variable takes AdamW's (adam_beta_1/2, epsilon, the rate times adam_lr_ratio)
// and decays by adam_weight_decay instead of weight_decay.
class Muon final : public Optimizer {
 public:
  Muon(float lr = 0.001f, double adam_beta_1_ = 0.9, double adam_beta_2_ = 0.999,
       std::optional<double> adam_weight_decay_ = 0.004, double epsilon_ = 1e-7,
       std::optional<double> weight_decay = 0.004, std::vector<std::string> exclude_layers_ = {},
       bool exclude_embeddings_ = true, double muon_a_ = 3.4445, double muon_b_ = -4.7750,
       double muon_c_ = 2.0315, double adam_lr_ratio_ = 1.0, double momentum_ = 0.95,
       int64_t ns_steps_ = 5, bool nesterov_ = true, std::optional<double> rms_rate_ = 0.2);
  std::string name() const override { return "Muon"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  double adam_beta_1, adam_beta_2;
  std::optional<double> adam_weight_decay;
  double epsilon;
  std::vector<std::string> exclude_layers;
  bool exclude_embeddings;
  double muon_a, muon_b, muon_c, adam_lr_ratio, momentum;
  int64_t ns_steps;
  bool nesterov;
  std::optional<double> rms_rate;
  // Whether variable i (its values at param) takes the AdamW step: Keras's
  // _should_use_adamw on the variable's path, as set_adamw_variables marked them (or, until
  // then, on the engine variable's name).
  bool uses_adamw(size_t i, const float* param) const;
  // The variables (besides those not of rank 2) that take the AdamW step; Python decides
  // from the variables' paths ("layer/weight"), which the engine names lack.
  void set_adamw_variables(std::vector<std::shared_ptr<const Variable>> variables);

 protected:
  std::optional<double> variable_weight_decay(size_t i, const float* param) const override;
  bool any_weight_decay() const override;
  void begin_step(int64_t step, float lr) override;
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n, int64_t step,
              float lr) override;

 private:
  kernels::AdamScalars adam_{};
  Tensor scratch_;
  bool marked_ = false;
  std::vector<std::shared_ptr<const Variable>> adamw_variables_;
};

}  // namespace ember
