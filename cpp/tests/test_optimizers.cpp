// C++ tests of the optimizers, their common arguments and the learning-rate
// schedules, through the public API. Every update is checked against the same
// formula evaluated in double precision here, over several steps, on a small
// variable and on one big enough to take the multi-threaded path.
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "ember/error.h"
#include "ember/graph.h"
#include "ember/optimizers.h"
#include "ember/schedules.h"

using namespace ember;
using namespace ember::testing;

namespace {

template <typename F>
bool throws_value_error(F&& f) {
  try {
    f();
  } catch (const ValueError&) {
    return true;
  }
  return false;
}

// One element's update in double: (param, grad, per-element state, step, lr) -> new param.
using Reference = std::function<double(double, double, std::vector<double>&, int64_t, double)>;

constexpr int kSteps = 6;

// Runs kSteps of `opt` on one variable of n elements with fresh random gradients,
// and the reference beside it; true when every element agrees at every step.
bool matches_reference(Optimizer& opt, const Reference& ref, size_t state_size, size_t n,
                       unsigned seed, double lr) {
  std::mt19937 rng(seed);
  std::vector<float> param = random_vector(rng, n);
  std::vector<double> want(param.begin(), param.end());
  std::vector<std::vector<double>> state(n, std::vector<double>(state_size, 0.0));
  opt.build(std::vector<int64_t>{static_cast<int64_t>(n)});
  // Slots that start non-zero (Adagrad) start so in the reference too.
  for (size_t s = 0; s < opt.slots()[0].size(); ++s)
    for (size_t i = 0; i < n; ++i) state[i][s] = opt.slots()[0][s].data()[0];
  bool ok = true;
  for (int64_t step = 1; step <= kSteps; ++step) {
    const std::vector<float> grad = random_vector(rng, n);
    opt.apply({param.data()}, {grad.data()});
    for (size_t i = 0; i < n; ++i) {
      want[i] = ref(want[i], grad[i], state[i], step, lr);
      ok &= close(param[i], want[i], 2e-6, 2e-5);
    }
  }
  return ok && opt.iterations == kSteps;
}

void check_optimizer(const std::string& what,
                     const std::function<std::unique_ptr<Optimizer>()>& make, const Reference& ref,
                     size_t state_size, double lr) {
  auto small = make();
  check(matches_reference(*small, ref, state_size, 37, 7, lr), what + " matches double reference");
  auto big = make();  // past cpu::kParallelWork: the OpenMP path
  check(matches_reference(*big, ref, state_size, 40000, 8, lr),
        what + " matches double reference (multi-threaded)");
}

void test_update_rules() {
  const double lr = 0.01;
  const auto flr = static_cast<float>(lr);
  check_optimizer(
      "SGD", [&] { return std::make_unique<SGD>(flr); },
      [](double w, double g, std::vector<double>&, int64_t, double eta) { return w - eta * g; }, 0,
      lr);
  for (bool nesterov : {false, true})
    check_optimizer(
        std::string("SGD momentum") + (nesterov ? " nesterov" : ""),
        [&] { return std::make_unique<SGD>(flr, 0.9, nesterov); },
        [nesterov](double w, double g, std::vector<double>& s, int64_t, double eta) {
          s[0] = 0.9 * s[0] - eta * g;
          return nesterov ? w + 0.9 * s[0] - eta * g : w + s[0];
        },
        1, lr);
  for (bool amsgrad : {false, true})
    check_optimizer(
        std::string("Adam") + (amsgrad ? " amsgrad" : ""),
        [&] { return std::make_unique<Adam>(flr, 0.9, 0.999, 1e-7, amsgrad); },
        [amsgrad](double w, double g, std::vector<double>& s, int64_t t, double eta) {
          s[0] += (g - s[0]) * 0.1;
          s[1] += (g * g - s[1]) * 0.001;
          double v = s[1];
          if (amsgrad) v = s[2] = std::max(s[2], s[1]);
          const double alpha = eta * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
          return w - s[0] * alpha / (std::sqrt(v) + 1e-7);
        },
        3, lr);
  for (bool centered : {false, true})
    check_optimizer(
        std::string("RMSprop momentum") + (centered ? " centered" : ""),
        [&] { return std::make_unique<RMSprop>(flr, 0.9, 0.5, 1e-7, centered); },
        [centered](double w, double g, std::vector<double>& s, int64_t, double eta) {
          s[0] = 0.9 * s[0] + 0.1 * g * g;
          double denominator = s[0] + 1e-7;
          if (centered) {
            s[2] = 0.9 * s[2] + 0.1 * g;
            denominator -= s[2] * s[2];
          }
          s[1] = 0.5 * s[1] + eta * g / std::sqrt(denominator);
          return w - s[1];
        },
        3, lr);
  check_optimizer(
      "Adagrad", [&] { return std::make_unique<Adagrad>(flr, 0.1, 1e-7); },
      [](double w, double g, std::vector<double>& s, int64_t, double eta) {
        s[0] += g * g;
        return w - eta * g / std::sqrt(s[0] + 1e-7);
      },
      1, lr);
  check_optimizer(
      "Adadelta", [&] { return std::make_unique<Adadelta>(1.0f, 0.95, 1e-7); },
      [](double w, double g, std::vector<double>& s, int64_t, double eta) {
        s[0] = 0.95 * s[0] + 0.05 * g * g;
        const double delta = -std::sqrt(s[1] + 1e-7) * g / std::sqrt(s[0] + 1e-7);
        s[1] = 0.95 * s[1] + 0.05 * delta * delta;
        return w + eta * delta;
      },
      2, 1.0);
  check_optimizer(
      "Adamax", [&] { return std::make_unique<Adamax>(flr, 0.9, 0.999, 1e-7); },
      [](double w, double g, std::vector<double>& s, int64_t t, double eta) {
        s[0] += (g - s[0]) * 0.1;
        s[1] = std::max(0.999 * s[1], std::fabs(g));
        return w - eta * s[0] / ((1 - std::pow(0.9, t)) * (s[1] + 1e-7));
      },
      2, lr);
  // Nadam's running product is shared by all elements; the reference keeps it in
  // each element's state (s[2]), all advancing alike.
  check_optimizer(
      "Nadam", [&] { return std::make_unique<Nadam>(flr, 0.9, 0.999, 1e-7); },
      [](double w, double g, std::vector<double>& s, int64_t t, double eta) {
        const auto u = [](int64_t k) { return 0.9 * (1 - 0.5 * std::pow(0.96, double(k))); };
        if (t == 1) s[2] = 1.0;
        s[2] *= u(t);
        s[0] += (g - s[0]) * 0.1;
        s[1] += (g * g - s[1]) * 0.001;
        const double m_hat = u(t + 1) * s[0] / (1 - s[2] * u(t + 1)) + (1 - u(t)) * g / (1 - s[2]);
        const double v_hat = s[1] / (1 - std::pow(0.999, t));
        return w - eta * m_hat / (std::sqrt(v_hat) + 1e-7);
      },
      3, lr);
  check_optimizer(
      "Lion", [&] { return std::make_unique<Lion>(flr, 0.9, 0.99); },
      [](double w, double g, std::vector<double>& s, int64_t, double eta) {
        const double c = 0.9 * s[0] + 0.1 * g;
        s[0] = 0.99 * s[0] + 0.01 * g;
        return w - eta * (c > 0 ? 1.0 : (c < 0 ? -1.0 : 0.0));
      },
      1, lr);
  // Ftrl with every term on: power -0.7, l1 0.05, l2 0.2, shrinkage 0.1, beta 0.5.
  check_optimizer(
      "Ftrl", [&] { return std::make_unique<Ftrl>(0.1f, -0.7, 0.3, 0.05, 0.2, 0.1, 0.5); },
      [](double w, double g, std::vector<double>& s, int64_t, double eta) {
        const double n = s[0] + g * g;
        s[1] += g + 0.2 * w - (std::pow(n, 0.7) - std::pow(s[0], 0.7)) / eta * w;
        s[0] = n;
        const double clipped = std::min(std::max(s[1], -0.05), 0.05);
        return (clipped - s[1]) / (std::pow(n, 0.7) / eta + 2 * (0.2 + 0.5 / (2 * eta)));
      },
      2, 0.1);
  // ScheduleFreeAdamW, 3 warmup steps: z (s[0]) starts at w on the first step.
  check_optimizer(
      "ScheduleFreeAdamW",
      [&] { return std::make_unique<ScheduleFreeAdamW>(flr, 0.9, 0.999, 1e-8, 3); },
      [](double w, double g, std::vector<double>& s, int64_t t, double eta) {
        if (t == 1) s[0] = w;
        const double rate = eta * std::min(double(t) / 3.0, 1.0), z_old = s[0];
        s[1] += (g * g - s[1]) * 0.001;
        s[0] -= rate * g / (std::sqrt(s[1] / (1 - std::pow(0.999, t))) + 1e-8);
        const double x_old = (w - 0.1 * z_old) / 0.9;
        const double x_new = (1 - 1.0 / double(t)) * x_old + s[0] / double(t);
        return 0.1 * s[0] + 0.9 * x_new;
      },
      2, lr);
}

// Lamb scales each variable's step by ||w|| / ||step||, so its reference runs over
// the whole variable; one small and one past cpu::kParallelWork (the reduction's
// multi-threaded path).
bool lamb_matches_reference(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Lamb opt(0.01f, 0.8, 0.95, 1e-3);
  std::vector<float> param = random_vector(rng, n);
  std::vector<double> w(param.begin(), param.end()), m(n, 0.0), v(n, 0.0), u(n);
  opt.build(std::vector<int64_t>{static_cast<int64_t>(n)});
  bool ok = true;
  for (int64_t t = 1; t <= kSteps; ++t) {
    const std::vector<float> grad = random_vector(rng, n);
    opt.apply({param.data()}, {grad.data()});
    double w2 = 0.0, u2 = 0.0;
    for (size_t i = 0; i < n; ++i) {
      m[i] += (grad[i] - m[i]) * 0.2;
      v[i] += (double(grad[i]) * grad[i] - v[i]) * 0.05;
      u[i] = (m[i] / (1 - std::pow(0.8, t))) / (std::sqrt(v[i] / (1 - std::pow(0.95, t))) + 1e-3);
      w2 += w[i] * w[i];
      u2 += u[i] * u[i];
    }
    const double ratio = std::sqrt(w2) / std::sqrt(u2);
    for (size_t i = 0; i < n; ++i) {
      w[i] -= ratio * 0.01 * u[i];
      ok &= close(param[i], w[i], 2e-6, 2e-5);
    }
  }
  return ok && opt.iterations == kSteps;
}

// Adafactor keeps r and c over a kernel's last two axes (a placeholder element each
// for a rank-1 variable). With a gradient of ones, step 1 gives r = c = v = 1 and u = 1,
// so w -= max(epsilon_2, rms(w)) * min(lr, 1): 0.5 - 0.5 * 0.001.
void test_adafactor() {
  Adafactor opt;
  Variable kernel("kernel", Tensor(Shape{2, 3, 4}, 0.5f)), bias("bias", Tensor(Shape{4}, 0.5f));
  opt.build(std::vector<Variable*>{&kernel, &bias});
  const auto& s = opt.slots();
  check(s[0][0].size() == 6 && s[0][1].size() == 8 && s[0][2].size() == 24 && s[1][0].size() == 1 &&
            s[1][1].size() == 1 && s[1][2].size() == 4,
        "Adafactor factors a kernel's last two axes; placeholders for a bias");
  const std::vector<float> g_kernel(24, 1.0f), g_bias(4, 1.0f);
  opt.apply({kernel.value.data(), bias.value.data()}, {g_kernel.data(), g_bias.data()});
  bool ok = true;
  for (int64_t i = 0; i < 24; ++i) ok &= close(kernel.value.data()[i], 0.4995, 1e-7, 1e-6);
  for (int64_t i = 0; i < 4; ++i) ok &= close(bias.value.data()[i], 0.4995, 1e-7, 1e-6);
  check(ok && s[0][0].data()[5] == 1.0f && s[0][1].data()[7] == 1.0f && s[1][0].data()[0] == 0.0f,
        "Adafactor's first step with unit gradients");
  check(throws_value_error([] { Adafactor(0.001f, -0.8, 1e-30, 1e-3, 0.0); }),
        "Adafactor clip_threshold = 0 raises ValueError");
}

void test_lamb() {
  check(lamb_matches_reference(37, 5), "Lamb matches double reference");
  check(lamb_matches_reference(40000, 6), "Lamb matches double reference (multi-threaded)");
  // A zero variable takes Adam's plain step (the ratio is 1 when ||w|| is 0).
  Lamb opt(0.5f, 0.9, 0.999, 1e-7);
  std::vector<float> w(3, 0.0f), g{1.0f, -2.0f, 0.5f};
  opt.build(std::vector<int64_t>{3});
  opt.apply({w.data()}, {g.data()});
  check(close(w[0], -0.5, 1e-6, 1e-5) && close(w[1], 0.5, 1e-6, 1e-5) &&
            close(w[2], -0.5, 1e-6, 1e-5),
        "Lamb's ratio is 1 for a zero variable");
}

// Two variables through plain SGD (lr 0.1), so the clipped gradient shows
// directly: want = param - 0.1 * expected_grad.
bool sgd_step_matches(Optimizer& opt, const std::function<std::vector<std::vector<double>>(
                                          const std::vector<std::vector<float>>&)>& expected) {
  std::mt19937 rng(11);
  std::vector<std::vector<float>> params{random_vector(rng, 30), random_vector(rng, 7)};
  std::vector<std::vector<float>> grads{random_vector(rng, 30, -3.0f, 3.0f),
                                        random_vector(rng, 7, -0.2f, 0.2f)};
  const auto before = params;
  opt.build(std::vector<int64_t>{30, 7});
  opt.apply({params[0].data(), params[1].data()}, {grads[0].data(), grads[1].data()});
  const auto g = expected(grads);
  bool ok = true;
  for (size_t v = 0; v < 2; ++v)
    for (size_t i = 0; i < params[v].size(); ++i)
      ok &= close(params[v][i], before[v][i] - 0.1 * g[v][i], 1e-6, 1e-5);
  return ok;
}

double norm(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s);
}

