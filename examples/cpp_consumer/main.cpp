// Embedding ember in a C++ program, no Python: build a 2-16-1 MLP, train it on
// XOR-like data with Adam and binary crossentropy, then predict - and check the
// results, since CTest runs this both in the source tree and against the installed
// package (examples/cpp_consumer/CMakeLists.txt, find_package(ember)):
// - training learns the task (accuracy > 0.9, the loss falls);
// - predict() equals the network written out by hand in double precision from the
//   trained weights, to float32 rounding;
// - a bad input is a typed exception (ember::ValueError), not a crash.
#include <ember/ember.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

namespace {

// out[j] = act(sum_i x[i] * w[i, j] + b[j]) in double; w is (in, out) row-major.
std::vector<double> dense(const std::vector<double>& x, const ember::Variable& w,
                          const ember::Variable& b, double (*act)(double)) {
  const int64_t in = w.value.shape()[0], out = w.value.shape()[1];
  std::vector<double> y(static_cast<size_t>(out));
  for (int64_t j = 0; j < out; ++j) {
    double s = b.value.data()[j];
    for (int64_t i = 0; i < in; ++i) s += x[i] * double(w.value.data()[i * out + j]);
    y[j] = act(s);
  }
  return y;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double tanh_d(double v) { return std::tanh(v); }

int fail(const char* what) {
  std::fprintf(stderr, "FAILED: %s\n", what);
  return 1;
}

}  // namespace

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
  auto kernel = [&](int64_t fan_in, int64_t fan_out) {
    const float limit = std::sqrt(6.0f / float(fan_in + fan_out));  // glorot_uniform
    std::vector<float> w(fan_in * fan_out);
    for (float& v : w) v = limit * u(rng);
    return std::make_shared<Variable>("kernel", Tensor({fan_in, fan_out}, w.data()));
  };
  auto w1 = kernel(2, 16), w2 = kernel(16, 1);
  auto b1 = std::make_shared<Variable>("bias", Tensor({16})),
       b2 = std::make_shared<Variable>("bias", Tensor({1}));
  auto graph = std::make_shared<Graph>();
  const int in = graph->add_input({2}, "x");
  const int h = graph->add_node(std::make_shared<DenseOp>(w1, b1, ActivationKind::Tanh), {in},
                                "hidden");
  const int out =
      graph->add_node(std::make_shared<DenseOp>(w2, b2, ActivationKind::Sigmoid), {h}, "out");

  Model model(graph, {in}, {out});
  model.compile({{LossKind::BinaryCrossentropy}}, std::make_shared<Adam>(0.01f),
                {{MetricKind::BinaryAccuracy}});
  const std::vector<ArrayView> xs{{x.data(), n, 2}}, ys{{y.data(), n, 1}};
  double first_loss = 0.0;
  for (int epoch = 1; epoch <= 100; ++epoch) {
    model.reset_metrics();
    model.train_batches(xs, ys, nullptr, 32, 0, n / 32);
    if (epoch == 1) first_loss = model.metric_results()[0];
    if (epoch % 25 == 0) {
      const auto r = model.metric_results();
      std::printf("epoch %3d  loss %.4f  accuracy %.4f\n", epoch, r[0], r[1]);
    }
  }
  const auto last = model.metric_results();
  if (!(last[1] > 0.9)) return fail("accuracy after 100 epochs is not above 0.9");
  if (!(last[0] < 0.5 * first_loss)) return fail("the loss did not fall by half");

  std::vector<float> p(n);
  model.predict(xs, 128, {p.data()});
  std::printf("p(%.2f, %.2f) = %.3f  p(%.2f, %.2f) = %.3f\n", x[0], x[1], p[0], x[2], x[3], p[1]);
  for (int64_t i = 0; i < n; ++i) {
    const auto hidden = dense({x[i * 2], x[i * 2 + 1]}, *w1, *b1, tanh_d);
    const double want = dense(hidden, *w2, *b2, sigmoid)[0];
    if (std::abs(p[i] - want) > 1e-6 + 1e-5 * std::abs(want)) {
      std::fprintf(stderr, "row %lld: predict %.9g, by hand %.9g\n", static_cast<long long>(i),
                   p[i], want);
      return fail("predict() differs from the network computed by hand");
    }
  }

  try {
    model.predict({{x.data(), n / 2, 4}}, 128, {p.data()});  // rows of 4 values, not 2
    return fail("a wrongly shaped input was accepted");
  } catch (const ValueError& e) {
    std::printf("wrong shape rejected: %s\n", e.what());
  }
  std::printf("ok\n");
  return 0;
}
