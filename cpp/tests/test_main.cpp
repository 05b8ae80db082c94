// C++ tests of the engine through its public API, no Python involved.
// Each check compares against a double-precision reference computed here.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "test_metrics.h"
#include "ember/error.h"
#include "ember/kernels.h"
#include "ember/losses.h"
#include "ember/model.h"
#include "ember/ops.h"
#include "ember/ops_regularization.h"

using namespace ember;
using namespace ember::testing;

namespace {

VariablePtr random_variable(std::mt19937& rng, const std::string& name, Shape shape) {
  auto v = random_vector(rng, static_cast<size_t>(num_elements(shape)));
  return std::make_shared<Variable>(name, Tensor(shape, v.data()));
}

// C = 2 op(A) op(B) + 0.5 C against a double reference.
bool gemm_matches(unsigned seed, bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  std::mt19937 rng(seed);
  auto a = random_vector(rng, m * k), b = random_vector(rng, k * n), c = random_vector(rng, m * n);
  std::vector<double> ref(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p)
        s += double(ta ? a[p * m + i] : a[i * k + p]) * double(tb ? b[j * k + p] : b[p * n + j]);
      ref[i * n + j] = 2.0 * s + 0.5 * c[i * n + j];
    }
  kernels::gemm(ta, tb, m, n, k, 2.0f, a.data(), b.data(), 0.5f, c.data());
  bool ok = true;
  for (int64_t i = 0; i < m * n; ++i) ok &= close(c[i], ref[i], 1e-4, 1e-5);
  return ok;
}

void test_gemm_against_reference() {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const std::string t = " trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb);
      check(gemm_matches(1, ta, tb, 7, 5, 9), "gemm" + t);
      // Big enough for OpenBLAS to split it into jobs, which run on OpenMP's threads.
      check(gemm_matches(2, ta, tb, 160, 130, 120), "multi-threaded gemm" + t);
    }
  // Called from inside a parallel region, and from several threads at once, the
  // jobs of each product still all run (OpenBLAS's jobs wait for one another).
  int ok_inside = 0, team = 0;
#pragma omp parallel num_threads(2) reduction(+ : ok_inside, team)
  {
    ok_inside += gemm_matches(3, false, true, 160, 130, 120) ? 1 : 0;
    team += 1;
  }
  check(ok_inside == team, "gemm inside an OpenMP parallel region");
  std::vector<char> ok_threads(3, 0);
  {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 3; ++t)
      threads.emplace_back([&ok_threads, t] { ok_threads[t] = gemm_matches(4 + t, true, false, 160, 130, 120); });
    for (auto& th : threads) th.join();
  }
  check(ok_threads == std::vector<char>(3, 1), "gemm from three threads at once");
}

// GNU OpenMP's threads do not survive fork(): a child forked after the parent's
// team ran must still multiply and run its big loops (on threads of its own, or
// one), not wait forever. alarm() turns a hang into a failure.
void test_work_after_fork() {
  check(gemm_matches(5, false, false, 160, 130, 120), "gemm before fork");
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    bool ok = gemm_matches(6, false, true, 160, 130, 120);
    std::mt19937 rng(9);
    const int64_t n = 40000;  // past cpu::kParallelWork
    auto w = random_vector(rng, n), g = random_vector(rng, n);
    std::vector<float> m(n, 0.0f), v(n, 0.0f), before = w;
    kernels::adam_update(w.data(), g.data(), m.data(), v.data(), nullptr, n,
                         kernels::adam_scalars(0.01f, 0.9, 0.999, 1e-7, 1));
    for (int64_t i = 0; i < n; ++i) {  // Adam's first step: lr * g / (|g| + eps / sqrt(1 - b2))
      const double gi = g[i], step = 0.01 * gi / (std::fabs(gi) + 1e-7 / std::sqrt(0.001));
      ok &= close(before[i] - w[i], step, 1e-6, 1e-4);
    }
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  const bool waited = pid > 0 && waitpid(pid, &status, 0) == pid;
  check(waited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "gemm and parallel loops in a child forked after the team ran");
}