void test_clipping_and_weight_decay() {
  SGD by_norm(0.1f);
  by_norm.set_clipping(1.0, std::nullopt, std::nullopt);
  check(sgd_step_matches(by_norm,
                         [](const auto& grads) {
                           std::vector<std::vector<double>> out;
                           for (const auto& g : grads) {
                             const double scale = 1.0 / std::max(norm(g), 1.0);
                             out.emplace_back();
                             for (float x : g) out.back().push_back(x * scale);
                           }
                           return out;
                         }),
        "clipnorm clips each gradient to norm 1 (the small one untouched)");

  SGD by_global(0.1f);
  by_global.set_clipping(std::nullopt, std::nullopt, 1.5);
  check(sgd_step_matches(by_global,
                         [](const auto& grads) {
                           const double total =
                               std::sqrt(std::pow(norm(grads[0]), 2) + std::pow(norm(grads[1]), 2));
                           const double scale = 1.5 / std::max(total, 1.5);
                           std::vector<std::vector<double>> out;
                           for (const auto& g : grads) {
                             out.emplace_back();
                             for (float x : g) out.back().push_back(x * scale);
                           }
                           return out;
                         }),
        "global_clipnorm scales all gradients by one factor");

  SGD by_value(0.1f);
  by_value.set_clipping(std::nullopt, 0.5, std::nullopt);
  check(sgd_step_matches(by_value,
                         [](const auto& grads) {
                           std::vector<std::vector<double>> out;
                           for (const auto& g : grads) {
                             out.emplace_back();
                             for (float x : g)
                               out.back().push_back(std::clamp<double>(x, -0.5, 0.5));
                           }
                           return out;
                         }),
        "clipvalue clips each element to [-0.5, 0.5]");

  // Weight decay comes before the update and uses the same learning rate:
  // w <- (w - w * wd * lr) - lr * g.
  std::mt19937 rng(12);
  auto kernel = std::make_shared<Variable>("kernel", Tensor(Shape{4, 3}, 0.0f));
  auto bias = std::make_shared<Variable>("bias", Tensor(Shape{3}, 0.0f));
  for (Variable* v : {kernel.get(), bias.get()}) {
    const auto values = random_vector(rng, static_cast<size_t>(v->value.size()));
    std::copy(values.begin(), values.end(), v->value.data());
  }
  const auto grad_k = random_vector(rng, 12), grad_b = random_vector(rng, 3);
  const std::vector<float> k0(kernel->value.data(), kernel->value.data() + 12),
      b0(bias->value.data(), bias->value.data() + 3);
  const auto step = [&](Optimizer& opt) {
    std::copy(k0.begin(), k0.end(), kernel->value.data());
    std::copy(b0.begin(), b0.end(), bias->value.data());
    opt.build(std::vector<Variable*>{kernel.get(), bias.get()});
    opt.apply({kernel->value.data(), bias->value.data()}, {grad_k.data(), grad_b.data()});
  };
  const auto decayed = [](const float* got, const std::vector<float>& w0,
                          const std::vector<float>& g, double wd) {
    bool ok = true;
    for (size_t i = 0; i < w0.size(); ++i)
      ok &= close(got[i], (w0[i] - w0[i] * wd * 0.1) - 0.1 * g[i], 1e-7, 1e-6);
    return ok;
  };
  SGD decay(0.1f);
  decay.set_weight_decay(0.3);
  step(decay);
  check(decayed(kernel->value.data(), k0, grad_k, 0.3) &&
            decayed(bias->value.data(), b0, grad_b, 0.3),
        "weight_decay shrinks every variable by w * wd * lr before the update");
  SGD by_name(0.1f);
  by_name.set_weight_decay(0.3);
  by_name.exclude_from_weight_decay({}, {"bia"});
  step(by_name);
  check(decayed(kernel->value.data(), k0, grad_k, 0.3) &&
            decayed(bias->value.data(), b0, grad_b, 0.0),
        "exclude_from_weight_decay(var_names) spares variables whose name matches");
  SGD names_kept(0.1f);  // a recompile rebuilds from sizes: the names stay
  names_kept.set_weight_decay(0.3);
  names_kept.exclude_from_weight_decay({}, {"bia"});
  names_kept.build(std::vector<Variable*>{kernel.get(), bias.get()});
  step(names_kept);
  names_kept.build(std::vector<int64_t>{12, 3});
  std::copy(k0.begin(), k0.end(), kernel->value.data());
  std::copy(b0.begin(), b0.end(), bias->value.data());
  check(!throws_value_error([&] {
    names_kept.apply({kernel->value.data(), bias->value.data()}, {grad_k.data(), grad_b.data()});
  }) && decayed(kernel->value.data(), k0, grad_k, 0.3) &&
            decayed(bias->value.data(), b0, grad_b, 0.0),
        "rebuilding from the same sizes keeps the variable names");
  SGD by_identity(0.1f);
  by_identity.set_weight_decay(0.3);
  by_identity.exclude_from_weight_decay({kernel}, {});
  step(by_identity);
  check(decayed(kernel->value.data(), k0, grad_k, 0.0) &&
            decayed(bias->value.data(), b0, grad_b, 0.3),
        "exclude_from_weight_decay(variables) spares those variables");
  AdamW adamw;
  check(adamw.weight_decay() == 0.004 && adamw.name() == "AdamW",
        "AdamW decays by 0.004 by default");
}

