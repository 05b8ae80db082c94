// One-row predict latency of a model file loaded in C++ (issue 12's goal: <= 2 us for the
// 8 -> 50 -> 50 -> 1 MLP).
//
//   ember_bench_predict <model file> <input row .f32> <output .f32> [calls] [rounds]
//
// Loads the file, predicts the one row in <input row .f32> (row-major float32), writes the
// output to <output .f32> (the driver, benchmarks/bench_cpp_predict.py, compares it with
// Python's bits), then times `rounds` loops of `calls` predict() calls and prints each
// loop's mean nanoseconds per call, one per line, as JSON: {"ns_per_call": [...]}.
#include <ember/ember.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(values.size() * 4),
            reinterpret_cast<char*>(values.data()));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: ember_bench_predict <model> <row .f32> <output .f32> [calls] [rounds]\n";
    return 2;
  }
  try {
    const ember::LoadedModel model = ember::load_model(argv[1]);
    const std::vector<float> row = read_floats(argv[2]);
    const long calls = argc > 4 ? std::stol(argv[4]) : 200000;
    const int rounds = argc > 5 ? std::stoi(argv[5]) : 7;

    const std::vector<float> y = model.predict(row.data(), 1);
    std::ofstream(argv[3], std::ios::binary)
        .write(reinterpret_cast<const char*>(y.data()),
               static_cast<std::streamsize>(y.size() * sizeof(float)));

    float sink = 0.0f;  // keeps the calls from being optimised away
    for (long i = 0; i < calls / 10; ++i) sink += model.predict(row.data(), 1)[0];  // warm-up
    std::cout << "{\"ns_per_call\": [";
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < calls; ++i) sink += model.predict(row.data(), 1)[0];
      const auto t1 = std::chrono::steady_clock::now();
      const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
      std::cout << (r ? ", " : "") << ns / static_cast<double>(calls);
    }
    std::cout << "], \"sink\": " << sink << "}\n";
  } catch (const std::exception& e) {
    std::cerr << "ember_bench_predict: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
