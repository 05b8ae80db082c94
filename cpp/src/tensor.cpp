#include "ember/tensor.h"

#include <algorithm>

#include "ember/backend.h"
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

Tensor::Tensor(Shape shape, float fill_value, Device device)
    : shape_(std::move(shape)), data_(num_elements(shape_), device) {
  if (fill_value != 0.0f) fill(fill_value);  // the buffer starts zeroed
}

Tensor::Tensor(Shape shape, const float* host_values, Device device)
    : Tensor(std::move(shape), 0.0f, device) {
  copy_from_host(host_values);
}

void Tensor::fill(float value) {
  Backend& b = backend_for(device());
  b.fill(b.context(), data_.data(), data_.size(), value);
}

void Tensor::copy_from_host(const float* host) {
  Backend& b = backend_for(device());
  b.copy_from_host(b.context(), data_.data(), host, data_.bytes());
}

void Tensor::copy_to_host(float* host) const {
  Backend& b = backend_for(device());
  b.copy_to_host(b.context(), host, data_.data(), data_.bytes());
}

}  // namespace ember
