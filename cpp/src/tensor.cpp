#include "ember/tensor.h"

#include <algorithm>

#include "ember/error.h"

namespace ember {

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw ValueError("negative dimension in shape " + shape_to_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string batched_shape_to_string(const Shape& row) {
  std::string s = "(None";
  for (int64_t d : row) s += ", " + std::to_string(d);
  return s + ")";
}

Tensor::Tensor(Shape shape, float fill)
    : shape_(std::move(shape)), data_(static_cast<size_t>(num_elements(shape_)), fill) {}

Tensor::Tensor(Shape shape, const float* values) : Tensor(std::move(shape)) {
  std::copy(values, values + data_.size(), data_.begin());
}

void Tensor::fill(float value) { std::fill(data_.begin(), data_.end(), value); }

}  // namespace ember
