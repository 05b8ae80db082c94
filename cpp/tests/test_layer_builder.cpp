// build_layer (ember/layer_builder.h): layers built from Keras JSON configs compute what their
// formulas say, carry int32 ids and masks as the Python package does, and bad configs or
// weights throw ember::Error naming the layer and the problem.
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "check.h"
#include "ember/layer_builder.h"

using namespace ember;
using ember::testing::check;
using ember::testing::close;
using ember::testing::random_vector;
using nlohmann::json;

namespace {

std::mt19937 rng(12);

VariablePtr random_variable(const std::string& name, Shape shape, float lo = -1.0f,
                            float hi = 1.0f) {
  const auto values = random_vector(rng, static_cast<size_t>(num_elements(shape)), lo, hi);
  return std::make_shared<Variable>(name, Tensor(std::move(shape), values.data()));
}

// Runs graph from `input` to `outputs` on x (rows of the input's row size).
std::vector<std::vector<float>> run(std::shared_ptr<Graph> graph, int input,
                                    std::vector<int> outputs, const std::vector<float>& x,
                                    int64_t rows) {
  Executor ex(graph, {input}, outputs, Device::cpu(), true);
  ex.reserve(rows);
  std::memcpy(ex.input_buffer(0), x.data(), x.size() * sizeof(float));
  ex.forward(rows, false);
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const size_t n = static_cast<size_t>(rows * ex.output_row_size(i));
    out.emplace_back(ex.output(i), ex.output(i) + n);
  }
  return out;
}

// Whether f throws an ember::Error whose message holds every one of `parts`.
bool throws_naming(const std::function<void()>& f, std::vector<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts)
      if (what.find(p) == std::string::npos) {
        std::printf("     message lacks '%s': %s\n", p.c_str(), what.c_str());
        return false;
      }
    return true;
  } catch (const std::exception& e) {
    std::printf("     not an ember::Error: %s\n", e.what());
    return false;
  }
  std::printf("     nothing thrown\n");
  return false;
}

void test_dense_relu_matches_formula() {
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({5}, "x");
  auto kernel = random_variable("kernel", {5, 3});
  auto bias = random_variable("bias", {3});
  const json config = json::parse(R"({"name": "dense_7", "units": 3, "activation": "relu",
      "use_bias": true, "trainable": true, "kernel_initializer": {"class_name": "GlorotUniform"}})");
  const auto result = build_layer(*g, "Dense", config, {kernel, bias}, {{x}, {}, {}});
  check(result.outputs.nodes.size() == 1 && !result.returns_list, "Dense: one output");
  check(g->name(result.outputs.nodes[0]) == "dense_7", "Dense: the node bears the layer's name");
  const int64_t rows = 4;
  const auto xs = random_vector(rng, rows * 5);
  const auto y = run(g, x, result.outputs.nodes, xs, rows)[0];
  bool ok = true;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < 3; ++j) {
      double z = bias->value.data()[j];
      for (int64_t i = 0; i < 5; ++i)
        z += double(xs[size_t(r * 5 + i)]) * kernel->value.data()[i * 3 + j];
      ok = ok && close(y[size_t(r * 3 + j)], std::max(z, 0.0), 1e-6, 1e-5);
    }
  check(ok, "Dense(relu) from its JSON config: relu(x @ kernel + bias)");
}

void test_batch_normalization_inference() {
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({2, 4}, "x");
  auto gamma = random_variable("gamma", {4}), beta = random_variable("beta", {4});
  auto mean = random_variable("moving_mean", {4});
  auto var = random_variable("moving_variance", {4}, 0.5f, 2.0f);
  const json config = json::parse(
      R"({"name": "bn", "axis": -1, "momentum": 0.9, "epsilon": 0.01, "center": true,
          "scale": true})");
  const auto specs = layer_weight_specs("BatchNormalization", config, {{2, 4}});
  check(specs.size() == 4 && specs[0].first == "gamma" && specs[3].second == Shape{4},
        "BatchNormalization: weight specs gamma, beta, moving_mean, moving_variance (4,)");
  const auto result =
      build_layer(*g, "BatchNormalization", config, {gamma, beta, mean, var}, {{x}, {}, {}});
  const auto xs = random_vector(rng, 3 * 8);
  const auto y = run(g, x, result.outputs.nodes, xs, 3)[0];
  bool ok = true;
  for (size_t i = 0; i < xs.size(); ++i) {
    const size_t c = i % 4;
    const double want = (xs[i] - mean->value.data()[c]) /
                            std::sqrt(double(var->value.data()[c]) + 0.01) *
                            gamma->value.data()[c] +
                        beta->value.data()[c];
    ok = ok && close(y[i], want, 1e-5, 1e-5);
  }
  check(ok, "BatchNormalization in inference: (x - mean) / sqrt(var + eps) * gamma + beta");
}

