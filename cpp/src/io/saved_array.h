// A weight as a model file stores it: its shape and its values as float32, with the
// path it came from (for messages).
#pragma once
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember::io {

struct SavedArray {
  std::string path;  // inside the file, e.g. "layers/dense/vars/0"
  Shape shape;       // () for a scalar
  std::vector<float> values;
};

// "(6, 5)", as Keras prints shapes.
std::string shape_string(const Shape& shape);

}  // namespace ember::io
