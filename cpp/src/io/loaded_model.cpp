// LoadedModel's predictions and shapes: engine calls only, no file code (built with or
// without the model-file loader's libraries).
#include "ember/error.h"
#include "ember/load_model.h"
#include "ember/model.h"

namespace ember {

namespace {

const Shape& shape_at(const std::vector<Shape>& shapes, size_t i, const char* what) {
  if (i >= shapes.size()) {
    throw ValueError(std::string("The model has ") + std::to_string(shapes.size()) + " " + what +
                     "s; there is no " + what + " " + std::to_string(i) + ".");
  }
  return shapes[i];
}

}  // namespace

const Shape& LoadedModel::input_shape(size_t i) const {
  return shape_at(input_shapes_, i, "input");
}

const Shape& LoadedModel::output_shape(size_t i) const {
  return shape_at(output_shapes_, i, "output");
}

std::vector<float> LoadedModel::predict(const float* x, int64_t rows, int64_t batch_size) const {
  if (num_inputs() != 1 || num_outputs() != 1) {
    throw ValueError("predict(x, rows) is for a model of one input and one output; '" + name_ +
                     "' has " + std::to_string(num_inputs()) + " inputs and " +
                     std::to_string(num_outputs()) + " outputs: pass one pointer per input.");
  }
  return std::move(predict(std::vector<const float*>{x}, rows, batch_size).front());
}

std::vector<std::vector<float>> LoadedModel::predict(const std::vector<const float*>& inputs,
                                                     int64_t rows, int64_t batch_size) const {
  if (!model_) throw ValueError("predict() on a LoadedModel that holds no model.");
  if (inputs.size() != num_inputs()) {
    throw ValueError("'" + name_ + "' takes " + std::to_string(num_inputs()) +
                     " inputs; predict() was given " + std::to_string(inputs.size()) + ".");
  }
  if (rows < 0) throw ValueError("predict(): rows must be >= 0, got " + std::to_string(rows));
  if (batch_size < 1) {
    throw ValueError("predict(): batch_size must be >= 1, got " + std::to_string(batch_size));
  }
  std::vector<ArrayView> views;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i] && rows > 0) {
      throw ValueError("predict(): input " + std::to_string(i) + " is a null pointer.");
    }
    views.push_back({inputs[i], rows, num_elements(input_shapes_[i])});
  }
  std::vector<std::vector<float>> outputs;
  std::vector<float*> out;
  for (const auto& shape : output_shapes_) {
    outputs.emplace_back(static_cast<size_t>(rows * num_elements(shape)));
    out.push_back(outputs.back().data());
  }
  if (rows > 0) model_->predict(views, batch_size, out);
  return outputs;
}

}  // namespace ember
