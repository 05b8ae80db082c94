// Loading the model files Python users save - `.keras` and legacy `.h5`, written by ember,
// Keras 3 or Keras 2 (tf.keras) - and predicting from them in C++, with no Python:
//
//   #include <ember/ember.h>
//   ember::LoadedModel model = ember::load_model("model.keras");
//   std::vector<float> y = model.predict(x.data(), rows);  // one input, one output
//
// Files are read with HDF5's C library, libzip and nlohmann-json (the library ember_io,
// part of the package's ember::ember). A damaged, truncated or hostile file throws an
// ember::Error (IOError, ValueError or TypeError) naming the file and what is wrong in it;
// the sizes a file claims are checked before anything is allocated for them.
//
// Thread safety: a LoadedModel's predict() may be called from several threads at once
// (each call runs on an inference executor of its own over shared, read-only weights;
// see ember::Model). load_weights() waits for running predictions and changes the
// weights between them. Nothing here keeps global state.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember {

class Model;

class LoadedModel {
 public:
  // Rows of one float32 input, row-major: rows x (product of input_shape(0)) values. An
  // integer input (token ids for an Embedding) takes its values as floats too (12.0f).
  // Returns the single output, rows x (product of output_shape(0)) values. The model must
  // have one input and one output (else ValueError: use the overload below).
  // Rows go through the engine batch_size at a time (Keras's default: 32), as Python's
  // model.predict(x) runs them, so that both give the same bits.
  std::vector<float> predict(const float* x, int64_t rows, int64_t batch_size = 32) const;
  // Several inputs (one pointer per input, in the model's input order) and outputs.
  std::vector<std::vector<float>> predict(const std::vector<const float*>& inputs, int64_t rows,
                                          int64_t batch_size = 32) const;

  size_t num_inputs() const { return input_shapes_.size(); }
  size_t num_outputs() const { return output_shapes_.size(); }
  // Shapes without the batch axis, as Keras's model.inputs[i].shape[1:].
  const Shape& input_shape(size_t i) const;
  const Shape& output_shape(size_t i) const;
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const std::string& name() const { return name_; }

  // Replaces the weights with those of a `.weights.h5` (or a legacy `.h5`) file saved from
  // a model of the same architecture. Nothing changes unless every weight fits.
  void load_weights(const std::string& path);

  // The engine model (compile, train, evaluate: see ember/model.h).
  Model& model() const { return *model_; }

 private:
  friend struct LoadedModelAccess;
  std::shared_ptr<Model> model_;
  std::vector<Shape> input_shapes_, output_shapes_;
  std::vector<std::string> input_names_, output_names_;
  std::string name_;
  // What load_weights() needs to map a file's weights onto the model: the layers with
  // their variables, in the order and under the keys Keras saves them (opaque here).
  std::shared_ptr<const void> layout_;
};

// Loads a `.keras` or `.h5` model file (told apart by its first bytes, not its name).
LoadedModel load_model(const std::string& path);
// The same from bytes in memory (`source` names them in messages).
LoadedModel load_model_from_memory(const void* data, size_t size,
                                   const std::string& source = "<memory>");

}  // namespace ember
