#include "ember/optimizers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <sstream>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {

namespace {

std::string number(double x) {
  std::ostringstream os;
  os.precision(16);
  os << x;
  return os.str();
}

void check_in_unit_interval(double x, const std::string& optimizer, const char* argument) {
  if (!(x >= 0.0 && x <= 1.0))
    throw ValueError(optimizer + ": `" + argument + "` must be a float between [0, 1], got " +
                     number(x));
}

void check_non_negative(double x, const std::string& what, const char* argument) {
  if (!(x >= 0.0))
    throw ValueError(what + ": `" + argument + "` must be a non-negative float, got " + number(x));
}

bool is_on(const std::optional<double>& x) { return x && *x > 0.0; }

std::string slot_mismatch(const std::string& optimizer, const char* arguments) {
  return optimizer + ": " + arguments +
         " changed after the optimizer was built; its slots no longer fit (create a new "
         "optimizer instead)";
}

}  // namespace

Optimizer::Optimizer(float lr) : learning_rate(lr), ctx_(cpu_backend().context()) {
  check_non_negative(lr, "Optimizer", "learning_rate");
}

void Optimizer::set_context(const Context& ctx) {
  if (ctx.backend != ctx_.backend) {
    sizes_.clear();
    slots_.clear();
    clip_scratch_.clear();
  }
  ctx_ = ctx;
}

namespace {
void check_iterations(int64_t steps, const std::string& optimizer) {
  if (steps < 0 || steps >= Optimizer::kMaxIterations)
    throw ValueError(optimizer + ": `iterations` must be in [0, 2**53), got " +
                     std::to_string(steps));
}
}  // namespace

void Optimizer::set_learning_rate(float lr) {
  if (!(lr >= 0.0f))
    throw ValueError(name() + ": `learning_rate` must be a non-negative float, got " +
                     std::to_string(lr));
  learning_rate = lr;
}

void Optimizer::set_iterations(int64_t steps) {
  check_iterations(steps, name());
  iterations = steps;
}

void Optimizer::build(const std::vector<int64_t>& sizes) {
  // Rebuilt for the same sizes (a recompile), the variables are the ones named (and
  // shaped) before.
  if (sizes == sizes_) {
    allocate_slots(shapes_);
    return;
  }
  names_.clear();
  std::vector<Shape> shapes;
  for (int64_t n : sizes) shapes.push_back(Shape{n});
  allocate_slots(shapes);
}

void Optimizer::build(const std::vector<Variable*>& variables) {
  std::vector<Shape> shapes;
  std::vector<std::string> names;
  for (const Variable* v : variables) {
    if (!v) throw ValueError(name() + ": build() got a null variable");
    shapes.push_back(v->value.shape());
    names.push_back(v->name);
  }
  allocate_slots(shapes);
  names_ = std::move(names);
}

void Optimizer::allocate_slots(const std::vector<Shape>& shapes) {
  decays_.assign(shapes.size(), 1);
  decays_resolved_ = false;
  const size_t per_var = slot_names().size();
  if (shapes == shapes_ && !slots_.empty() && slots_[0].size() == per_var) return;
  shapes_ = shapes;
  sizes_.clear();
  for (const Shape& shape : shapes) sizes_.push_back(num_elements(shape));
  slots_.assign(shapes.size(), {});
  for (size_t i = 0; i < shapes.size(); ++i)
    for (size_t s = 0; s < per_var; ++s)
      slots_[i].emplace_back(Shape{slot_size(s, shapes[i])}, slot_initial_value(s), be().device());
  clip_scratch_.clear();
}

void Optimizer::set_scalar_state(const std::vector<float>& values) {
  const size_t expected = scalar_names().size();
  if (values.size() != expected)
    throw ValueError(name() + ": expected " + std::to_string(expected) +
                     " scalar state values, got " + std::to_string(values.size()));
  restore_scalars(values);
}

float Optimizer::current_learning_rate() const {
  return schedule ? (*schedule)(iterations) : learning_rate;
}

void Optimizer::set_weight_decay(std::optional<double> weight_decay) {
  if (weight_decay) check_non_negative(*weight_decay, name(), "weight_decay");
  weight_decay_ = weight_decay;
}