// Builds x -> Dense(act) -> Dense(softmax or linear) and checks every parameter
// gradient from backward() against central differences of the loss in double.
void test_dense_gradients(Activation act, LossKind loss) {
  std::mt19937 rng(2);
  const int64_t rows = 6, in = 4, hidden = 5, out = 3;
  auto g = std::make_shared<Graph>();
  int x = g->add_input({in}, "x");
  auto k1 = random_variable(rng, "k1", {in, hidden}), b1 = random_variable(rng, "b1", {hidden});
  auto k2 = random_variable(rng, "k2", {hidden, out}), b2 = random_variable(rng, "b2", {out});
  int h = g->add_node(std::make_shared<DenseOp>(k1, b1, act), {x}, "h");
  const bool probs =
      loss == LossKind::CategoricalCrossentropy || loss == LossKind::SparseCategoricalCrossentropy;
  const Activation last = probs ? ActivationKind::Softmax
                                : (loss == LossKind::BinaryCrossentropy ? ActivationKind::Sigmoid
                                                                        : ActivationKind::Linear);
  int y = g->add_node(std::make_shared<DenseOp>(k2, b2, last), {h}, "y");
  Executor ex(g, {x}, {y});
  ex.reserve(rows);
  auto xs = random_vector(rng, rows * in);
  std::vector<float> target;
  if (loss == LossKind::SparseCategoricalCrossentropy) {
    for (int64_t r = 0; r < rows; ++r) target.push_back(float(r % out));
  } else if (probs) {
    target.assign(rows * out, 0.0f);
    for (int64_t r = 0; r < rows; ++r) target[r * out + (r * 2) % out] = 1.0f;
  } else if (loss == LossKind::BinaryCrossentropy) {
    for (int64_t i = 0; i < rows * out; ++i) target.push_back(float(i % 2));
  } else {
    target = random_vector(rng, rows * out);
  }
  auto loss_value = [&]() {
    std::copy(xs.begin(), xs.end(), ex.input_buffer(0));
    ex.forward(rows, true);
    return loss_forward_backward(loss, ex.output(0), target.data(), rows, out, 1.0f / rows,
                                 ex.output_grad(0)) /
           rows;
  };
  loss_value();
  ex.backward(rows);
  bool ok = true;
  const auto& params = ex.trainable();
  for (size_t p = 0; p < params.size(); ++p) {
    std::vector<float> analytic(ex.trainable_grads()[p],
                                ex.trainable_grads()[p] + params[p]->value.size());
    for (int64_t i = 0; i < params[p]->value.size(); ++i) {
      float& w = params[p]->value.data()[i];
      const float saved = w, h_step = 1e-2f;
      w = saved + h_step;
      const double up = loss_value();
      w = saved - h_step;
      const double down = loss_value();
      w = saved;
      const double numeric = (up - down) / (2.0 * h_step);
      ok &= close(analytic[i], numeric, 2e-3, 2e-2);
    }
  }
  check(ok, std::string("dense gradients, activation=") + activation_name(act) +
                " loss=" + loss_name(loss));
}