void test_permute_and_repeat_vector() {
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({2, 3}, "x");
  const auto p = build_layer(*g, "Permute", json::parse(R"({"name": "p", "dims": [2, 1]})"), {},
                             {{x}, {}, {}});
  check(g->row_shape(p.outputs.nodes[0]) == Shape{3, 2}, "Permute((2, 1)): (2, 3) -> (3, 2)");
  const std::vector<float> xs{1, 2, 3, 4, 5, 6};
  const auto y = run(g, x, p.outputs.nodes, xs, 1)[0];
  check(y == std::vector<float>{1, 4, 2, 5, 3, 6}, "Permute((2, 1)) transposes each sample");

  auto g2 = std::make_shared<Graph>();
  const int v = g2->add_input({2}, "v");
  const auto r = build_layer(*g2, "RepeatVector", json::parse(R"({"name": "rep", "n": 3})"), {},
                             {{v}, {}, {}});
  const auto z = run(g2, v, r.outputs.nodes, {7, 8}, 1)[0];
  check(z == std::vector<float>{7, 8, 7, 8, 7, 8}, "RepeatVector(3) repeats the vector");
}

void test_embedding_reads_ids_and_makes_mask() {
  auto g = std::make_shared<Graph>();
  const int ids = g->add_input({3}, "ids");
  auto table = random_variable("embeddings", {5, 2});
  const json config =
      json::parse(R"({"name": "emb", "input_dim": 5, "output_dim": 2, "mask_zero": true})");
  const auto e = build_layer(*g, "Embedding", config, {table}, {{ids}, {}, {true}});
  check(e.outputs.masks.size() == 1 && e.outputs.masks[0] >= 0,
        "Embedding(mask_zero=True) makes a mask");
  // The mask flows through a layer that supports masking, and is dropped by one that doesn't.
  const auto d = build_layer(*g, "Dense", json::parse(R"({"name": "d", "units": 2})"),
                             {random_variable("k", {2, 2}), random_variable("b", {2})}, e.outputs);
  check(d.outputs.masks[0] == e.outputs.masks[0], "Dense passes its input's mask on");
  const auto f = build_layer(*g, "Flatten", json::parse(R"({"name": "f"})"), {}, d.outputs);
  check(f.outputs.masks[0] == -1, "Flatten drops the mask (as Keras's)");
  std::vector<float> xs(3);
  const int32_t id_values[3] = {2, 0, 4};
  std::memcpy(xs.data(), id_values, sizeof(id_values));
  const auto out = run(g, ids, {e.outputs.nodes[0], e.outputs.masks[0]}, xs, 1);
  bool ok = true;
  for (int t = 0; t < 3; ++t)
    for (int j = 0; j < 2; ++j)
      ok = ok && out[0][size_t(t * 2 + j)] == table->value.data()[id_values[t] * 2 + j];
  check(ok, "Embedding looks its int32 ids up in the table");
  check(out[1] == std::vector<float>{1, 0, 1}, "Embedding's mask is 0 where the id is 0");

  // Float values reaching Embedding are cast (truncating) to ids first, as Keras casts them.
  auto g2 = std::make_shared<Graph>();
  const int fx = g2->add_input({3}, "x");
  const auto e2 = build_layer(*g2, "Embedding", config, {table}, {{fx}, {}, {}});
  check(g2->name(g2->inputs(e2.outputs.nodes[0])[0]) == "emb/cast_to_int32",
        "float inputs reach Embedding through emb/cast_to_int32");
  const auto out2 = run(g2, fx, {e2.outputs.nodes[0]}, {2.7f, 0.2f, 4.0f}, 1);
  check(out2[0] == std::vector<float>(out[0].begin(), out[0].end()),
        "the cast truncates float ids as Keras does");
}

void test_conv_weight_specs() {
  const json conv = json::parse(
      R"({"name": "c", "filters": 8, "kernel_size": [3, 3], "groups": 2, "use_bias": true,
          "data_format": "channels_last"})");
  const auto specs = layer_weight_specs("Conv2D", conv, {{10, 10, 4}});
  check(specs.size() == 2 && specs[0].second == Shape{3, 3, 2, 8} && specs[1].second == Shape{8},
        "Conv2D(groups=2) weight specs: kernel (3, 3, 2, 8), bias (8,)");
  const json sep = json::parse(
      R"({"name": "s", "filters": 5, "kernel_size": 3, "depth_multiplier": 2, "use_bias": false})");
  const auto sspecs = layer_weight_specs("SeparableConv1D", sep, {{12, 3}});
  check(sspecs.size() == 2 && sspecs[0].second == Shape{3, 3, 2} &&
            sspecs[1].second == Shape{1, 6, 5},
        "SeparableConv1D weight specs: depthwise (3, 3, 2), pointwise (1, 6, 5)");
}