void Optimizer::set_clipping(std::optional<double> clipnorm, std::optional<double> clipvalue,
                             std::optional<double> global_clipnorm) {
  if (int(bool(clipnorm)) + int(bool(clipvalue)) + int(bool(global_clipnorm)) > 1)
    throw ValueError(name() +
                     ": only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                     "Received: clipnorm=" +
                     (clipnorm ? number(*clipnorm) : "None") +
                     ", clipvalue=" + (clipvalue ? number(*clipvalue) : "None") +
                     ", global_clipnorm=" + (global_clipnorm ? number(*global_clipnorm) : "None"));
  if (clipnorm) check_non_negative(*clipnorm, name(), "clipnorm");
  if (clipvalue) check_non_negative(*clipvalue, name(), "clipvalue");
  if (global_clipnorm) check_non_negative(*global_clipnorm, name(), "global_clipnorm");
  clipnorm_ = clipnorm;
  clipvalue_ = clipvalue;
  global_clipnorm_ = global_clipnorm;
}

void Optimizer::exclude_from_weight_decay(std::vector<std::shared_ptr<const Variable>> variables,
                                          const std::vector<std::string>& name_patterns) {
  for (const auto& v : variables)
    if (!v) throw ValueError(name() + ": exclude_from_weight_decay got a null variable");
  for (const std::string& p : name_patterns) {
    try {
      std::regex check(p);
    } catch (const std::regex_error& e) {
      throw ValueError(name() + ": exclude_from_weight_decay: `var_names` entry '" + p +
                       "' is not a valid regular expression (" + e.what() + ")");
    }
  }
  decay_excluded_ = std::move(variables);
  decay_excluded_patterns_ = name_patterns;
  decays_resolved_ = false;
}

float* Optimizer::clip_scratch(size_t i) {
  if (clip_scratch_.size() != sizes_.size()) {  // first clipped step since build
    clip_scratch_.clear();
    for (int64_t n : sizes_) clip_scratch_.emplace_back(Shape{n}, 0.0f, be().device());
  }
  return clip_scratch_[i].data();
}

const float* Optimizer::clipped_one(size_t i, const float* grad) {
  const bool by_norm = is_on(clipnorm_), by_value = !by_norm && is_on(clipvalue_);
  if (!by_norm && !by_value) return grad;
  float* out = clip_scratch(i);
  if (by_norm) be().clip_by_norm(ctx_, grad, out, sizes_[i], *clipnorm_);
  if (by_value) be().clip_by_value(ctx_, grad, out, sizes_[i], *clipvalue_);
  return out;
}

void Optimizer::resolve_decays(const std::vector<float*>& params) {
  if (decays_resolved_) return;
  std::vector<std::regex> patterns(decay_excluded_patterns_.begin(),
                                   decay_excluded_patterns_.end());
  if (!patterns.empty() && names_.size() != params.size())
    throw ValueError(name() +
                     ": exclude_from_weight_decay(var_names=...) matches variable names, but "
                     "the optimizer was built from sizes alone; build it with the variables "
                     "first (in Python: optimizer.build(model.trainable_variables))");
  for (size_t i = 0; i < params.size(); ++i) {
    bool excluded = std::any_of(decay_excluded_.begin(), decay_excluded_.end(),
                                [&](const auto& v) { return v->value.data() == params[i]; });
    for (const std::regex& p : patterns) excluded = excluded || std::regex_search(names_[i], p);
    decays_[i] = !excluded;
  }
  decays_resolved_ = true;
}

void Optimizer::check_count(size_t count) const {
  if (count != slots_.size())
    throw ValueError(name() + ": optimizer was built for " + std::to_string(slots_.size()) +
                     " variables but got " + std::to_string(count));
}

// set_clipping allows one of clipnorm and global_clipnorm at most.
bool Optimizer::steps_per_variable() const { return !is_on(global_clipnorm_); }

void Optimizer::open_step(const std::vector<float*>& params) {
  if (!steps_per_variable())
    throw ValueError(name() + ": global_clipnorm needs every gradient before any update");
  check_count(params.size());
  check_iterations(iterations, name());
  open_lr_ = current_learning_rate();
  if (any_weight_decay()) resolve_decays(params);
  open_step_ = iterations + 1;
  begin_step(open_step_, open_lr_);
}