void test_schedules() {
  const auto matches = [](const LearningRateSchedule& s, const std::function<double(double)>& want,
                          int64_t steps) {
    bool ok = true;
    for (int64_t t = 0; t <= steps; ++t) ok &= close(s(t), want(double(t)), 1e-9, 2e-6);
    return ok;
  };
  check(matches(
            ExponentialDecay(0.1, 7, 0.5), [](double t) { return 0.1 * std::pow(0.5, t / 7); }, 60),
        "ExponentialDecay");
  check(matches(
            ExponentialDecay(0.1, 7, 0.5, true),
            [](double t) { return 0.1 * std::pow(0.5, std::floor(t / 7)); }, 60),
        "ExponentialDecay staircase");
  check(matches(
            PiecewiseConstantDecay({5, 10.7}, {1.0, 0.5, 0.1}),
            [](double t) { return t <= 5 ? 1.0 : (t <= 10 ? 0.5 : 0.1); }, 30),
        "PiecewiseConstantDecay (integer steps meet truncated boundaries)");
  check(PiecewiseConstantDecay({5, 10.7}, {1.0, 0.5, 0.1}).at(10.5f) == 0.5f,
        "PiecewiseConstantDecay at a float step compares with the float boundary");
  check(matches(
            PolynomialDecay(0.1, 20, 0.01, 2.0),
            [](double t) { return 0.09 * std::pow(1 - std::min(t, 20.0) / 20, 2.0) + 0.01; }, 50),
        "PolynomialDecay");
  check(matches(
            PolynomialDecay(0.1, 20, 0.01, 1.0, true),
            [](double t) {
              const double steps = 20 * (t == 0 ? 1 : std::ceil(t / 20));
              return 0.09 * (1 - t / steps) + 0.01;
            },
            70),
        "PolynomialDecay cycle");
  check(matches(
            InverseTimeDecay(0.1, 4, 0.5), [](double t) { return 0.1 / (1 + 0.5 * t / 4); }, 50),
        "InverseTimeDecay");
  check(matches(
            InverseTimeDecay(0.1, 4, 0.5, true),
            [](double t) { return 0.1 / (1 + 0.5 * std::floor(t / 4)); }, 50),
        "InverseTimeDecay staircase");
  const double pi = 3.14159265358979323846;
  check(matches(
            CosineDecay(0.1, 30, 0.2),
            [&](double t) {
              return 0.1 * (0.8 * 0.5 * (1 + std::cos(pi * std::min(t, 30.0) / 30)) + 0.2);
            },
            50),
        "CosineDecay");
  check(matches(
            CosineDecay(0.0, 30, 0.0, 0.1, 10),
            [&](double t) {
              if (t < 10) return 0.1 * t / 10;
              return 0.1 * 0.5 * (1 + std::cos(pi * (std::min(t, 40.0) - 10) / 30));
            },
            60),
        "CosineDecay with warmup");
  // Periods of 5, 10, 20 steps starting at 0, 5, 15; each peak 0.5 times the last.
  check(matches(
            CosineDecayRestarts(0.1, 5, 2.0, 0.5),
            [&](double t) {
              double start = 0, length = 5, peak = 1;
              while (t >= start + length) {
                start += length;
                length *= 2;
                peak *= 0.5;
              }
              return 0.1 * peak * 0.5 * (1 + std::cos(pi * (t - start) / length));
            },
            34),
        "CosineDecayRestarts");
  check(throws_value_error([] { ExponentialDecay(0.1, 0, 0.5); }),
        "decay_steps <= 0 raises ValueError");
  check(throws_value_error([] { PiecewiseConstantDecay({1, 2}, {1.0, 0.5}); }),
        "PiecewiseConstantDecay with mismatched lengths raises ValueError");

  // The optimizer asks the schedule at its iteration count, before counting the step.
  SGD sgd(0.5f);
  sgd.schedule = std::make_shared<ExponentialDecay>(0.1, 2, 0.5);
  std::vector<float> w{1.0f}, g{1.0f};
  sgd.build(std::vector<int64_t>{1});
  double want = 1.0;
  bool ok = true;
  for (int64_t step = 0; step < 5; ++step) {
    ok &= close(sgd.current_learning_rate(), 0.1 * std::pow(0.5, double(step) / 2.0), 1e-9, 1e-6);
    sgd.apply({w.data()}, {g.data()});
    want -= 0.1 * std::pow(0.5, double(step) / 2.0);
  }
  check(ok && close(w[0], want, 1e-7, 1e-6), "a schedule sets each step's learning rate");
}

