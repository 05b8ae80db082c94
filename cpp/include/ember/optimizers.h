// Optimizers: Keras 3's update rules, applied to every trainable variable in one
// call per step. The math lives in kernels (cpu/optimizer_kernels.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember {

class Optimizer {
 public:
  explicit Optimizer(float lr) : learning_rate(lr) {}
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;

  // Allocates the slots (zeros) for variables of the given sizes. Keeps existing
  // slots when the sizes are unchanged, so recompiling does not lose state.
  void build(const std::vector<int64_t>& sizes);
  // One step: params[i] is updated in place from grads[i]. Increments iterations.
  void apply(const std::vector<float*>& params, const std::vector<const float*>& grads);

  // Slot tensors per variable, in the order of slot_names(); for saving and inspection.
  virtual std::vector<std::string> slot_names() const = 0;
  std::vector<std::vector<Tensor>>& slots() { return slots_; }

  float learning_rate;
  int64_t iterations = 0;

 protected:
  // step counts from 1; slot holds this variable's slot buffers.
  virtual void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
                      int64_t step) = 0;

 private:
  std::vector<int64_t> sizes_;
  std::vector<std::vector<Tensor>> slots_;
};

// w -= lr * g; with momentum m = momentum * m - lr * g, w += m (nesterov:
// w += momentum * m - lr * g).
class SGD final : public Optimizer {
 public:
  SGD(float lr = 0.01f, float momentum_ = 0.0f, bool nesterov_ = false);
  std::string name() const override { return "SGD"; }
  std::vector<std::string> slot_names() const override;
  float momentum;
  bool nesterov;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
              int64_t step) override;
};

// m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// w -= m * lr * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)   (amsgrad: v = max(v_hat, v))
class Adam final : public Optimizer {
 public:
  Adam(float lr = 0.001f, float beta_1_ = 0.9f, float beta_2_ = 0.999f, float epsilon_ = 1e-7f,
       bool amsgrad_ = false);
  std::string name() const override { return "Adam"; }
  std::vector<std::string> slot_names() const override;
  float beta_1, beta_2, epsilon;
  bool amsgrad;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
              int64_t step) override;
};

// v = rho v + (1 - rho) g^2; (centered: a = rho a + (1 - rho) g, v - a^2 below)
// inc = lr g / sqrt(v + eps); momentum: m = momentum m + inc, w -= m; else w -= inc.
class RMSprop final : public Optimizer {
 public:
  RMSprop(float lr = 0.001f, float rho_ = 0.9f, float momentum_ = 0.0f, float epsilon_ = 1e-7f,
          bool centered_ = false);
  std::string name() const override { return "RMSprop"; }
  std::vector<std::string> slot_names() const override;
  float rho, momentum, epsilon;
  bool centered;

 protected:
  void update(std::vector<Tensor>& slot, float* param, const float* grad, int64_t n,
              int64_t step) override;
};

namespace kernels {
// Each updates param(n) in place from grad(n); slots are (n) buffers.
void sgd_update(float* param, const float* grad, float* velocity, int64_t n, float lr,
                float momentum, bool nesterov);
void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, int64_t n,
                 float lr, float beta_1, float beta_2, float epsilon, int64_t step);
void rmsprop_update(float* param, const float* grad, float* velocity, float* average_grad,
                    float* momentum_buf, int64_t n, float lr, float rho, float momentum,
                    float epsilon);
}  // namespace kernels

}  // namespace ember