// backward's on_grad_ready: each trainable variable once, when its gradient is final.
// The callback changes the variable in place (as an optimizer update would); the
// gradients must still be those of a plain backward, so nothing may read a
// variable after it is handed over - the shared layer's weights are used twice.
void test_gradients_are_handed_over_when_final() {
  std::mt19937 rng(5);
  const int64_t rows = 5, in = 3, hidden = 4;
  auto g = std::make_shared<Graph>();
  int x = g->add_input({in}, "x");
  auto k1 = random_variable(rng, "k1", {in, hidden}), b1 = random_variable(rng, "b1", {hidden});
  auto ks = random_variable(rng, "ks", {hidden, hidden}), bs = random_variable(rng, "bs", {hidden});
  auto k3 = random_variable(rng, "k3", {hidden, 2}), b3 = random_variable(rng, "b3", {2});
  b3->trainable = false;
  int h1 = g->add_node(std::make_shared<DenseOp>(k1, b1, ActivationKind::Tanh), {x}, "h1");
  auto shared = std::make_shared<DenseOp>(ks, bs, ActivationKind::Tanh);
  int h2 = g->add_node(shared, {h1}, "h2");
  int h3 = g->add_node(shared, {h2}, "h3");
  int y = g->add_node(std::make_shared<DenseOp>(k3, b3, ActivationKind::Linear), {h3}, "y");
  Executor ex(g, {x}, {y});
  ex.reserve(rows);
  auto xs = random_vector(rng, rows * in), target = random_vector(rng, rows * 2);
  auto run_loss = [&] {
    std::copy(xs.begin(), xs.end(), ex.input_buffer(0));
    ex.forward(rows, true);
    loss_forward_backward(LossKind::MeanSquaredError, ex.output(0), target.data(), rows, 2,
                          1.0f / rows, ex.output_grad(0));
  };
  const auto& vars = ex.trainable();
  auto grad_of = [&](size_t i) {
    return std::vector<float>(ex.trainable_grads()[i], ex.trainable_grads()[i] + vars[i]->value.size());
  };
  run_loss();
  ex.backward(rows);
  std::vector<std::vector<float>> plain;
  for (size_t i = 0; i < vars.size(); ++i) plain.push_back(grad_of(i));

  run_loss();
  std::vector<int> handed(vars.size(), 0);
  std::vector<std::vector<float>> at_handover(vars.size()), saved(vars.size());
  ex.backward(rows, [&](size_t i) {
    ++handed[i];
    at_handover[i] = grad_of(i);
    float* w = vars[i]->value.data();
    saved[i].assign(w, w + vars[i]->value.size());
    for (int64_t j = 0; j < vars[i]->value.size(); ++j) w[j] += 1.0f;
  });
  bool ok = vars.size() == 5;  // b3 is frozen
  for (size_t i = 0; i < vars.size(); ++i) {
    ok &= handed[i] == 1;
    ok &= at_handover[i] == plain[i] && grad_of(i) == plain[i];
    if (!saved[i].empty()) std::copy(saved[i].begin(), saved[i].end(), vars[i]->value.data());
  }
  check(ok, "backward hands each trainable variable over once, with its final gradient");
}

// The whole public API: a small MLP learns y = sum(x^2) with Adam; the loss falls.
void test_mlp_trains() {
  std::mt19937 rng(3);
  const int64_t n = 256, in = 4;
  auto g = std::make_shared<Graph>();
  int x = g->add_input({in}, "x");
  auto glorot = [&](const std::string& name, int64_t fi, int64_t fo) {
    const float lim = std::sqrt(6.0f / float(fi + fo));
    auto v = random_vector(rng, fi * fo, -lim, lim);
    return std::make_shared<Variable>(name, Tensor({fi, fo}, v.data()));
  };
  auto zeros = [](const std::string& name, int64_t n_) {
    return std::make_shared<Variable>(name, Tensor({n_}));
  };
  int h1 = g->add_node(
      std::make_shared<DenseOp>(glorot("k1", in, 16), zeros("b1", 16), ActivationKind::Relu), {x},
      "d1");
  int h2 = g->add_node(
      std::make_shared<DenseOp>(glorot("k2", 16, 16), zeros("b2", 16), ActivationKind::Tanh), {h1},
      "d2");
  int y = g->add_node(
      std::make_shared<DenseOp>(glorot("k3", 16, 1), zeros("b3", 1), ActivationKind::Linear), {h2},
      "d3");
  Model model(g, {x}, {y});
  model.compile({{LossKind::MeanSquaredError, 1.0f}}, std::make_shared<Adam>(0.01f),
                {{MetricKind::MeanAbsoluteError, 0, 0.5f}});
  auto xs = random_vector(rng, n * in);
  std::vector<float> ys(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < in; ++j) s += xs[i * in + j] * xs[i * in + j];
    ys[i] = float(s);
  }
  std::vector<ArrayView> xv{{xs.data(), n, in}}, yv{{ys.data(), n, 1}};
  std::vector<double> losses;
  for (int epoch = 0; epoch < 60; ++epoch) {
    model.reset_metrics();
    model.train_batches(xv, yv, nullptr, 32, 0, (n + 31) / 32);
    losses.push_back(model.metric_results()[0]);
  }
  check(losses.back() < 0.1 * losses.front(), "MLP trains: loss " + std::to_string(losses.front()) +
                                                  " -> " + std::to_string(losses.back()));
  check(model.optimizer().iterations == 60 * 8, "optimizer counted every step");
  std::vector<float> pred(n);
  model.predict(xv, 100, {pred.data()});
  double mse = 0.0;
  for (int64_t i = 0; i < n; ++i) mse += (pred[i] - ys[i]) * (pred[i] - ys[i]);
  check(mse / n < 0.1 * losses.front(), "predict agrees with the trained loss");
}