// A step taken one variable at a time, in another order, equals apply(): with
// weight decay and clipping, which act per variable. global_clipnorm cannot.
void test_per_variable_steps() {
  std::mt19937 rng(11);
  const std::vector<int64_t> sizes{37, 40000, 5};
  auto make = [] {
    auto a = std::make_unique<AdamW>(0.01f, 0.05);
    a->set_clipping(0.5, std::nullopt, std::nullopt);
    return a;
  };
  auto whole = make(), parts = make();
  whole->build(sizes);
  parts->build(sizes);
  std::vector<std::vector<float>> w1, w2;
  for (int64_t n : sizes) {
    w1.push_back(random_vector(rng, static_cast<size_t>(n)));
    w2.push_back(w1.back());
  }
  bool same = true;
  for (int step = 0; step < 3; ++step) {
    std::vector<std::vector<float>> g;
    for (int64_t n : sizes) g.push_back(random_vector(rng, static_cast<size_t>(n)));
    whole->apply({w1[0].data(), w1[1].data(), w1[2].data()},
                 {g[0].data(), g[1].data(), g[2].data()});
    parts->open_step({w2[0].data(), w2[1].data(), w2[2].data()});
    for (size_t i : {2u, 0u, 1u}) parts->apply_one(i, w2[i].data(), g[i].data());
    parts->close_step();
    same &= w1 == w2;
  }
  check(same && parts->iterations == 3 && parts->steps_per_variable(),
        "a step one variable at a time equals apply()");
  check(throws_value_error([&] { parts->apply_one(0, w2[0].data(), w2[0].data()); }) &&
            throws_value_error([&] { parts->close_step(); }),
        "apply_one and close_step outside an open step raise ValueError");
  SGD global(0.1f);
  global.set_clipping(std::nullopt, std::nullopt, 1.0);
  global.build(std::vector<int64_t>{1});
  check(!global.steps_per_variable() &&
            throws_value_error([&] { global.open_step({w2[2].data()}); }),
        "global_clipnorm cannot step one variable at a time");
}

