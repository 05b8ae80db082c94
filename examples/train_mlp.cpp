// Embedding ember in a C++ program, no Python: build a 2-16-1 MLP, train it on
// XOR-like data with Adam and binary crossentropy, then predict.
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "ember/model.h"
#include "ember/ops.h"

int main() {
  using namespace ember;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t n = 512;
  std::vector<float> x(n * 2), y(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i * 2] = u(rng);
    x[i * 2 + 1] = u(rng);
    y[i] = (x[i * 2] > 0) != (x[i * 2 + 1] > 0) ? 1.0f : 0.0f;
  }
  auto init = [&](int64_t fan_in, int64_t fan_out) {
    const float limit = std::sqrt(6.0f / float(fan_in + fan_out));  // glorot_uniform
    std::vector<float> w(fan_in * fan_out);
    for (float& v : w) v = limit * u(rng);
    return std::make_shared<Variable>("kernel", Tensor({fan_in, fan_out}, w.data()));
  };
  auto graph = std::make_shared<Graph>();
  const int in = graph->add_input({2}, "x");
  const int h = graph->add_node(
      std::make_shared<DenseOp>(init(2, 16), std::make_shared<Variable>("bias", Tensor({16})),
                                ActivationKind::Tanh),
      {in}, "hidden");
  const int out = graph->add_node(
      std::make_shared<DenseOp>(init(16, 1), std::make_shared<Variable>("bias", Tensor({1})),
                                ActivationKind::Sigmoid),
      {h}, "out");

  Model model(graph, {in}, {out});
  model.compile({{LossKind::BinaryCrossentropy}}, std::make_shared<Adam>(0.01f),
                {{MetricKind::BinaryAccuracy}});
  const std::vector<ArrayView> xs{{x.data(), n, 2}}, ys{{y.data(), n, 1}};
  for (int epoch = 1; epoch <= 100; ++epoch) {
    model.reset_metrics();
    model.train_batches(xs, ys, nullptr, 32, 0, n / 32);
    if (epoch % 25 == 0) {
      const auto r = model.metric_results();
      std::printf("epoch %3d  loss %.4f  accuracy %.4f\n", epoch, r[0], r[1]);
    }
  }
  std::vector<float> p(n);
  model.predict(xs, 128, {p.data()});
  std::printf("p(0.5, 0.5) = %.3f  p(0.5, -0.5) = %.3f\n", p[0], p[1]);
  return model.metric_results()[1] > 0.9 ? 0 : 1;
}