void test_errors() {
  auto expect_value_error = [](const std::function<void()>& f, const std::string& what) {
    try {
      f();
      check(false, what + " raises ValueError");
    } catch (const ValueError&) {
      check(true, what + " raises ValueError");
    }
  };
  expect_value_error([] { activation_from_name("relux"); }, "unknown activation");
  expect_value_error([] { loss_from_name("msee"); }, "unknown loss");
  expect_value_error(
      [] {
        float p[3] = {0.2f, 0.3f, 0.5f}, t[1] = {3.0f};
        loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, t, 1, 3, 1.0f, nullptr);
      },
      "sparse label out of range");
  expect_value_error(
      [] {
        auto g = std::make_shared<Graph>();
        int x = g->add_input({3}, "x");
        auto k = std::make_shared<Variable>("k", Tensor({4, 2}));
        g->add_node(std::make_shared<DenseOp>(k, nullptr, ActivationKind::Linear), {x}, "d");
      },
      "dense on the wrong input width");
}

// Every loss kind, weighted and reduced, against central differences of its own
// value in double: the kernels' gradients are derivatives of what they return.
void test_loss_gradients_against_central_differences() {
  std::mt19937 rng(4);
  const int64_t rows = 5, cols = 4;
  auto spec_of = [](LossKind kind) {
    LossSpec s;
    s.kind = kind;
    return s;
  };
  std::vector<LossSpec> specs;
  for (int k = 0; k < kNumLossKinds; ++k) specs.push_back(spec_of(static_cast<LossKind>(k)));
  for (LossKind k : {LossKind::BinaryCrossentropy, LossKind::CategoricalCrossentropy,
                     LossKind::SparseCategoricalCrossentropy, LossKind::BinaryFocalCrossentropy}) {
    LossSpec s = spec_of(k);
    s.from_logits = true;
    s.label_smoothing = k == LossKind::SparseCategoricalCrossentropy ? 0.0 : 0.2;
    s.reduction = Reduction::Sum;
    specs.push_back(s);
  }
  LossSpec masked = spec_of(LossKind::SparseCategoricalCrossentropy);
  masked.ignore_class = 1;
  masked.reduction = Reduction::MeanWithSampleWeight;
  specs.push_back(masked);
  LossSpec focal = spec_of(LossKind::BinaryFocalCrossentropy);
  focal.apply_class_balancing = true;
  focal.gamma = 1.5;
  specs.push_back(focal);
  LossSpec huber = spec_of(LossKind::Huber);
  huber.delta = 0.3;
  specs.push_back(huber);
  LossSpec focal_logits = spec_of(LossKind::CategoricalFocalCrossentropy);
  focal_logits.from_logits = true;
  focal_logits.label_smoothing = 0.1;
  specs.push_back(focal_logits);
  LossSpec dice_batch = spec_of(LossKind::Dice);  // one value for the whole batch
  dice_batch.rows_per_value = 0;
  specs.push_back(dice_batch);
  LossSpec tversky = spec_of(LossKind::Tversky);
  tversky.alpha = 0.3;
  tversky.beta = 0.7;
  specs.push_back(tversky);
  LossSpec ctc = spec_of(LossKind::CTC);  // one sample of 5 steps, 3 labels
  ctc.rows_per_value = rows;
  ctc.target_width = 3;
  specs.push_back(ctc);

  for (const LossSpec& spec : specs) {
    const bool sparse = loss_takes_class_ids(spec.kind);
    const bool probs = !spec.from_logits &&
                       (spec.kind == LossKind::BinaryCrossentropy ||
                        spec.kind == LossKind::BinaryFocalCrossentropy ||
                        spec.kind == LossKind::CategoricalCrossentropy ||
                        spec.kind == LossKind::SparseCategoricalCrossentropy ||
                        spec.kind == LossKind::KLDivergence || spec.kind == LossKind::Poisson ||
                        spec.kind == LossKind::MeanSquaredLogarithmicError ||
                        spec.kind == LossKind::CategoricalFocalCrossentropy ||
                        spec.kind == LossKind::CategoricalGeneralizedCrossEntropy ||
                        spec.kind == LossKind::Dice || spec.kind == LossKind::Tversky);
    auto pred =
        probs ? random_vector(rng, rows * cols, 0.1f, 0.9f) : random_vector(rng, rows * cols);
    auto target = random_vector(rng, sparse ? rows : rows * cols, 0.0f, 1.0f);
    const bool ids = sparse || spec.kind == LossKind::CTC;
    for (float& t : target) t = ids ? std::floor(t * cols) : t;
    if (spec.kind == LossKind::Dice || spec.kind == LossKind::Tversky)
      for (float& t : target) t = std::round(t);
    const auto weights = random_vector(rng, rows, 0.2f, 2.0f);
    std::vector<float> grad(rows * cols);
    loss_forward_backward(spec, pred.data(), target.data(), weights.data(), rows, cols, 0.5f,
                          grad.data());
    bool ok = true;
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float saved = pred[i], h = 1e-3f;
      auto value_at = [&](float p) {
        pred[i] = p;
        return 0.5 * loss_forward_backward(spec, pred.data(), target.data(), weights.data(), rows,
                                           cols, 1.0f, nullptr);
      };
      const double numeric = (value_at(saved + h) - value_at(saved - h)) / (2.0 * h);
      pred[i] = saved;
      ok &= close(grad[i], numeric, 2e-3, 2e-2);
    }
    check(ok, std::string("loss gradient, ") + loss_name(spec.kind) +
                  (spec.from_logits ? " from logits" : "") +
                  " reduction=" + reduction_name(spec.reduction));
  }
}

}  // namespace

