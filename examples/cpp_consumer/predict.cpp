// Predicting in C++ from a model file that Python saved (ember, Keras 3 or Keras 2; .keras
// or .h5), with no Python:
//
//   ember_predict <model file>
//       loads it, prints its inputs and outputs, and predicts 4 rows of random inputs;
//   ember_predict <model file> <input 0 .f32> [<input 1 .f32> ...] <output prefix>
//       predicts the rows in the raw float32 files (row-major, one file per input) and
//       writes output i to <output prefix><i>.f32.
//
// CTest runs the first form on the model examples/demo.py saves (cpp/tests/data/
// demo_digits.keras), in the source tree and against the installed package;
// tests/test_cpp_load_model.py runs the second against Keras's and ember's predictions.
#include <ember/ember.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

std::string shape_text(const ember::Shape& shape) {
  std::string s = "(None";
  for (auto d : shape) s += ", " + std::to_string(d);
  return s + ")";
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw ember::IOError("cannot open " + path);
  const auto bytes = static_cast<size_t>(f.tellg());
  std::vector<float> v(bytes / sizeof(float));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!f || bytes % sizeof(float)) throw ember::IOError("cannot read " + path + " as float32");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc == 3) {
    std::fprintf(stderr, "usage: %s <model file> [<input .f32>... <output prefix>]\n", argv[0]);
    return 2;
  }
  try {
    const ember::LoadedModel model = ember::load_model(argv[1]);
    std::printf("model '%s'\n", model.name().c_str());
    for (size_t i = 0; i < model.num_inputs(); ++i) {
      std::printf("  input %zu '%s': %s\n", i, model.input_names()[i].c_str(),
                  shape_text(model.input_shape(i)).c_str());
    }
    for (size_t i = 0; i < model.num_outputs(); ++i) {
      std::printf("  output %zu '%s': %s\n", i, model.output_names()[i].c_str(),
                  shape_text(model.output_shape(i)).c_str());
    }
    std::vector<std::vector<float>> inputs;
    int64_t rows = 4;
    if (argc == 2) {
      std::mt19937 rng(0);
      std::uniform_real_distribution<float> u(0.0f, 1.0f);
      for (size_t i = 0; i < model.num_inputs(); ++i) {
        inputs.emplace_back(static_cast<size_t>(rows * ember::num_elements(model.input_shape(i))));
        for (float& v : inputs.back()) v = u(rng);
      }
    } else {
      if (static_cast<size_t>(argc - 3) != model.num_inputs()) {
        std::fprintf(stderr, "the model takes %zu inputs; %d files were given\n",
                     model.num_inputs(), argc - 3);
        return 2;
      }
      for (size_t i = 0; i < model.num_inputs(); ++i) {
        inputs.push_back(read_floats(argv[2 + i]));
        rows = static_cast<int64_t>(inputs.back().size()) / ember::num_elements(model.input_shape(i));
      }
    }
    std::vector<const float*> pointers;
    for (const auto& x : inputs) pointers.push_back(x.data());
    const auto outputs = model.predict(pointers, rows);
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (argc == 2) {
        const auto width = static_cast<size_t>(ember::num_elements(model.output_shape(o)));
        for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
          std::printf("  output %zu, row %zu:", o, r);
          for (size_t j = 0; j < std::min<size_t>(width, 10); ++j) {
            std::printf(" %.4f", outputs[o][r * width + j]);
          }
          std::printf("%s\n", width > 10 ? " ..." : "");
        }
      } else {
        const std::string path = std::string(argv[argc - 1]) + std::to_string(o) + ".f32";
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(outputs[o].data()),
                static_cast<std::streamsize>(outputs[o].size() * sizeof(float)));
        if (!f) throw ember::IOError("cannot write " + path);
      }
    }
  } catch (const ember::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