// Keras's order for one variable: clip its gradient, decay it, update it.
void Optimizer::apply_one(size_t i, float* param, const float* grad) {
  if (open_step_ == 0) throw ValueError(name() + ": apply_one outside open_step/close_step");
  if (i >= slots_.size())
    throw ValueError(name() + ": no variable " + std::to_string(i) + " in this optimizer");
  const float* g = clipped_one(i, grad);
  before_update(slots_[i], param, sizes_[i], open_step_);
  decay_one(i, param, open_lr_);
  current_ = i;
  update(slots_[i], param, g, sizes_[i], open_step_, open_lr_);
}

bool Optimizer::any_weight_decay() const { return is_on(weight_decay_); }

void Optimizer::decay_one(size_t i, float* param, float lr) {
  const std::optional<double> decay = variable_weight_decay(i, param);
  if (is_on(decay) && decays_[i]) be().decay_weights(ctx_, param, sizes_[i], *decay, lr);
}

void Optimizer::close_step() {
  if (open_step_ == 0) throw ValueError(name() + ": close_step without open_step");
  iterations = open_step_;
  open_step_ = 0;
}

void Optimizer::apply(const std::vector<float*>& params, const std::vector<const float*>& grads) {
  check_count(params.size());
  check_count(grads.size());
  check_iterations(iterations, name());
  if (steps_per_variable()) {
    open_step(params);
    for (size_t i = 0; i < params.size(); ++i) apply_one(i, params[i], grads[i]);
    close_step();
    return;
  }
  // global_clipnorm: Keras sums each gradient's squares in float32, then those sums,
  // and scales every gradient by the one factor before any update.
  const float lr = current_learning_rate();
  double total = 0.0;
  for (size_t i = 0; i < grads.size(); ++i)
    total += static_cast<float>(be().sum_of_squares(ctx_, grads[i], sizes_[i]));
  const float scale = kernels::global_clip_scale(total, *global_clipnorm_);
  if (any_weight_decay()) resolve_decays(params);
  const int64_t step = iterations + 1;
  begin_step(step, lr);
  for (size_t i = 0; i < params.size(); ++i) {
    float* g = clip_scratch(i);
    be().scale_gradient(ctx_, grads[i], g, sizes_[i], scale);
    before_update(slots_[i], params[i], sizes_[i], step);
    decay_one(i, params[i], lr);
    current_ = i;
    update(slots_[i], params[i], g, sizes_[i], step, lr);
  }
  iterations = step;
}

SGD::SGD(float lr, double momentum_, bool nesterov_)
    : Optimizer(lr), momentum(momentum_), nesterov(nesterov_) {
  check_in_unit_interval(momentum, "SGD", "momentum");
}
std::vector<std::string> SGD::slot_names() const {
  return momentum != 0.0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}
void SGD::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                 int64_t /*step*/, float lr) {
  if (slot.size() != (momentum != 0.0 ? 1u : 0u))
    throw ValueError(slot_mismatch(name(), "`momentum` (zero or not)"));
  be().sgd_update(context(), param, grad, slot.empty() ? nullptr : slot[0].data(), n, lr, momentum,
                  nesterov);
}

Adam::Adam(float lr, double beta_1_, double beta_2_, double epsilon_, bool amsgrad_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_), epsilon(epsilon_), amsgrad(amsgrad_) {
  check_in_unit_interval(beta_1, "Adam", "beta_1");
  check_in_unit_interval(beta_2, "Adam", "beta_2");
  check_non_negative(epsilon, "Adam", "epsilon");
}
std::vector<std::string> Adam::slot_names() const {
  if (amsgrad) return {"momentum", "velocity", "velocity_hat"};
  return {"momentum", "velocity"};
}
void Adam::begin_step(int64_t step, float lr) {
  scalars_ = kernels::adam_scalars(lr, beta_1, beta_2, epsilon, step);
}
void Adam::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t /*step*/, float /*lr*/) {
  if (slot.size() != (amsgrad ? 3u : 2u)) throw ValueError(slot_mismatch(name(), "`amsgrad`"));
  be().adam_update(context(), param, grad, slot[0].data(), slot[1].data(),
                   amsgrad ? slot[2].data() : nullptr, n, scalars_);
}