// One Model from several threads: each call holds the model's lock, so concurrent
// predictions equal the serial ones, and training beside them counts every step.
void test_one_model_from_threads() {
  std::mt19937 rng(11);
  const int64_t n = 2000, in = 8;
  auto g = std::make_shared<Graph>();
  int x = g->add_input({in}, "x");
  auto k1 = random_vector(rng, in * 64, -0.3f, 0.3f), k2 = random_vector(rng, 64, -0.3f, 0.3f);
  int h = g->add_node(std::make_shared<DenseOp>(
                          std::make_shared<Variable>("k1", Tensor({in, 64}, k1.data())),
                          std::make_shared<Variable>("b1", Tensor({64})), ActivationKind::Relu),
                      {x}, "d1");
  int y = g->add_node(std::make_shared<DenseOp>(
                          std::make_shared<Variable>("k2", Tensor({64, 1}, k2.data())),
                          std::make_shared<Variable>("b2", Tensor({1})), ActivationKind::Linear),
                      {h}, "d2");
  Model model(g, {x}, {y});
  model.compile({{LossKind::MeanSquaredError, 1.0f}}, std::make_shared<Adam>(0.01f), {});
  auto xs = random_vector(rng, n * in), ys = random_vector(rng, n);
  const std::vector<ArrayView> xv{{xs.data(), n, in}}, yv{{ys.data(), n, 1}};
  std::vector<float> want(n);
  model.predict(xv, 256, {want.data()});
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> got(n);
      for (int r = 0; r < 20; ++r) {
        model.predict(xv, 256, {got.data()});
        if (got != want) ++mismatches[t];
      }
    });
  for (auto& t : threads) t.join();
  check(mismatches == std::vector<int>(4, 0), "concurrent predictions equal the serial one");
  std::thread trainer([&] { model.train_batches(xv, yv, nullptr, 100, 0, 20); });
  std::vector<float> during(n);
  for (int r = 0; r < 10; ++r) model.predict(xv, 256, {during.data()});
  trainer.join();
  check(model.optimizer().iterations == 20, "training beside predictions took every step");
  bool refused = false;
  try {
    model.optimizer().set_iterations(-1);
  } catch (const ValueError&) {
    refused = true;
  }
  check(refused && model.optimizer().iterations == 20, "a negative step count is refused");
}

