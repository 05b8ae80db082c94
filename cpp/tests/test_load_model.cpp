// ember::load_model on the fixtures in cpp/tests/data (make_fixtures.py): models saved by
// ember, Keras 3 and in Keras 2's layout predict what their writers predicted; weights load
// across writers; several threads predicting on one model get the serial results; and a
// config that cannot be built is an ember::Error naming the problem.
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "check.h"
#include "ember/ember.h"
#include "io/hdf5_image.h"
#include "io/model_builder.h"
#include "io/model_file.h"

using ember::testing::check;
namespace io = ember::io;

namespace {

std::string data;

struct Expected {
  std::vector<io::SavedArray> x, y;
};

Expected expected(const std::string& base) {
  const auto bytes = io::read_file_bytes(data + "/" + base + ".expected.h5");
  const auto root = io::Hdf5Image::open(bytes, base)->root();
  Expected e;
  for (int i = 0; root.has_dataset("x" + std::to_string(i)); ++i) e.x.push_back(root.dataset("x" + std::to_string(i)));
  for (int i = 0; root.has_dataset("y" + std::to_string(i)); ++i) e.y.push_back(root.dataset("y" + std::to_string(i)));
  return e;
}

std::vector<std::vector<float>> predict(const ember::LoadedModel& m, const Expected& e) {
  std::vector<const float*> xs;
  for (const auto& x : e.x) xs.push_back(x.values.data());
  return m.predict(xs, e.x[0].shape[0]);
}

double max_error(const std::vector<std::vector<float>>& got, const Expected& e) {
  if (got.size() != e.y.size()) return 1e30;
  double worst = 0;
  for (size_t o = 0; o < got.size(); ++o) {
    if (got[o].size() != e.y[o].values.size()) return 1e30;
    for (size_t i = 0; i < got[o].size(); ++i) {
      const double want = e.y[o].values[i];
      worst = std::max(worst, std::fabs(got[o][i] - want) / (1e-5 + 1e-5 * std::fabs(want)));
    }
  }
  return worst;  // <= 1: within atol 1e-5 + rtol 1e-5
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void test_predictions_match_the_writers() {
  for (const std::string writer : {"ember", "keras"}) {
    for (const std::string model : {"functional", "sequential", "two_in_two_out"}) {
      const std::string base = writer + "_" + model;
      const Expected e = expected(base);
      for (const std::string ext : {".keras", ".h5"}) {
        const auto m = ember::load_model(data + "/" + base + ext);
        check(m.num_inputs() == e.x.size() && m.num_outputs() == e.y.size(),
              base + ext + ": inputs and outputs");
        check(max_error(predict(m, e), e) <= 1.0, base + ext + ": predicts as " + writer + " did");
      }
      // The other writer's weights file, into this model.
      auto m = ember::load_model(data + "/" + base + ".keras");
      const std::string other = (writer == "ember" ? "keras_" : "ember_") + model;
      m.load_weights(data + "/" + other + ".weights.h5");
      check(max_error(predict(m, expected(other)), expected(other)) <= 1.0,
            base + ": load_weights(" + other + ".weights.h5) predicts as " + other);
      m.load_weights(data + "/" + base + ".h5");  // legacy weights, by layer name
      check(max_error(predict(m, e), e) <= 1.0, base + ": load_weights of its legacy .h5");
    }
  }
  for (const std::string kind : {"functional", "sequential"}) {
    const auto m = ember::load_model(data + "/keras2_" + kind + ".h5");
    const Expected e = expected("keras2_" + kind);
    check(max_error(predict(m, e), e) <= 1.0, "Keras 2 " + kind + " .h5 predicts as its float64 reference");
  }
}

void test_shapes_and_names() {
  const auto m = ember::load_model(data + "/keras_two_in_two_out.keras");
  check(m.input_shape(0) == ember::Shape{3} && m.input_shape(1) == ember::Shape{2} &&
            m.output_shape(1) == ember::Shape{2},
        "input and output shapes without the batch axis");
  check(m.input_names() == std::vector<std::string>{"a", "b"} &&
            m.output_names() == std::vector<std::string>{"first", "second"},
        "input and output names");
  check(has(error_of([&] { m.predict(nullptr, 3); }), "one input and one output"),
        "predict(x, rows) on a two-input model says to pass one pointer per input");
  check(has(error_of([&] { m.input_shape(2); }), "no input 2"), "input_shape out of range");
}

void test_threads_predict_as_serial_calls() {
  const auto m = ember::load_model(data + "/keras_functional.keras");
  std::mt19937 rng(7);
  const int64_t rows = 257;
  const auto x = ember::testing::random_vector(rng, rows * 6);
  const auto serial = m.predict(x.data(), rows);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) got[t] = m.predict(x.data(), rows);
    });
  }
  for (auto& t : threads) t.join();
  bool same = true;
  for (const auto& g : got) same = same && g == serial;
  check(same, "4 threads x 20 predictions on one model equal the serial result bit for bit");
}

// Loads `file` with its config changed by `edit`; the error's message.
std::string load_edited(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  auto file = io::read_model_file(io::read_file_bytes(data + "/" + name), name);
  edit(file.model_config);
  return error_of([&] { io::build_loaded_model(file); });
}

void test_configs_that_cannot_be_built() {
  const auto layers = [](nlohmann::json& c) -> nlohmann::json& { return c["config"]["layers"]; };
  check(has(load_edited("keras_functional.keras", [&](auto& c) { layers(c)[1]["class_name"] = "NoSuchLayer"; }),
            "'NoSuchLayer', which ember's C++ loader does not know"),
        "an unknown layer class");
  check(has(load_edited("keras_functional.keras", [&](auto& c) {
              layers(c)[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "dense_1";
            }),
            "loop"),
        "a cycle between two layers");
  check(has(load_edited("keras_functional.keras", [&](auto& c) {
              layers(c)[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "ghost";
            }),
            "a layer named 'ghost', which the model does not have"),
        "a reference to a layer that does not exist");
  check(has(load_edited("keras_functional.keras", [&](auto& c) { layers(c)[1]["config"]["units"] = 7; }),
            "has shape (6, 7) in the model, but the saved weight"),
        "a config whose weights do not fit the file's names both shapes");
  check(has(load_edited("keras_functional.keras", [&](auto& c) { layers(c)[1]["config"]["units"] = "five"; }),
            "units"),
        "a config value of the wrong type names the key");
  check(has(load_edited("keras_functional.keras", [&](auto& c) { c["config"]["layers"] = 12; }),
            "not a list"),
        "layers that are not a list");
  check(has(load_edited("keras2_sequential.h5", [&](auto& c) {
              layers(c)[0]["config"]["batch_input_shape"] = {nullptr, 1e12};
            }),
            "positive size"),
        "an absurd input shape");
  check(has(load_edited("keras_functional.keras", [&](auto& c) { layers(c)[2].erase("inbound_nodes"); }),
            "loop or a call on a tensor that never exists"),
        "a layer whose calls are missing leaves its readers unresolved");
  check(has(load_edited("keras_sequential.keras", [&](auto& c) { c["class_name"] = "Unknown"; }),
            "ember loads Sequential and Functional"),
        "an unknown model class");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fixture folder>\n", argv[0]);
    return 2;
  }
  data = argv[1];
  test_predictions_match_the_writers();
  test_shapes_and_names();
  test_threads_predict_as_serial_calls();
  test_configs_that_cannot_be_built();
  std::printf("%s\n", ember::testing::failures ? "FAILED" : "all passed");
  return ember::testing::failures ? 1 : 0;
}