AdamW::AdamW(float lr, double weight_decay, double beta_1_, double beta_2_, double epsilon_,
             bool amsgrad_)
    : Adam(lr, beta_1_, beta_2_, epsilon_, amsgrad_) {
  set_weight_decay(weight_decay);
}

RMSprop::RMSprop(float lr, double rho_, double momentum_, double epsilon_, bool centered_)
    : Optimizer(lr), rho(rho_), momentum(momentum_), epsilon(epsilon_), centered(centered_) {
  check_in_unit_interval(rho, "RMSprop", "rho");
  check_in_unit_interval(momentum, "RMSprop", "momentum");
  check_non_negative(epsilon, "RMSprop", "epsilon");
}
std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names{"velocity"};
  if (momentum > 0.0) names.emplace_back("momentum");
  if (centered) names.emplace_back("average_gradient");
  return names;
}
void RMSprop::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                     int64_t /*step*/, float lr) {
  if (slot.size() != 1u + (momentum > 0.0) + centered)
    throw ValueError(slot_mismatch(name(), "`momentum` (zero or not) or `centered`"));
  size_t k = 1;
  float* mom = momentum > 0.0 ? slot[k++].data() : nullptr;
  float* avg = centered ? slot[k].data() : nullptr;
  be().rmsprop_update(context(), param, grad, slot[0].data(), avg, mom, n, lr, rho, momentum,
                      epsilon);
}

Adagrad::Adagrad(float lr, double initial_accumulator_value_, double epsilon_)
    : Optimizer(lr), initial_accumulator_value(initial_accumulator_value_), epsilon(epsilon_) {
  check_non_negative(initial_accumulator_value, "Adagrad", "initial_accumulator_value");
  check_non_negative(epsilon, "Adagrad", "epsilon");
}
float Adagrad::slot_initial_value(size_t /*slot*/) const {
  return static_cast<float>(initial_accumulator_value);
}
void Adagrad::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                     int64_t /*step*/, float lr) {
  be().adagrad_update(context(), param, grad, slot[0].data(), n, lr, epsilon);
}

Adadelta::Adadelta(float lr, double rho_, double epsilon_)
    : Optimizer(lr), rho(rho_), epsilon(epsilon_) {
  check_in_unit_interval(rho, "Adadelta", "rho");
  check_non_negative(epsilon, "Adadelta", "epsilon");
}
void Adadelta::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                      int64_t /*step*/, float lr) {
  be().adadelta_update(context(), param, grad, slot[0].data(), slot[1].data(), n, lr, rho, epsilon);
}

Adamax::Adamax(float lr, double beta_1_, double beta_2_, double epsilon_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_), epsilon(epsilon_) {
  check_in_unit_interval(beta_1, "Adamax", "beta_1");
  check_in_unit_interval(beta_2, "Adamax", "beta_2");
  check_non_negative(epsilon, "Adamax", "epsilon");
}
void Adamax::begin_step(int64_t step, float lr) {
  scalars_ = kernels::adamax_scalars(lr, beta_1, beta_2, epsilon, step);
}
void Adamax::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                    int64_t /*step*/, float /*lr*/) {
  be().adamax_update(context(), param, grad, slot[0].data(), slot[1].data(), n, scalars_);
}