// Model::forward_pass: one batch through the graph, in inference mode against a
// double reference of Dense, and in training mode through Dropout (each value kept
// and scaled by 1 / (1 - rate), or dropped).
void test_forward_pass() {
  std::mt19937 rng(23);
  const int64_t n = 37, in = 5, out = 3;
  auto kv = random_vector(rng, in * out), bv = random_vector(rng, out);
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({in}, "x");
  const int d = g->add_node(
      std::make_shared<DenseOp>(std::make_shared<Variable>("k", Tensor({in, out}, kv.data())),
                                std::make_shared<Variable>("b", Tensor({out}, bv.data())),
                                ActivationKind::Linear),
      {x}, "dense");
  const int y =
      g->add_node(std::make_shared<DropoutOp>(0.5, std::vector<int64_t>{}, 7u), {d}, "dropout");
  Model model(g, {x}, {d, y});
  auto xs = random_vector(rng, n * in);
  const std::vector<ArrayView> xv{{xs.data(), n, in}};
  std::vector<float> dense(n * out), dropped(n * out);
  model.forward_pass(xv, false, {dense.data(), dropped.data()});
  bool dense_ok = true;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < out; ++c) {
      double want = bv[c];
      for (int64_t i = 0; i < in; ++i) want += double(xs[r * in + i]) * kv[i * out + c];
      dense_ok &= close(dense[r * out + c], want, 1e-5, 1e-5);
    }
  check(dense_ok, "forward_pass in inference matches Dense's double reference");
  check(dropped == dense, "forward_pass in inference leaves Dropout out");
  model.forward_pass(xv, true, {dense.data(), dropped.data()});
  int64_t kept = 0;
  bool scaled = true;
  for (int64_t i = 0; i < n * out; ++i) {
    if (dropped[i] == 0.0f) continue;
    ++kept;
    scaled &= close(dropped[i], 2.0 * dense[i], 1e-6, 1e-6);
  }
  check(scaled && kept > 0 && kept < n * out, "forward_pass in training runs Dropout");
  bool refused = false;
  try {
    model.forward_pass({{xs.data(), n, in + 1}}, false, {dense.data(), dropped.data()});
  } catch (const ValueError&) {
    refused = true;
  }
  check(refused, "forward_pass refuses an input of the wrong width");
}

