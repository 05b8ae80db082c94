#include "ember/optimizers.h"

#include "ember/error.h"

namespace ember {

void Optimizer::build(const std::vector<int64_t>& sizes) {
  if (sizes == sizes_ && !slots_.empty()) return;
  sizes_ = sizes;
  const size_t per_var = slot_names().size();
  slots_.assign(sizes.size(), {});
  for (size_t i = 0; i < sizes.size(); ++i)
    for (size_t s = 0; s < per_var; ++s) slots_[i].emplace_back(Shape{sizes[i]});
}

void Optimizer::apply(const std::vector<float*>& params, const std::vector<const float*>& grads) {
  if (params.size() != slots_.size() || grads.size() != slots_.size())
    throw ValueError(name() + ": optimizer was built for " + std::to_string(slots_.size()) +
                     " variables but got " + std::to_string(params.size()));
  const int64_t step = iterations + 1;
  for (size_t i = 0; i < params.size(); ++i)
    update(slots_[i], params[i], grads[i], sizes_[i], step);
  iterations = step;
}

SGD::SGD(float lr, float momentum_, bool nesterov_)
    : Optimizer(lr), momentum(momentum_), nesterov(nesterov_) {
  if (momentum < 0.0f || momentum > 1.0f)
    throw ValueError("SGD: `momentum` must be in [0, 1], got " + std::to_string(momentum));
}
std::vector<std::string> SGD::slot_names() const {
  return momentum != 0.0f ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}
void SGD::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                 int64_t /*step*/) {
  kernels::sgd_update(param, grad, slot.empty() ? nullptr : slot[0].data(), n, learning_rate,
                      momentum, nesterov);
}

Adam::Adam(float lr, float beta_1_, float beta_2_, float epsilon_, bool amsgrad_)
    : Optimizer(lr), beta_1(beta_1_), beta_2(beta_2_), epsilon(epsilon_), amsgrad(amsgrad_) {}
std::vector<std::string> Adam::slot_names() const {
  if (amsgrad) return {"momentum", "velocity", "velocity_hat"};
  return {"momentum", "velocity"};
}
void Adam::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                  int64_t step) {
  kernels::adam_update(param, grad, slot[0].data(), slot[1].data(),
                       amsgrad ? slot[2].data() : nullptr, n, learning_rate, beta_1, beta_2,
                       epsilon, step);
}

RMSprop::RMSprop(float lr, float rho_, float momentum_, float epsilon_, bool centered_)
    : Optimizer(lr), rho(rho_), momentum(momentum_), epsilon(epsilon_), centered(centered_) {}
std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names{"velocity"};
  if (momentum > 0.0f) names.emplace_back("momentum");
  if (centered) names.emplace_back("average_gradient");
  return names;
}
void RMSprop::update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                     int64_t /*step*/) {
  size_t k = 1;
  float* mom = momentum > 0.0f ? slot[k++].data() : nullptr;
  float* avg = centered ? slot[k].data() : nullptr;
  kernels::rmsprop_update(param, grad, slot[0].data(), avg, mom, n, learning_rate, rho, momentum,
                          epsilon);
}

}  // namespace ember