Nadam::Nadam(float lr, double beta_1_, double beta_2_, double epsilon_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_), epsilon(epsilon_) {
  check_in_unit_interval(beta_1, "Nadam", "beta_1");
  check_in_unit_interval(beta_2, "Nadam", "beta_2");
  check_non_negative(epsilon, "Nadam", "epsilon");
}
float Nadam::u_product_after(int64_t steps) const {
  if (steps == u_product_steps_) return u_product_;
  // iterations was set from outside (restored state): recompute the product it implies.
  float u = 1.0f;
  for (int64_t s = 1; s <= steps; ++s) u = kernels::nadam_u_product_step(u, beta_1, s);
  return u;
}
std::vector<float> Nadam::scalar_state() const { return {u_product_after(iterations)}; }
void Nadam::restore_scalars(const std::vector<float>& values) {
  u_product_ = values[0];
  u_product_steps_ = iterations;
}
void Nadam::begin_step(int64_t step, float lr) {
  // Keras advances the product once per step, before any variable's update.
  u_product_ = kernels::nadam_u_product_step(u_product_after(step - 1), beta_1, step);
  u_product_steps_ = step;
  scalars_ = kernels::nadam_scalars(lr, beta_1, beta_2, epsilon, step, u_product_);
}
void Nadam::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                   int64_t /*step*/, float /*lr*/) {
  be().nadam_update(context(), param, grad, slot[0].data(), slot[1].data(), n, scalars_);
}

Lion::Lion(float lr, double beta_1_, double beta_2_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_) {
  if (!(beta_1 > 0.0 && beta_1 <= 1.0))
    throw ValueError(
        "Lion: argument `beta_1` must be in the (0, 1] range. Otherwise, the optimizer "
        "degenerates to SignSGD. Received: beta_1=" +
        number(beta_1));
  check_in_unit_interval(beta_2, "Lion", "beta_2");
}
void Lion::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t /*step*/, float lr) {
  be().lion_update(context(), param, grad, slot[0].data(), n, lr, beta_1, beta_2);
}

Ftrl::Ftrl(float lr, double learning_rate_power_, double initial_accumulator_value_,
           double l1_regularization_strength_, double l2_regularization_strength_,
           double l2_shrinkage_regularization_strength_, double beta_)
    : Optimizer(lr),
      learning_rate_power(learning_rate_power_),
      initial_accumulator_value(initial_accumulator_value_),
      l1_regularization_strength(l1_regularization_strength_),
      l2_regularization_strength(l2_regularization_strength_),
      l2_shrinkage_regularization_strength(l2_shrinkage_regularization_strength_),
      beta(beta_) {
  check_non_negative(initial_accumulator_value, "Ftrl", "initial_accumulator_value");
  if (!(learning_rate_power <= 0.0))
    throw ValueError("Ftrl: `learning_rate_power` needs to be negative or zero, got " +
                     number(learning_rate_power));
  check_non_negative(l1_regularization_strength, "Ftrl", "l1_regularization_strength");
  check_non_negative(l2_regularization_strength, "Ftrl", "l2_regularization_strength");
  check_non_negative(l2_shrinkage_regularization_strength, "Ftrl",
                     "l2_shrinkage_regularization_strength");
}
float Ftrl::slot_initial_value(size_t slot) const {
  return slot == 0 ? static_cast<float>(initial_accumulator_value) : 0.0f;
}
void Ftrl::begin_step(int64_t /*step*/, float lr) {
  scalars_ =
      kernels::ftrl_scalars(lr, learning_rate_power, l1_regularization_strength,
                            l2_regularization_strength, l2_shrinkage_regularization_strength, beta);
}
void Ftrl::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t /*step*/, float /*lr*/) {
  be().ftrl_update(context(), param, grad, slot[0].data(), slot[1].data(), n, scalars_);
}

Lamb::Lamb(float lr, double beta_1_, double beta_2_, double epsilon_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_), epsilon(epsilon_) {
  check_in_unit_interval(beta_1, "Lamb", "beta_1");
  check_in_unit_interval(beta_2, "Lamb", "beta_2");
  check_non_negative(epsilon, "Lamb", "epsilon");
}
void Lamb::begin_step(int64_t step, float /*lr*/) {
  scalars_ = kernels::lamb_scalars(beta_1, beta_2, epsilon, step);
}
void Lamb::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t /*step*/, float lr) {
  be().lamb_update(context(), param, grad, slot[0].data(), slot[1].data(), n, lr, scalars_);
}