// The rules the bindings used to hold, now the engine's: LossSpec equality, the
// shapes of whole arrays for losses, metrics and activations, activation
// arguments, and the ranges of regularization factors and learning rates.
void test_argument_rules() {
  auto refuses = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const ValueError&) {
      return true;
    }
    return false;
  };
  LossSpec a;
  a.kind = LossKind::CategoricalCrossentropy;
  a.label_smoothing = 0.1;
  LossSpec b = a;
  check(a == b, "equal LossSpecs compare equal");
  b.ignore_class = 2;
  check(a != b, "LossSpecs differing in ignore_class differ");
  b = a;
  b.weight = 0.5f;
  check(a != b, "LossSpecs differing in weight differ");

  const auto rc = loss_rows_cols(a, {4, 2, 3}, {4, 2, 3}, nullptr);
  check(rc.first == 8 && rc.second == 3, "loss_rows_cols: rows before the last axis");
  LossSpec sparse;
  sparse.kind = LossKind::SparseCategoricalCrossentropy;
  const Shape four{4};
  check(loss_rows_cols(sparse, {4, 1}, {4, 5}, &four) == std::make_pair(int64_t{4}, int64_t{5}),
        "loss_rows_cols: one class id per row for the sparse loss");
  check(refuses([&] { loss_rows_cols(a, {4, 2}, {4, 3}, nullptr); }),
        "loss_rows_cols refuses y_true of another size");
  check(refuses([&] { loss_rows_cols(a, {4, 0}, {4, 0}, nullptr); }),
        "loss_rows_cols refuses an empty last axis");
  check(!refuses([&] { loss_rows_cols(sparse, {4}, {4, 5}, &four); }),
        "loss_rows_cols takes (rows,) class ids");

  MetricConfig mc;
  mc.kind = MetricKind::SparseCategoricalAccuracy;
  const Metric sca(mc);
  const Shape rows_1{6, 1}, rows_only{6}, full{6, 4};
  check(sca.check_update_shapes({6, 4}, &rows_1, &rows_only) == 1,
        "sparse metric: a class id and a weight per row");
  check(sca.check_update_shapes({6, 4}, &rows_only, &full) == 4,
        "metric: one weight per value gives weight_cols = cols");
  check(refuses([&] { sca.check_update_shapes({6, 4}, &full, nullptr); }),
        "sparse metric refuses one-hot targets");
  check(refuses([&] { sca.check_update_shapes({6, 4, 1}, nullptr, nullptr); }),
        "metric refuses a rank-3 y_pred");
  mc.kind = MetricKind::CategoricalAccuracy;
  const Metric ca(mc);
  check(refuses([&] { ca.check_update_shapes({6, 4}, &rows_1, nullptr); }),
        "categorical metric refuses class ids");
  const Shape wrong{5};
  check(refuses([&] { ca.check_update_shapes({6, 4}, &full, &wrong); }),
        "metric refuses sample weights of another length");

  ActivationArgs args;
  args.negative_slope = 0.1f;
  check(activation_from_name("relu", args) == Activation::relu(0.1f),
        "activation_from_name sets the arguments given");
  check(refuses([&] { activation_from_name("sigmoid", args); }),
        "activation_from_name refuses an argument the kind does not take");
  ActivationArgs axes;
  axes.axes = std::vector<int>{0, 40};
  check(refuses([&] { activation_from_name("softmax", axes); }),
        "activation_from_name refuses axes past 32");
  check(activation_rows_cols(ActivationKind::Softmax, {2, 3, 5}) ==
            std::make_pair(int64_t{6}, int64_t{5}),
        "activation_rows_cols: softmax along the last axis");
  check(refuses([] { activation_rows_cols(Activation::softmax(0), {2, 3, 5}); }),
        "activation_rows_cols refuses softmax along another axis");

  Variable v("w", Tensor({2}));
  check(refuses([&] { v.set_regularization(-0.1f, 0.0f); }) && v.l1 == 0.0f,
        "set_regularization refuses a negative factor");
  v.set_regularization(0.25f, 0.5f);
  check(v.l1 == 0.25f && v.l2 == 0.5f, "set_regularization sets both factors");
  SGD sgd(0.1f, 0.0, false);
  check(refuses([&] { sgd.set_learning_rate(-1.0f); }) && sgd.learning_rate == 0.1f,
        "set_learning_rate refuses a negative rate");
}

int main() {
  test_gemm_against_reference();
  test_work_after_fork();
  for (Activation a : {ActivationKind::Relu, ActivationKind::Sigmoid, ActivationKind::Tanh,
                       ActivationKind::Linear})
    test_dense_gradients(a, LossKind::MeanSquaredError);
  // The smooth activations, and those whose kinks the hidden values miss.
  for (const Activation& a : std::initializer_list<Activation>{
           ActivationKind::Elu, ActivationKind::Selu, ActivationKind::Celu,
           ActivationKind::Softplus, ActivationKind::Softsign, ActivationKind::Silu,
           ActivationKind::Mish, ActivationKind::LogSigmoid, ActivationKind::Exponential,
           ActivationKind::TanhShrink, ActivationKind::Squareplus, ActivationKind::LeakyRelu,
           ActivationKind::LogSoftmax, ActivationKind::Softmax, Activation::gelu(true),
           Activation::gelu(false), Activation::elu(0.5f), Activation::relu(0.1f, 4.0f)})
    test_dense_gradients(a, LossKind::MeanSquaredError);
  test_dense_gradients(ActivationKind::Tanh, LossKind::MeanAbsoluteError);
  test_dense_gradients(ActivationKind::Tanh, LossKind::BinaryCrossentropy);
  test_dense_gradients(ActivationKind::Sigmoid, LossKind::CategoricalCrossentropy);
  test_dense_gradients(ActivationKind::Relu, LossKind::SparseCategoricalCrossentropy);
  test_loss_gradients_against_central_differences();
  test_gradients_are_handed_over_when_final();
  test_mlp_trains();
  test_one_model_from_threads();
  test_errors();
  test_metrics();
  test_forward_pass();
  test_argument_rules();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