void test_bad_configs_throw_naming_the_problem() {
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({4}, "x");
  auto k = random_variable("kernel", {4, 2});
  auto b = random_variable("bias", {2});
  auto build = [&](const std::string& cls, const std::string& config,
                   std::vector<VariablePtr> weights) {
    return [&g, x, cls, config, weights] {
      build_layer(*g, cls, json::parse(config), weights, {{x}, {}, {}});
    };
  };
  check(throws_naming(build("NoSuchLayer", R"({"name": "n"})", {}),
                      {"'n'", "unknown layer class 'NoSuchLayer'"}),
        "an unknown class throws, naming it");
  check(throws_naming(build("Dense", R"({"name": "d"})", {k, b}), {"Dense layer 'd'", "'units'"}),
        "a missing key throws, naming the layer and the key");
  check(throws_naming(build("Dense", R"({"name": "d", "units": "two"})", {k, b}),
                      {"'d'", "'units' must be an integer"}),
        "an ill-typed key throws, naming it");
  check(throws_naming(build("Dense", R"({"name": "d", "units": 2, "use_bias": "yes"})", {k, b}),
                      {"'use_bias' must be a boolean"}),
        "an ill-typed boolean throws");
  check(throws_naming(build("Dense", R"({"units": 2})", {k, b}), {"Dense", "'name'"}),
        "a config without a name throws");
  check(throws_naming(build("Dense", R"([1, 2])", {k, b}), {"Dense", "JSON object"}),
        "a config that is not an object throws");
  check(throws_naming(build("Dense", R"({"name": "d", "units": 2})", {k}),
                      {"'d'", "expects 2 weight(s)", "got 1"}),
        "a wrong weight count throws, listing what was expected");
  check(throws_naming(build("Dense", R"({"name": "d", "units": 3})", {k, b}),
                      {"'d'", "kernel (4, 3)", "got 2"}),
        "a weight of the wrong shape throws, naming the shape expected");
  check(throws_naming(build("Dense", R"({"name": "d", "units": 1000000000000})", {k, b}),
                      {"'d'", "'units'"}),
        "absurd units throw before anything is allocated");
  check(throws_naming(
            [&] {
              layer_weight_specs("Embedding", json::parse(R"({"name": "e", "input_dim": 4000000000,
                                                 "output_dim": 8})"),
                                 {{3}});
            },
            {"'e'", "'input_dim'"}),
        "an absurd Embedding input_dim throws from layer_weight_specs");
  check(throws_naming(
            [&] {
              layer_weight_specs("Dense", json::parse(R"({"name": "d", "units": 2000000000})"),
                                 {{2000000000}});
            },
            {"'d'", "too large"}),
        "a weight of absurd size throws from layer_weight_specs");
  check(throws_naming(build("RepeatVector", R"({"name": "r", "n": 1099511627776})", {}),
                      {"'r'", "'n'"}),
        "an absurd RepeatVector n throws");
  auto g2 = std::make_shared<Graph>();
  const int v = g2->add_input({1000}, "v");
  check(throws_naming(
            [&] {
              build_layer(*g2, "RepeatVector", json::parse(R"({"name": "r", "n": 100000000})"), {},
                          {{v}, {}, {}});
            },
            {"'r'", "too large"}),
        "a RepeatVector whose output would be absurdly large throws");
  check(throws_naming(build("Conv1D", R"({"name": "c", "filters": 2, "kernel_size": 3})", {}),
                      {"'c'", "rank 3"}),
        "a convolution on an input of the wrong rank throws");
  check(throws_naming(build("Activation", R"({"name": "a", "activation": "nope"})", {}),
                      {"'a'", "nope"}),
        "an unknown activation throws, naming it");
  check(throws_naming(
            [&] {
              build_layer(*g, "Dense", json::parse(R"({"name": "d", "units": 2})"), {k, b},
                          {{x}, {}, {}}, json::parse(R"({"initial_state": [[1, 0, 0]]})"));
            },
            {"'d'", "initial_state"}),
        "an initial_state in the call's arguments throws rather than being ignored");
  check(throws_naming(build("Add", R"({"name": "add"})", {}), {"'add'", "at least 2"}),
        "a merge of one input throws");
  check(throws_naming(build("Dropout", R"({"name": "dr", "rate": 1.5})", {}), {"'dr'", "'rate'"}),
        "a Dropout rate above 1 throws");
  check(throws_naming(build("Reshape", R"({"name": "rs", "target_shape": [-1, -1]})", {}),
                      {"'rs'", "one -1"}),
        "a Reshape with two unknown axes throws");
}

