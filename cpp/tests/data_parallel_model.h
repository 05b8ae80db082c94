// The model, data and training run that the data-parallel tests share (issue 16): the
// thread-reducer CTest (test_data_parallel.cpp) and the MPI one (test_mpi_reducer.cpp)
// train it on N ranks and in one process and compare.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "ember/model.h"
#include "ember/ops.h"
#include "ember/ops_normalization.h"
#include "ember/ops_regularization.h"

namespace ember::testing {

// One training setup: the loss's reduction, and whether samples carry weights.
struct Setup {
  Reduction reduction = Reduction::SumOverBatchSize;
  bool sample_weights = false;
  const char* name = "";
};

constexpr int64_t kIn = 6, kHidden = 16, kOut = 3;

// The same MLP on every rank (weights from a fixed seed): Dense + L2 -> BatchNormalization
// -> ActivityRegularization -> Dense(sigmoid), binary crossentropy, Adam, and metrics of
// every kind of state (totals and counts, confusion buckets, per-class sums, R2's samples);
// dense2's kernel has a MaxNorm constraint.
inline std::unique_ptr<Model> build_model(const Setup& setup) {
  std::mt19937 rng(11);
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({kIn}, "x");
  auto weights = [&](const std::string& name, Shape shape, float lim) {
    const auto n = static_cast<size_t>(num_elements(shape));
    auto v = random_vector(rng, n, -lim, lim);
    return std::make_shared<Variable>(name, Tensor(shape, v.data()));
  };
  auto k1 = weights("k1", {kIn, kHidden}, 0.5f);
  k1->set_regularization(0.0f, 1e-3f);
  const int h = g->add_node(
      std::make_shared<DenseOp>(k1, weights("b1", {kHidden}, 0.1f), ActivationKind::Relu), {x},
      "dense1");
  auto moving_var = std::make_shared<Variable>("mv", Tensor(Shape{kHidden}, 1.0f), false);
  const int bn =
      g->add_node(std::make_shared<BatchNormalizationOp>(
                      weights("gamma", {kHidden}, 1.0f), weights("beta", {kHidden}, 0.2f),
                      std::make_shared<Variable>("mm", Tensor(Shape{kHidden}), false), moving_var,
                      -1, 0.9, 1e-3, nullptr),
                  {h}, "bn");
  const int act = g->add_node(std::make_shared<ActivityRegularizationOp>(1e-3, 1e-3), {bn}, "act");
  // A MaxNorm constraint (active: the columns start with norms near 1.15), applied after
  // every update on every rank as in one process.
  auto k2 = weights("k2", {kHidden, kOut}, 0.5f);
  k2->constraint = WeightConstraint::make(WeightConstraint::Kind::kMaxNorm, 0.0, 0.9, 1.0, {0},
                                          k2->value.shape(), k2->name);
  const int y =
      g->add_node(std::make_shared<DenseOp>(k2,
                                            weights("b2", {kOut}, 0.1f), ActivationKind::Sigmoid),
                  {act}, "dense2");
  auto model = std::make_unique<Model>(g, std::vector<int>{x}, std::vector<int>{y});
  LossSpec loss;
  loss.kind = LossKind::BinaryCrossentropy;
  loss.reduction = setup.reduction;
  loss.weight = 0.75f;
  std::vector<MetricSpec> metrics{{MetricKind::BinaryAccuracy, 0, 0.5f},
                                  {MetricKind::AUC},
                                  {MetricKind::R2Score},
                                  {MetricKind::MeanSquaredError}};
  MetricConfig f1;
  f1.kind = MetricKind::FBetaScore;
  f1.threshold = 0.5f;
  metrics.emplace_back(std::make_shared<Metric>(f1), 0, setup.sample_weights);
  model->compile({loss}, std::make_shared<Adam>(0.02f), std::move(metrics));
  return model;
}

struct Data {
  int64_t n = 0;
  std::vector<float> x, y, w;
  std::vector<int64_t> order;  // one epoch's shuffle, the same on every rank
};

inline Data make_data(int64_t n) {
  std::mt19937 rng(5);
  Data d;
  d.n = n;
  d.x = random_vector(rng, static_cast<size_t>(n * kIn), -2.0f, 2.0f);
  d.w = random_vector(rng, static_cast<size_t>(n), 0.25f, 2.0f);
  std::bernoulli_distribution coin(0.5);
  for (int64_t i = 0; i < n * kOut; ++i) d.y.push_back(coin(rng) ? 1.0f : 0.0f);
  d.order.resize(static_cast<size_t>(n));
  std::iota(d.order.begin(), d.order.end(), 0);
  std::shuffle(d.order.begin(), d.order.end(), rng);
  return d;
}

// What a run ends with: every variable's values, the last epoch's results, evaluate's.
struct Outcome {
  std::vector<float> weights;
  std::vector<double> history, evaluation;
};

inline Outcome train(Model& model, const Data& d, const Setup& setup, int64_t batch, int epochs) {
  const std::vector<ArrayView> x{{d.x.data(), d.n, kIn}}, y{{d.y.data(), d.n, kOut}};
  std::vector<ArrayView> w;
  if (setup.sample_weights) w.push_back({d.w.data(), d.n, 1});
  const int64_t batches = (d.n + batch - 1) / batch;
  Outcome out;
  for (int e = 0; e < epochs; ++e) {
    model.reset_metrics();
    model.train_batches(x, y, e % 2 ? d.order.data() : nullptr, batch, 0, batches, w);
    out.history = model.metric_results();
  }
  model.reset_metrics();
  model.test_batches(x, y, batch, 0, batches, w);
  out.evaluation = model.metric_results();
  for (const VariablePtr& v : model.executor().variables())
    out.weights.insert(out.weights.end(), v->value.data(), v->value.data() + v->value.size());
  return out;
}

inline bool all_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], want[i], tol, tol)) return false;
  return true;
}

}  // namespace ember::testing
