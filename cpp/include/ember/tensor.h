// Tensor: a contiguous, row-major float32 array that owns its storage on one
// device (a Buffer).
// Shapes of batched values are (batch, features...); the graph keeps shapes
// without the batch axis and a row count beside them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/buffer.h"

namespace ember {

using Shape = std::vector<int64_t>;

int64_t num_elements(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "(None, 5)" style without None
// A batch of rows of this shape as Keras prints it: "(None, 3, 4)".
std::string batched_shape_to_string(const Shape& row);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f, Device device = Device::cpu());
  // Copies num_elements(shape) values from host memory.
  Tensor(Shape shape, const float* host_values, Device device = Device::cpu());

  const Shape& shape() const { return shape_; }
  int64_t size() const { return data_.size(); }
  Device device() const { return data_.device(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  void fill(float value);
  // Host transfers: n = size() values.
  void copy_from_host(const float* host);
  void copy_to_host(float* host) const;

 private:
  Shape shape_;
  Buffer<float> data_;
};

}  // namespace ember