Adafactor::Adafactor(float lr, double beta_2_decay_, double epsilon_1_, double epsilon_2_,
                     double clip_threshold_, bool relative_step_)
    : Optimizer(lr),
      beta_2_decay(beta_2_decay_),
      epsilon_1(epsilon_1_),
      epsilon_2(epsilon_2_),
      clip_threshold(clip_threshold_),
      relative_step(relative_step_) {
  check_non_negative(epsilon_1, "Adafactor", "epsilon_1");
  check_non_negative(epsilon_2, "Adafactor", "epsilon_2");
  if (!(clip_threshold > 0.0))
    throw ValueError("Adafactor: `clip_threshold` must be a positive float, got " +
                     number(clip_threshold));
}
// Keras factors the last two dimensions of a variable of rank >= 2: r drops the last,
// c the second last. Below rank 2 r and c are scalar placeholders.
int64_t Adafactor::slot_size(size_t slot, const Shape& shape) const {
  if (slot == 2) return num_elements(shape);
  if (shape.size() < 2) return 1;
  const int64_t dropped = shape[shape.size() - (slot == 0 ? 1 : 2)];
  return dropped == 0 ? 0 : num_elements(shape) / dropped;
}
void Adafactor::begin_step(int64_t step, float lr) {
  scalars_ = kernels::adafactor_scalars(lr, relative_step, schedule != nullptr, beta_2_decay,
                                        epsilon_1, epsilon_2, clip_threshold, step);
}
void Adafactor::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                       int64_t /*step*/, float /*lr*/) {
  const Shape& shape = variable_shape();
  const bool factored = shape.size() >= 2;
  const int64_t cols = factored ? shape.back() : n, rows = factored ? shape[shape.size() - 2] : 1;
  const int64_t prefix = factored && rows * cols > 0 ? n / (rows * cols) : 1;
  be().adafactor_update(context(), param, grad, slot[0].data(), slot[1].data(), slot[2].data(),
                        prefix, rows, cols, factored, scalars_);
}

ScheduleFreeAdamW::ScheduleFreeAdamW(float lr, double beta_1_, double beta_2_, double epsilon_,
                                     int64_t warmup_steps_)
    : Optimizer(lr),
      beta_1(beta_1_),
      beta_2(beta_2_),
      epsilon(epsilon_),
      warmup_steps(warmup_steps_) {
  // x is recovered as (y - (1 - b1) z) / b1: beta_1 = 0 would divide by zero.
  if (!(beta_1 > 0.0 && beta_1 <= 1.0))
    throw ValueError("ScheduleFreeAdamW: `beta_1` must be in (0, 1], got " + number(beta_1));
  check_in_unit_interval(beta_2, "ScheduleFreeAdamW", "beta_2");
  check_non_negative(epsilon, "ScheduleFreeAdamW", "epsilon");
  if (warmup_steps < 0)
    throw ValueError("ScheduleFreeAdamW: `warmup_steps` must be >= 0, got " +
                     std::to_string(warmup_steps));
}
// Keras sets the momentum to the variable's value when it builds, right before the
// first step (and before that step's weight decay).
void ScheduleFreeAdamW::before_update(std::vector<Tensor>& slot, float* param, int64_t n,
                                      int64_t step) {
  if (step == 1)
    be().copy(context(), slot[0].data(), param, static_cast<size_t>(n) * sizeof(float));
}
void ScheduleFreeAdamW::begin_step(int64_t step, float lr) {
  scalars_ = kernels::schedule_free_scalars(lr, beta_1, beta_2, epsilon, warmup_steps, step);
}
void ScheduleFreeAdamW::update(std::vector<Tensor>& slot, float* param, const float* grad,
                               int64_t n, int64_t /*step*/, float /*lr*/) {
  be().schedule_free_adamw_update(context(), param, grad, slot[0].data(), slot[1].data(), n,
                                  scalars_);
}

