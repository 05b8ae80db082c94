// Learning-rate schedules: Keras 3's, evaluated by the optimizer at its iteration
// count before every update (keras.optimizers.schedules). Keras computes them in
// float32 from the step cast to float32, with Python-number constants rounded to
// float32 where it meets them; so do these, to give the same values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ember {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;

  virtual std::string name() const = 0;
  // The rate at an integer step, as the optimizer asks for it with its iteration count.
  virtual float operator()(int64_t step) const { return at(static_cast<float>(step)); }
  // The rate at a float32 step (what Keras computes when called with a float).
  virtual float at(float step) const = 0;
};

// initial * decay_rate ^ (step / decay_steps), the exponent floored with staircase.
class ExponentialDecay final : public LearningRateSchedule {
 public:
  ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                   bool staircase = false);
  std::string name() const override { return "ExponentialDecay"; }
  float at(float step) const override;

  double initial_learning_rate, decay_steps, decay_rate;
  bool staircase;
};

// values[0] up to and including boundaries[0], values[i] in (boundaries[i-1],
// boundaries[i]], values.back() after the last boundary. An integer step is compared
// with the boundaries truncated to integers (Keras casts them to the step's int
// type), a float step with the boundaries rounded to float32.
class PiecewiseConstantDecay final : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values);
  std::string name() const override { return "PiecewiseConstantDecay"; }
  float operator()(int64_t step) const override;
  float at(float step) const override;

  const std::vector<double>& boundaries() const { return boundaries_; }
  const std::vector<double>& values() const { return values_; }

 private:
  std::vector<double> boundaries_, values_;
};

// (initial - end) * (1 - step / decay_steps) ^ power + end, the step capped at
// decay_steps; with cycle, decay_steps grows to the next multiple past the step.
class PolynomialDecay final : public LearningRateSchedule {
 public:
  PolynomialDecay(double initial_learning_rate, double decay_steps,
                  double end_learning_rate = 0.0001, double power = 1.0, bool cycle = false);
  std::string name() const override { return "PolynomialDecay"; }
  float at(float step) const override;

  double initial_learning_rate, decay_steps, end_learning_rate, power;
  bool cycle;
};

// initial / (1 + decay_rate * step / decay_steps), the fraction floored with staircase.
class InverseTimeDecay final : public LearningRateSchedule {
 public:
  InverseTimeDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                   bool staircase = false);
  std::string name() const override { return "InverseTimeDecay"; }
  float at(float step) const override;

  double initial_learning_rate, decay_steps, decay_rate;
  bool staircase;
};

// Optional linear warmup from initial to warmup_target over warmup_steps, then
// from := (warmup_target or initial), lr = from * ((1 - alpha) * c + alpha) with
// c = (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2.
class CosineDecay final : public LearningRateSchedule {
 public:
  CosineDecay(double initial_learning_rate, double decay_steps, double alpha = 0.0,
              std::optional<double> warmup_target = std::nullopt, double warmup_steps = 0.0);
  std::string name() const override { return "CosineDecay"; }
  float at(float step) const override;

  double initial_learning_rate, decay_steps, alpha;
  std::optional<double> warmup_target;
  double warmup_steps;
};

// SGDR: cosine decay that restarts, each period t_mul times longer and its peak
// m_mul times lower than the last.
class CosineDecayRestarts final : public LearningRateSchedule {
 public:
  CosineDecayRestarts(double initial_learning_rate, double first_decay_steps, double t_mul = 2.0,
                      double m_mul = 1.0, double alpha = 0.0);
  std::string name() const override { return "CosineDecayRestarts"; }
  float at(float step) const override;

  double initial_learning_rate, first_decay_steps, t_mul, m_mul, alpha;
};

}  // namespace ember
