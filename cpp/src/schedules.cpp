// Keras's schedule formulas in float32, operation for operation: a Python float
// meeting a float32 tensor is rounded to float32 first (JAX's weak types), so
// every constant below is cast where Keras's would be.
#include "ember/schedules.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "ember/error.h"

namespace ember {

namespace {

float f32(double x) { return static_cast<float>(x); }

constexpr float kPi = static_cast<float>(3.14159265358979323846);

std::string number(double x) {
  std::ostringstream os;
  os.precision(16);
  os << x;
  return os.str();
}

void check_decay_steps(double steps, const char* schedule, const char* argument) {
  if (!(steps > 0.0))
    throw ValueError(std::string(schedule) + ": argument `" + argument +
                     "` must be > 0. Received: " + argument + "=" + number(steps));
}

}  // namespace

ExponentialDecay::ExponentialDecay(double initial_learning_rate_, double decay_steps_,
                                   double decay_rate_, bool staircase_)
    : initial_learning_rate(initial_learning_rate_),
      decay_steps(decay_steps_),
      decay_rate(decay_rate_),
      staircase(staircase_) {
  check_decay_steps(decay_steps, "ExponentialDecay", "decay_steps");
}

float ExponentialDecay::at(float step) const {
  float p = step / f32(decay_steps);
  if (staircase) p = std::floor(p);
  return f32(initial_learning_rate) * std::pow(f32(decay_rate), p);
}

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<double> boundaries,
                                               std::vector<double> values)
    : boundaries_(std::move(boundaries)), values_(std::move(values)) {
  if (boundaries_.size() + 1 != values_.size())
    throw ValueError(
        "PiecewiseConstantDecay: the length of `boundaries` should be 1 less than the length of "
        "`values`. Received: boundaries of length " +
        std::to_string(boundaries_.size()) + " and values of length " +
        std::to_string(values_.size()));
  if (boundaries_.empty())
    throw ValueError("PiecewiseConstantDecay: `boundaries` must name at least one step");
}

namespace {

// Keras sums value * [step in range] over the ranges rather than choosing one;
// for sorted boundaries exactly one term is taken, but unsorted ones add up, so
// this follows the sum. `le(i)` is step <= boundary i.
template <typename LessEqual>
float piecewise_sum(const std::vector<double>& values, size_t boundaries, LessEqual le) {
  float result = 0.0f;
  if (le(0)) result += f32(values.front());
  if (!le(boundaries - 1)) result += f32(values.back());
  for (size_t i = 0; i + 1 < boundaries; ++i)
    if (!le(i) && le(i + 1)) result += f32(values[i + 1]);
  return result;
}

}  // namespace

float PiecewiseConstantDecay::operator()(int64_t step) const {
  return piecewise_sum(values_, boundaries_.size(), [&](size_t i) {
    return step <= static_cast<int64_t>(boundaries_[i]);  // truncates, as Keras's cast to int
  });
}

float PiecewiseConstantDecay::at(float step) const {
  return piecewise_sum(values_, boundaries_.size(),
                       [&](size_t i) { return step <= f32(boundaries_[i]); });
}

PolynomialDecay::PolynomialDecay(double initial_learning_rate_, double decay_steps_,
                                 double end_learning_rate_, double power_, bool cycle_)
    : initial_learning_rate(initial_learning_rate_),
      decay_steps(decay_steps_),
      end_learning_rate(end_learning_rate_),
      power(power_),
      cycle(cycle_) {
  check_decay_steps(decay_steps, "PolynomialDecay", "decay_steps");
}

float PolynomialDecay::at(float step) const {
  float steps = f32(decay_steps);
  if (cycle) {
    // The first multiple of decay_steps at or past the step (1 at step 0).
    const float multiplier = step == 0.0f ? 1.0f : std::ceil(step / f32(decay_steps));
    steps = steps * multiplier;
  } else {
    step = std::min(step, steps);
  }
  const float p = step / steps;
  const float end = f32(end_learning_rate);
  return (f32(initial_learning_rate) - end) * std::pow(1.0f - p, f32(power)) + end;
}

InverseTimeDecay::InverseTimeDecay(double initial_learning_rate_, double decay_steps_,
                                   double decay_rate_, bool staircase_)
    : initial_learning_rate(initial_learning_rate_),
      decay_steps(decay_steps_),
      decay_rate(decay_rate_),
      staircase(staircase_) {
  check_decay_steps(decay_steps, "InverseTimeDecay", "decay_steps");
}

float InverseTimeDecay::at(float step) const {
  float p = step / f32(decay_steps);
  if (staircase) p = std::floor(p);
  return f32(initial_learning_rate) / (1.0f + f32(decay_rate) * p);
}

CosineDecay::CosineDecay(double initial_learning_rate_, double decay_steps_, double alpha_,
                         std::optional<double> warmup_target_, double warmup_steps_)
    : initial_learning_rate(initial_learning_rate_),
      decay_steps(decay_steps_),
      alpha(alpha_),
      warmup_target(warmup_target_),
      warmup_steps(warmup_steps_) {
  check_decay_steps(decay_steps, "CosineDecay", "decay_steps");
  if (warmup_steps < 0.0)
    throw ValueError("CosineDecay: argument `warmup_steps` must be >= 0. Received: warmup_steps=" +
                     number(warmup_steps));
}

float CosineDecay::at(float step) const {
  const float initial = f32(initial_learning_rate), steps = f32(decay_steps);
  // (1 - alpha) is a Python number in Keras: computed in double, then rounded.
  const auto decay = [&](float s, float from) {
    const float cosine = 0.5f * (1.0f + std::cos(kPi * (s / steps)));
    return from * (f32(1.0 - alpha) * cosine + f32(alpha));
  };
  if (!warmup_target) return decay(std::min(step, steps), initial);
  const float target = f32(*warmup_target), warmup = f32(warmup_steps);
  step = std::min(step, steps + warmup);
  if (step < warmup) return (target - initial) * (step / warmup) + initial;
  return decay(step - warmup, target);
}

CosineDecayRestarts::CosineDecayRestarts(double initial_learning_rate_, double first_decay_steps_,
                                         double t_mul_, double m_mul_, double alpha_)
    : initial_learning_rate(initial_learning_rate_),
      first_decay_steps(first_decay_steps_),
      t_mul(t_mul_),
      m_mul(m_mul_),
      alpha(alpha_) {
  check_decay_steps(first_decay_steps, "CosineDecayRestarts", "first_decay_steps");
}

float CosineDecayRestarts::at(float step) const {
  const float t = f32(t_mul), a = f32(alpha);
  float fraction = step / f32(first_decay_steps);
  float restart;  // how many periods have completed
  if (t == 1.0f) {
    restart = std::floor(fraction);
    fraction -= restart;
  } else {
    // Periods grow geometrically: the i-th restart happens at (1 - t^i) / (1 - t).
    restart = std::floor(std::log(1.0f - fraction * (1.0f - t)) / std::log(t));
    const float done = (1.0f - std::pow(t, restart)) / (1.0f - t);
    fraction = (fraction - done) / std::pow(t, restart);
  }
  const float cosine = 0.5f * std::pow(f32(m_mul), restart) * (1.0f + std::cos(kPi * fraction));
  return f32(initial_learning_rate) * ((1.0f - a) * cosine + a);
}

}  // namespace ember