Muon::Muon(float lr, double adam_beta_1_, double adam_beta_2_,
           std::optional<double> adam_weight_decay_, double epsilon_,
           std::optional<double> weight_decay, std::vector<std::string> exclude_layers_,
           bool exclude_embeddings_, double muon_a_, double muon_b_, double muon_c_,
           double adam_lr_ratio_, double momentum_, int64_t ns_steps_, bool nesterov_,
           std::optional<double> rms_rate_)
    : Optimizer(lr),
      adam_beta_1(adam_beta_1_),
      adam_beta_2(adam_beta_2_),
      adam_weight_decay(adam_weight_decay_),
      epsilon(epsilon_),
      exclude_layers(std::move(exclude_layers_)),
      exclude_embeddings(exclude_embeddings_),
      muon_a(muon_a_),
      muon_b(muon_b_),
      muon_c(muon_c_),
      adam_lr_ratio(adam_lr_ratio_),
      momentum(momentum_),
      ns_steps(ns_steps_),
      nesterov(nesterov_),
      rms_rate(rms_rate_) {
  check_in_unit_interval(adam_beta_1, "Muon", "adam_beta_1");
  check_in_unit_interval(adam_beta_2, "Muon", "adam_beta_2");
  check_non_negative(epsilon, "Muon", "epsilon");
  if (adam_weight_decay) check_non_negative(*adam_weight_decay, "Muon", "adam_weight_decay");
  check_non_negative(adam_lr_ratio, "Muon", "adam_lr_ratio");
  if (!std::isfinite(momentum))
    throw ValueError("Muon: `momentum` must be a finite number, got " + number(momentum));
  if (ns_steps < 0 || ns_steps > 1000)
    throw ValueError("Muon: `ns_steps` must be in [0, 1000], got " + std::to_string(ns_steps));
  for (const std::string& p : exclude_layers) {
    try {
      std::regex check(p);
    } catch (const std::regex_error&) {
      throw ValueError("Muon: `exclude_layers` entry '" + p + "' is not a regular expression");
    }
  }
  set_weight_decay(weight_decay);
}

bool Muon::uses_adamw(size_t i, const float* param) const {
  if (shape_of_variable(i).size() != 2) return true;
  if (marked_)
    return std::any_of(adamw_variables_.begin(), adamw_variables_.end(),
                       [&](const auto& v) { return v->value.data() == param; });
  const std::string path = variable_name(i);
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (exclude_embeddings && lower.find("embedding") != std::string::npos) return true;
  return std::any_of(exclude_layers.begin(), exclude_layers.end(),
                     [&](const std::string& p) { return std::regex_search(path, std::regex(p)); });
}

void Muon::set_adamw_variables(std::vector<std::shared_ptr<const Variable>> variables) {
  for (const auto& v : variables)
    if (!v) throw ValueError("Muon: set_adamw_variables got a null variable");
  adamw_variables_ = std::move(variables);
  marked_ = true;
}

std::optional<double> Muon::variable_weight_decay(size_t i, const float* param) const {
  return uses_adamw(i, param) ? adam_weight_decay : weight_decay_;
}
bool Muon::any_weight_decay() const {
  return is_on(weight_decay_) || is_on(adam_weight_decay);
}

void Muon::begin_step(int64_t step, float lr) {
  // Keras: learning_rate * adam_lr_ratio in float32 for the AdamW-updated variables.
  adam_ = kernels::adam_scalars(lr * static_cast<float>(adam_lr_ratio), adam_beta_1, adam_beta_2,
                                epsilon, step);
}

void Muon::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t /*step*/, float lr) {
  const size_t i = current_variable_index();
  if (uses_adamw(i, param)) {
    be().adam_update(context(), param, grad, slot[0].data(), slot[1].data(), nullptr, n, adam_);
    return;
  }
  const Shape& shape = shape_of_variable(i);
  const int64_t need = kernels::muon_scratch_size(shape[0], shape[1]);
  if (scratch_.size() < need) scratch_ = Tensor(Shape{need}, 0.0f, be().device());
  kernels::MuonScalars s{};
  s.lr = lr;
  s.momentum = static_cast<float>(momentum);
  s.momentum_minus_1 = static_cast<float>(momentum - 1.0);
  s.nesterov = nesterov;
  s.ns_steps = ns_steps;
  s.a = static_cast<float>(muon_a);
  s.b = static_cast<float>(muon_b);
  s.c = static_cast<float>(muon_c);
  s.adjust = rms_rate.has_value();
  s.rms_rate = static_cast<float>(rms_rate.value_or(0.0));
  be().muon_update(context(), param, grad, slot[0].data(), shape[0], shape[1], s,
                   scratch_.data());
}

}  // namespace ember