void test_state_and_errors() {
  // Nadam's u_product follows the iteration count, also when it is set from outside.
  Nadam nadam;
  std::vector<float> w{0.5f}, g{0.25f};
  nadam.build(std::vector<int64_t>{1});
  for (int i = 0; i < 4; ++i) nadam.apply({w.data()}, {g.data()});
  double product = 1;
  for (int t = 1; t <= 4; ++t) product *= 0.9 * (1 - 0.5 * std::pow(0.96, t));
  const float after_four = nadam.scalar_state()[0];
  check(nadam.scalar_names() == std::vector<std::string>{"u_product"} &&
            close(after_four, product, 0, 1e-6),
        "Nadam exposes u_product as scalar state");
  nadam.iterations = 0;
  check(nadam.scalar_state()[0] == 1.0f, "Nadam's u_product restarts with the iteration count");
  nadam.iterations = 4;
  check(nadam.scalar_state()[0] == after_four, "Nadam's u_product is replayed for a set count");
  nadam.set_scalar_state({0.25f});
  check(nadam.scalar_state()[0] == 0.25f, "set_scalar_state restores u_product");
  check(throws_value_error([&] { nadam.set_scalar_state({1.0f, 2.0f}); }),
        "set_scalar_state with the wrong count raises ValueError");

  check(throws_value_error([] { SGD(-0.1f); }), "a negative learning rate raises ValueError");
  check(throws_value_error([] { RMSprop(0.001f, 1.5); }), "rho outside [0, 1] raises ValueError");
  check(throws_value_error([] { Lion(0.001f, 0.0); }), "Lion beta_1 = 0 raises ValueError");
  check(throws_value_error([] { Ftrl(0.001f, 0.5); }),
        "Ftrl learning_rate_power > 0 raises ValueError");
  check(throws_value_error([] { Ftrl(0.001f, -0.5, 0.1, -1.0); }),
        "Ftrl negative l1 raises ValueError");
  check(throws_value_error([] { Lamb(0.001f, 1.5); }), "Lamb beta_1 > 1 raises ValueError");
  check(throws_value_error([] { SGD().set_clipping(1.0, std::nullopt, 1.0); }),
        "clipnorm with global_clipnorm raises ValueError");
  check(throws_value_error([] { SGD().set_weight_decay(-1.0); }),
        "a negative weight_decay raises ValueError");
  check(throws_value_error([] { SGD().exclude_from_weight_decay({}, {"(unclosed"}); }),
        "an invalid var_names pattern raises ValueError");
  SGD sized(0.1f);
  sized.set_weight_decay(0.1);
  sized.exclude_from_weight_decay({}, {"bias"});
  sized.build(std::vector<int64_t>{1});
  check(throws_value_error([&] { sized.apply({w.data()}, {g.data()}); }),
        "var_names without variable names raises ValueError rather than decaying everything");
  SGD built(0.1f);
  built.build(std::vector<int64_t>{1, 1});
  check(throws_value_error([&] { built.apply({w.data()}, {g.data()}); }),
        "apply with a different variable count raises ValueError");
}

}  // namespace

int main() {
  test_update_rules();
  test_lamb();
  test_adafactor();
  test_clipping_and_weight_decay();
  test_schedules();
  test_state_and_errors();
  test_per_variable_steps();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