void test_wrappers_build_their_layers_from_the_nested_configs() {
  // TimeDistributed(Dense): the Dense's weights, applied to every step.
  const json td = json::parse(R"({"name": "td", "layer": {"class_name": "Dense",
      "config": {"name": "inner", "units": 2, "activation": "tanh"}}})");
  const auto specs = layer_weight_specs("TimeDistributed", td, {{3, 4}});
  check(specs.size() == 2 && specs[0].second == Shape{4, 2},
        "TimeDistributed(Dense) weight specs are the Dense's on one step");
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({3, 4}, "x");
  auto k = random_variable("kernel", {4, 2}), b = random_variable("bias", {2});
  const auto r = build_layer(*g, "TimeDistributed", td, {k, b}, {{x}, {}, {}});
  const auto xs = random_vector(rng, 2 * 12);
  const auto y = run(g, x, r.outputs.nodes, xs, 2)[0];
  bool ok = y.size() == 2 * 3 * 2;
  for (size_t s = 0; ok && s < 6; ++s)
    for (size_t j = 0; j < 2; ++j) {
      double z = b->value.data()[j];
      for (size_t i = 0; i < 4; ++i) z += double(xs[s * 4 + i]) * k->value.data()[i * 2 + j];
      ok = ok && close(y[s * 2 + j], std::tanh(z), 1e-6, 1e-5);
    }
  check(ok, "TimeDistributed(Dense) computes the Dense on every step");

  // Bidirectional(LSTM) as Keras stores it: the forward layer's config, no backward_layer.
  const json bi = json::parse(R"({"name": "bi", "merge_mode": "concat", "layer": {
      "class_name": "LSTM", "config": {"name": "lstm", "units": 3, "return_sequences": true}}})");
  const auto bspecs = layer_weight_specs("Bidirectional", bi, {{5, 2}});
  check(bspecs.size() == 6 && bspecs[0].second == Shape{2, 12} && bspecs[4].second == Shape{3, 12},
        "Bidirectional(LSTM) weight specs: the forward then the backward LSTM's");
  auto g2 = std::make_shared<Graph>();
  const int seq = g2->add_input({5, 2}, "seq");
  std::vector<VariablePtr> weights;
  for (const auto& [name, shape] : bspecs) weights.push_back(random_variable(name, shape));
  const auto br = build_layer(*g2, "Bidirectional", bi, weights, {{seq}, {}, {}});
  check(g2->row_shape(br.outputs.nodes[0]) == Shape{5, 6} && !br.returns_list,
        "Bidirectional(LSTM(3), concat) gives (5, 6) rows");
  bool named = false;
  for (size_t n = 0; n < g2->size(); ++n) named = named || g2->name(int(n)) == "backward_lstm";
  check(named, "the backward layer is named backward_<name>, as Keras names it");
  check(throws_naming(
            [&] {
              build_layer(*g2, "Bidirectional",
                          json::parse(R"({"name": "b2", "layer": {"class_name": "Dense",
                                          "config": {"name": "d", "units": 2}}})"),
                          {}, {{seq}, {}, {}});
            },
            {"'b2'", "SimpleRNN, LSTM or GRU"}),
        "Bidirectional of a non-recurrent layer throws");
}

void test_registry() {
  check(has_layer_builder("Dense") && has_layer_builder("Conv2DTranspose") &&
            !has_layer_builder("Lambda"),
        "has_layer_builder: Dense and Conv2DTranspose yes, Lambda (Python code) no");
  check(layer_builder_names().size() >= 50, "layer_builder_names lists the built-in layers");
}

}  // namespace

int main() {
  test_dense_relu_matches_formula();
  test_batch_normalization_inference();
  test_permute_and_repeat_vector();
  test_embedding_reads_ids_and_makes_mask();
  test_conv_weight_specs();
  test_bad_configs_throw_naming_the_problem();
  test_wrappers_build_their_layers_from_the_nested_configs();
  test_registry();
  std::printf("%d failure(s)\n", ember::testing::failures);
  return ember::testing::failures == 0 ? 0 : 1;
}
