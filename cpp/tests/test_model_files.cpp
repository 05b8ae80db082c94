// Reading model files (cpp/src/io/model_file.h): the layouts ember, Keras 3 and Keras 2
// write, from the fixtures in cpp/tests/data (make_fixtures.py), and the typed errors a
// damaged file gets. Run with the fixture folder as its argument.
#include <cstring>
#include <functional>
#include <string>

#include "check.h"
#include "ember/error.h"
#include "io/model_file.h"

using ember::testing::check;
namespace io = ember::io;

namespace {

std::string data;  // the fixture folder

io::ModelFile model_file(const std::string& name) {
  const auto path = data + "/" + name;
  return io::read_model_file(io::read_file_bytes(path), path);
}

io::ModelFile weights_file(const std::string& name) {
  const auto path = data + "/" + name;
  return io::read_weights_file(io::read_file_bytes(path), path);
}

std::string shapes(const std::vector<io::SavedArray>& arrays) {
  std::string s;
  for (const auto& a : arrays) s += io::shape_string(a.shape);
  return s;
}

// The error a load throws, as "<type>: <message>"; "" when it throws none.
template <class F>
std::string error_of(F&& load) {
  try {
    load();
  } catch (const ember::IOError& e) {
    return std::string("IOError: ") + e.what();
  } catch (const ember::ValueError& e) {
    return std::string("ValueError: ") + e.what();
  } catch (const ember::TypeError& e) {
    return std::string("TypeError: ") + e.what();
  }
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void test_keras3_layout(const std::string& writer) {
  const auto file = model_file(writer + "_functional.keras");
  check(file.model_config["class_name"] == "Functional",
        writer + " .keras: its config.json is the Functional model's");
  check(file.compile_config.is_object() && file.compile_config.contains("optimizer"),
        writer + " .keras: the compile config is read");
  const auto* layers = file.weights.child("layers");
  check(layers != nullptr, writer + " .keras: the weights have a layers/ group");
  if (!layers) return;
  const auto* dense = layers->child("dense");
  const auto* bn = layers->child("batch_normalization");
  check(dense && shapes(dense->vars) == "(6, 5)(5,)", writer + " .keras: dense's kernel and bias");
  check(bn && shapes(bn->vars) == "(5,)(5,)(5,)(5,)", writer + " .keras: the 4 BN variables");
  check(dense && dense->vars[0].path == "layers/dense/vars/0", writer + " .keras: array paths");
  const auto* opt = file.weights.child("optimizer");
  check(opt && opt->vars.size() == 14, writer + " .keras: Adam's 14 variables");

  const auto weights = weights_file(writer + "_functional.weights.h5");
  check(weights.layout == io::ModelFile::Layout::kKeras3 && weights.model_config.is_null(),
        writer + " .weights.h5: Keras 3 layout, no config");
  const auto* wl = weights.weights.child("layers");
  check(wl && wl->child("dense_1") && shapes(wl->child("dense_1")->vars) == "(5, 2)(2,)",
        writer + " .weights.h5: dense_1's variables");
  if (wl && dense && wl->child("dense")) {
    check(wl->child("dense")->vars[0].values == dense->vars[0].values,
          writer + " .weights.h5 holds the .keras file's values");
  }
}

void test_legacy_layout(const std::string& writer) {
  const auto file = model_file(writer + "_sequential.h5");
  check(file.layout == io::ModelFile::Layout::kLegacy, writer + " .h5: legacy layout");
  check(file.model_config["class_name"] == "Sequential", writer + " .h5: model_config");
  check(file.compile_config.contains("optimizer_config"), writer + " .h5: training_config");
  check(file.legacy.size() == 2 && shapes(file.legacy[0].values) == "(4, 3)(3,)" &&
            shapes(file.legacy[1].values) == "(3, 1)(1,)",
        writer + " .h5: the layers' weights by layer_names");
  check(!file.legacy_optimizer.empty(), writer + " .h5: optimizer_weights");
  const auto weights = weights_file(writer + "_sequential.h5");
  check(weights.legacy.size() == 2 && weights.model_config.is_null(),
        writer + " .h5 read as weights only");
}

void test_keras2_layout() {
  const auto file = model_file("keras2_functional.h5");
  check(file.keras_version == "2.9.0", "Keras 2 .h5: keras_version");
  check(file.model_config["config"]["input_layers"][0][0] == "input_1",
        "Keras 2 .h5: nested-list topology");
  std::string names;
  for (const auto& layer : file.legacy) {
    for (const auto& w : layer.weight_names) names += w + " ";
  }
  check(names == "dense/kernel:0 dense/bias:0 dense_1/kernel:0 dense_2/kernel:0 dense_2/bias:0 ",
        "Keras 2 .h5: weight names with ':0', in layer order (got " + names + ")");
  check(file.legacy_optimizer.size() == 11, "Keras 2 .h5: iter, then m and v of 5 weights");
}

void test_damaged_files_throw_typed_errors() {
  const auto bytes = io::read_file_bytes(data + "/keras_functional.keras");
  auto load = [](std::vector<char> b) {
    return [b = std::move(b)] {
      io::read_model_file(std::make_shared<const std::vector<char>>(b), "damaged");
    };
  };
  check(has(error_of(load({})), "IOError: Cannot read 'damaged' as a model"), "empty file");
  check(has(error_of(load(std::vector<char>(bytes->begin(), bytes->begin() + 1000))),
            "not a readable zip archive"),
        "a truncated .keras file");
  const auto h5 = io::read_file_bytes(data + "/keras_functional.h5");
  check(has(error_of(load(std::vector<char>(h5->begin(), h5->begin() + 3000))), "IOError"),
        "a truncated .h5 file");
  check(has(error_of([&] { io::read_file_bytes(data + "/no_such_file.keras"); }),
            "No such file"),
        "a missing file names the system's reason");
  check(has(error_of([&] { io::read_file_bytes(data); }), "is a folder"), "a folder");
  check(has(error_of([] { io::parse_json("{\"a\": [1, 2", "config.json"); }),
            "ValueError: config.json is not valid JSON"),
        "bad JSON");
  check(has(error_of([] { io::parse_json(std::string(100, '[') + std::string(100, ']'), "c"); }),
            "nests deeper than"),
        "JSON nested 100 deep");
  check(has(error_of([&] {
              io::read_weights_file(io::read_file_bytes(data + "/keras_functional.keras"), "k");
            }),
            "not an HDF5 file"),
        "a .keras file given as weights");
  check(has(error_of([&] { model_file("keras_functional.weights.h5"); }),
            "No model config found"),
        "a weights file given as a model");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fixture folder>\n", argv[0]);
    return 2;
  }
  data = argv[1];
  for (const std::string writer : {"ember", "keras"}) {
    test_keras3_layout(writer);
    test_legacy_layout(writer);
  }
  test_keras2_layout();
  test_damaged_files_throw_typed_errors();
  std::printf("%s\n", ember::testing::failures ? "FAILED" : "all passed");
  return ember::testing::failures ? 1 : 0;
}
