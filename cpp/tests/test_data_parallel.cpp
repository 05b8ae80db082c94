// Data-parallel training (issue 16) checked without MPI: threads act as ranks through the
// in-process ThreadReducer, and N ranks training on shards of each global batch must end
// where one process training on the whole batches ends - weights, moving statistics, the
// reported loss and metrics - to float32 rounding.
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "data_parallel_model.h"
#include "ember/error.h"
#include "ember/model.h"
#include "ember/ops.h"
#include "ember/ops_math.h"
#include "ember/ops_normalization.h"
#include "ember/ops_regularization.h"
#include "thread_reducer.h"

using namespace ember;
using namespace ember::testing;

namespace {

void test_ranks_equal_one_process(const Setup& setup, int ranks) {
  const Data d = make_data(65);  // 4 batches of 16 and one of 1: some ranks' shards are empty
  const int64_t batch = 16;
  const int epochs = 3;
  auto single = build_model(setup);
  const Outcome want = train(*single, d, setup, batch, epochs);
  std::vector<Outcome> got(static_cast<size_t>(ranks));
  const auto errors = run_ranks(ranks, [&](std::shared_ptr<Reducer> reducer) {
    auto model = build_model(setup);
    const int r = reducer->rank();
    model->set_reducer(std::move(reducer));
    got[static_cast<size_t>(r)] = train(*model, d, setup, batch, epochs);
  });
  const std::string what = std::string(setup.name) + ", " + std::to_string(ranks) + " ranks";
  for (int r = 0; r < ranks; ++r) {
    std::string error;
    if (errors[static_cast<size_t>(r)]) try {
        std::rethrow_exception(errors[static_cast<size_t>(r)]);
      } catch (const std::exception& e) {
        error = e.what();
      }
    check(error.empty(), what + ": rank " + std::to_string(r) + " ran" +
                             (error.empty() ? "" : " (threw: " + error + ")"));
    if (!error.empty()) continue;
    const Outcome& o = got[static_cast<size_t>(r)];
    double worst = 0.0;
    bool same = o.weights.size() == want.weights.size();
    for (size_t i = 0; same && i < o.weights.size(); ++i) {
      const double diff = std::fabs(double(o.weights[i]) - want.weights[i]);
      worst = std::max(worst, diff / (1e-5 + std::fabs(double(want.weights[i]))));
      same = close(o.weights[i], want.weights[i], 2e-5, 2e-4);
    }
    check(same, what + ": rank " + std::to_string(r) +
                    " weights and moving statistics equal one process's (worst relative " +
                    std::to_string(worst) + ")");
    check(all_close(o.history, want.history, 2e-5),
          what + ": rank " + std::to_string(r) + " loss and metrics equal one process's");
    check(all_close(o.evaluation, want.evaluation, 2e-5),
          what + ": rank " + std::to_string(r) + " evaluation equals one process's");
  }
}

// Other losses, one small model each: the divisors that depend on the data of the whole
// global batch (a Keras mask's kept steps, ignore_class's kept labels, a custom loss's
// weights) must come out as one process's.
enum class Case { MaskedSumOverBatchSize, MaskedMeanWithSampleWeight, IgnoreClass, GraphLoss };

struct CaseData {
  int64_t n = 0;
  std::vector<std::vector<float>> x, y;
  std::vector<float> w;
  std::vector<int64_t> order;
  std::vector<ArrayView> xv, yv, wv;
};

constexpr int64_t kSteps = 4, kFeatures = 3, kClasses = 4;

std::unique_ptr<Model> build_case(Case c) {
  std::mt19937 rng(17);
  auto weights = [&](const std::string& name, Shape shape) {
    auto v = random_vector(rng, static_cast<size_t>(num_elements(shape)), -0.6f, 0.6f);
    return std::make_shared<Variable>(name, Tensor(shape, v.data()));
  };
  auto g = std::make_shared<Graph>();
  const bool masked = c == Case::MaskedSumOverBatchSize || c == Case::MaskedMeanWithSampleWeight;
  LossSpec loss;
  loss.weight = 1.5f;
  std::unique_ptr<Model> model;
  if (masked) {  // (steps, features) -> Dense per step -> (steps, classes), masked per step
    const int x = g->add_input({kSteps, kFeatures}, "x");
    const int mask = g->add_input({kSteps}, "mask");
    const int h = g->add_node(std::make_shared<DenseOp>(weights("k1", {kFeatures, 8}),
                                                        weights("b1", {8}), ActivationKind::Tanh),
                              {x}, "dense1");
    const int y =
        g->add_node(std::make_shared<DenseOp>(weights("k2", {8, kClasses}),
                                              weights("b2", {kClasses}), ActivationKind::Linear),
                    {h}, "dense2");
    model = std::make_unique<Model>(g, std::vector<int>{x, mask}, std::vector<int>{y},
                                    std::vector<int>{mask});
    loss.kind = LossKind::MeanSquaredError;
    loss.reduction = c == Case::MaskedSumOverBatchSize ? Reduction::SumOverBatchSize
                                                       : Reduction::MeanWithSampleWeight;
  } else {
    const int x = g->add_input({kFeatures}, "x");
    const int h = g->add_node(std::make_shared<DenseOp>(weights("k1", {kFeatures, 8}),
                                                        weights("b1", {8}), ActivationKind::Relu),
                              {x}, "dense1");
    const int y =
        g->add_node(std::make_shared<DenseOp>(weights("k2", {8, kClasses}),
                                              weights("b2", {kClasses}), ActivationKind::Softmax),
                    {h}, "dense2");
    model = std::make_unique<Model>(g, std::vector<int>{x}, std::vector<int>{y});
    loss.kind = LossKind::SparseCategoricalCrossentropy;
    loss.ignore_class = 1;
    if (c == Case::GraphLoss) {  // mean((y - t)^2) per sample, mean_with_sample_weight
      auto lg = std::make_shared<Graph>();
      const int p = lg->add_input({kClasses}, "p"), t = lg->add_input({kClasses}, "t");
      const int d = lg->add_node(std::make_shared<BinaryOp>(BinaryKind::Subtract, nullptr, nullptr),
                                 {p, t}, "d");
      const int sq = lg->add_node(std::make_shared<UnaryOp>(UnaryKind::Square), {d}, "sq");
      const int v = lg->add_node(
          std::make_shared<ReduceOp>(ReduceKind::Mean, std::vector<int>{0}, false), {sq}, "v");
      model->set_graph_loss(0, lg, p, t, v);
      loss.kind = LossKind::MeanSquaredError;
      loss.ignore_class.reset();
      loss.reduction = Reduction::MeanWithSampleWeight;
    }
  }
  const MetricKind metric = c == Case::IgnoreClass ? MetricKind::SparseCategoricalAccuracy
                                                   : MetricKind::MeanAbsoluteError;
  model->compile({loss}, std::make_shared<Adam>(0.03f), {{metric, 0, 0.5f}});
  return model;
}

CaseData case_data(Case c, int64_t n) {
  std::mt19937 rng(23);
  CaseData d;
  d.n = n;
  const bool masked = c == Case::MaskedSumOverBatchSize || c == Case::MaskedMeanWithSampleWeight;
  d.x.push_back(random_vector(rng, static_cast<size_t>(n * (masked ? kSteps : 1) * kFeatures)));
  if (masked) {
    std::bernoulli_distribution keep(0.6);
    std::vector<float> mask(static_cast<size_t>(n * kSteps));
    for (float& v : mask) v = keep(rng) ? 1.0f : 0.0f;
    d.x.push_back(mask);
    d.y.push_back(random_vector(rng, static_cast<size_t>(n * kSteps * kClasses)));
  } else if (c == Case::IgnoreClass) {
    std::uniform_int_distribution<int> label(0, kClasses - 1);
    std::vector<float> ids(static_cast<size_t>(n));
    for (float& v : ids) v = static_cast<float>(label(rng));
    d.y.push_back(ids);
  } else {
    d.y.push_back(random_vector(rng, static_cast<size_t>(n * kClasses), 0.0f, 1.0f));
  }
  d.w = random_vector(rng, static_cast<size_t>(n), 0.25f, 2.0f);
  d.order.resize(static_cast<size_t>(n));
  std::iota(d.order.begin(), d.order.end(), 0);
  std::shuffle(d.order.begin(), d.order.end(), rng);
  d.xv.push_back({d.x[0].data(), n, static_cast<int64_t>(d.x[0].size()) / n});
  if (masked) d.xv.push_back({d.x[1].data(), n, kSteps});
  d.yv.push_back({d.y[0].data(), n, static_cast<int64_t>(d.y[0].size()) / n});
  if (c != Case::MaskedSumOverBatchSize) d.wv.push_back({d.w.data(), n, 1});
  return d;
}

Outcome train_case(Model& model, const CaseData& d, int64_t batch, int epochs) {
  const int64_t batches = (d.n + batch - 1) / batch;
  Outcome out;
  for (int e = 0; e < epochs; ++e) {
    model.reset_metrics();
    model.train_batches(d.xv, d.yv, d.order.data(), batch, 0, batches, d.wv);
    out.history = model.metric_results();
  }
  model.reset_metrics();
  model.test_batches(d.xv, d.yv, batch, 0, batches, d.wv);
  out.evaluation = model.metric_results();
  for (const VariablePtr& v : model.executor().variables())
    out.weights.insert(out.weights.end(), v->value.data(), v->value.data() + v->value.size());
  return out;
}

void test_case_ranks_equal_one_process(Case c, const char* name, int ranks) {
  const CaseData d = case_data(c, 43);  // batches of 12, 12, 12, 7
  auto single = build_case(c);
  const Outcome want = train_case(*single, d, 12, 3);
  std::vector<Outcome> got(static_cast<size_t>(ranks));
  const auto errors = run_ranks(ranks, [&](std::shared_ptr<Reducer> reducer) {
    auto model = build_case(c);
    const int r = reducer->rank();
    model->set_reducer(std::move(reducer));
    got[static_cast<size_t>(r)] = train_case(*model, d, 12, 3);
  });
  for (int r = 0; r < ranks; ++r) {
    const std::string what =
        std::string(name) + ", " + std::to_string(ranks) + " ranks: rank " + std::to_string(r);
    if (errors[static_cast<size_t>(r)]) {
      try {
        std::rethrow_exception(errors[static_cast<size_t>(r)]);
      } catch (const std::exception& e) {
        check(false, what + " threw: " + e.what());
      }
      continue;
    }
    const Outcome& o = got[static_cast<size_t>(r)];
    bool same = o.weights.size() == want.weights.size();
    for (size_t i = 0; same && i < o.weights.size(); ++i)
      same = close(o.weights[i], want.weights[i], 2e-5, 2e-4);
    check(same && all_close(o.history, want.history, 2e-5) &&
              all_close(o.evaluation, want.evaluation, 2e-5),
          what + " equals one process (weights, loss and metrics, evaluation)");
  }
}

// A rank whose model or batch size differs is an error at the first step on every rank,
// never a hang in a collective.
void test_mismatch_is_an_error() {
  const Data d = make_data(40);
  const Setup setup{Reduction::SumOverBatchSize, false, "mismatch"};
  for (const bool different_batch : {true, false}) {
    std::vector<std::string> messages(2);
    const auto errors = run_ranks(2, [&](std::shared_ptr<Reducer> reducer) {
      const int r = reducer->rank();
      std::unique_ptr<Model> model;
      if (!different_batch && r == 1) {  // a model with a narrower hidden layer
        auto g = std::make_shared<Graph>();
        const int x = g->add_input({kIn}, "x");
        const int y =
            g->add_node(std::make_shared<DenseOp>(
                            std::make_shared<Variable>("k", Tensor(Shape{kIn, kOut}, 0.1f)),
                            std::make_shared<Variable>("b", Tensor(Shape{kOut}, 0.0f)),
                            ActivationKind::Sigmoid),
                        {x}, "dense");
        model = std::make_unique<Model>(g, std::vector<int>{x}, std::vector<int>{y});
        LossSpec loss;
        loss.kind = LossKind::BinaryCrossentropy;
        model->compile({loss}, std::make_shared<Adam>(), {});
      } else {
        model = build_model(setup);
      }
      model->set_reducer(std::move(reducer));
      const std::vector<ArrayView> x{{d.x.data(), d.n, kIn}}, y{{d.y.data(), d.n, kOut}};
      const int64_t batch = different_batch && r == 1 ? 8 : 16;
      try {
        model->train_batches(x, y, nullptr, batch, 0, 3);
      } catch (const ValueError& e) {
        messages[static_cast<size_t>(r)] = e.what();
      }
    });
    for (int r = 0; r < 2; ++r) {
      const std::string& m = messages[static_cast<size_t>(r)];
      const char* expect = different_batch ? "batch_size" : "the number of trainable variables";
      check(!errors[static_cast<size_t>(r)] && m.find("ranks disagree") != std::string::npos &&
                m.find(expect) != std::string::npos,
            std::string("a mismatch in ") + expect + " is a ValueError on rank " +
                std::to_string(r) + ": " + m);
    }
  }
}

// A rank whose value is the mean of the others' (batch sizes 8, 16, 24) is told too.
void test_mismatch_at_the_mean_is_an_error() {
  const Data d = make_data(40);
  std::vector<std::string> messages(3);
  const auto errors = run_ranks(3, [&](std::shared_ptr<Reducer> reducer) {
    const int r = reducer->rank();
    auto model = build_model({});
    model->set_reducer(std::move(reducer));
    const std::vector<ArrayView> x{{d.x.data(), d.n, kIn}}, y{{d.y.data(), d.n, kOut}};
    try {
      model->test_batches(x, y, 8 * (r + 1), 0, 2);
    } catch (const ValueError& e) {
      messages[static_cast<size_t>(r)] = e.what();
    }
  });
  for (int r = 0; r < 3; ++r)
    check(!errors[static_cast<size_t>(r)] &&
              messages[static_cast<size_t>(r)].find("disagree on batch_size") != std::string::npos,
          "batch sizes 8, 16, 24: a ValueError on rank " + std::to_string(r) + " too");
}

// Without a reducer, and after one is removed, training is one process's.
void test_null_reducer_is_one_process() {
  const Data d = make_data(50);
  const Setup setup{Reduction::SumOverBatchSize, false, "null reducer"};
  auto a = build_model(setup), b = build_model(setup);
  const auto errors = run_ranks(1, [&](std::shared_ptr<Reducer> reducer) {
    b->set_reducer(std::move(reducer));
    b->set_reducer(nullptr);
  });
  const Outcome oa = train(*a, d, setup, 16, 2), ob = train(*b, d, setup, 16, 2);
  check(!errors[0] && oa.weights == ob.weights && oa.history == ob.history,
        "a removed reducer leaves one process's training, bit for bit");
  check(a->local_metric_results() == a->metric_results(),
        "without a reducer, local_metric_results is metric_results");
}

// broadcast_weights gives every rank rank 0's weights.
// broadcast_weights gives every rank rank 0's weights and optimizer state: then training
// on goes on alike everywhere.
void test_broadcast_weights() {
  const Data d = make_data(40);
  const Setup setup{};
  // Everything a rank's model holds: variables, optimizer slots, iterations.
  auto state_of = [](Model& m) {
    std::vector<float> s;
    for (const VariablePtr& v : m.executor().variables())
      s.insert(s.end(), v->value.data(), v->value.data() + v->value.size());
    for (std::vector<Tensor>& slots : m.optimizer().slots())
      for (Tensor& t : slots) s.insert(s.end(), t.data(), t.data() + t.size());
    s.push_back(static_cast<float>(m.optimizer().iterations));
    return s;
  };
  auto rank0 = build_model(setup);  // rank 0's model has trained one epoch alone
  train(*rank0, d, setup, 16, 1);
  const std::vector<float> want = state_of(*rank0);
  std::vector<std::vector<float>> after(2);
  const auto errors = run_ranks(2, [&](std::shared_ptr<Reducer> reducer) {
    const int r = reducer->rank();
    std::unique_ptr<Model> model = build_model(setup);
    if (r == 0) train(*model, d, setup, 16, 1);
    model->set_reducer(std::move(reducer));
    model->broadcast_weights();
    after[static_cast<size_t>(r)] = state_of(*model);
  });
  check(!errors[0] && !errors[1] && want.back() > 0 && after[0] == want && after[1] == want,
        "broadcast_weights copies rank 0's weights and optimizer state to every rank");
}

}  // namespace

int main() {
  const Setup setups[] = {
      {Reduction::SumOverBatchSize, false, "sum_over_batch_size"},
      {Reduction::MeanWithSampleWeight, true, "mean_with_sample_weight, sample weights"},
      {Reduction::Sum, true, "sum, sample weights"},
  };
  for (const Setup& s : setups)
    for (int ranks : {2, 3}) test_ranks_equal_one_process(s, ranks);
  const std::pair<Case, const char*> cases[] = {
      {Case::MaskedSumOverBatchSize, "masked output, sum_over_batch_size"},
      {Case::MaskedMeanWithSampleWeight, "masked output, mean_with_sample_weight"},
      {Case::IgnoreClass, "sparse crossentropy with ignore_class"},
      {Case::GraphLoss, "custom graph loss, mean_with_sample_weight"},
  };
  for (const auto& [c, name] : cases)
    for (int ranks : {2, 3}) test_case_ranks_equal_one_process(c, name, ranks);
  test_mismatch_is_an_error();
  test_mismatch_at_the_mean_is_an_error();
  test_null_reducer_is_one_process();
  test_broadcast_weights();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
