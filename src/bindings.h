// Shared by the binding files of ember._core: array conversion helpers and
// the per-area registration functions. Bindings convert arguments and nothing
// else; arrays come in as C-contiguous float32 and are read in place.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "ember/error.h"
#include "ember/model.h"
#include "ember/tensor.h"

namespace ember::bindings {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

inline Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

inline ArrayView view_of(const FloatArray& a, const char* what) {
  if (a.ndim() < 1) throw ValueError(std::string(what) + " must have a batch axis, got a scalar");
  const int64_t rows = a.shape(0);
  return {a.data(), rows, rows ? static_cast<int64_t>(a.size()) / rows : 0};
}

inline std::vector<ArrayView> views_of(const std::vector<FloatArray>& arrays, const char* what) {
  std::vector<ArrayView> v;
  v.reserve(arrays.size());
  for (const auto& a : arrays) v.push_back(view_of(a, what));
  return v;
}

inline py::array_t<float> to_numpy(const Tensor& t) {
  py::array_t<float> out(t.shape());
  std::memcpy(out.mutable_data(), t.data(), static_cast<size_t>(t.size()) * sizeof(float));
  return out;
}

// Copies a (same-shaped) array into a tensor's existing storage: executors and
// optimizers hold its address, so it must never be reallocated.
inline void copy_into(Tensor& t, const FloatArray& a, const std::string& what) {
  if (shape_of(a) != t.shape())
    throw ValueError("cannot assign a value of shape " + shape_to_string(shape_of(a)) + " to " +
                     what + " of shape " + shape_to_string(t.shape()));
  std::memcpy(t.data(), a.data(), static_cast<size_t>(t.size()) * sizeof(float));
}

void bind_graph(py::module_& m);       // Variable, Graph and its ops
void bind_optimizers(py::module_& m);  // Optimizer and its kinds
void bind_model(py::module_& m);       // Model: compile, train, test, predict
void bind_reducer(py::module_& m);     // Reducer, MpiReducer: data parallelism (issue 16)
void bind_functions(py::module_& m);   // free functions: losses, devices
void bind_layers(py::module_& m);      // normalization, regularization, reshaping
void bind_merging(py::module_& m);     // merge ops: Add, ..., Concatenate
void bind_metrics(py::module_& m);     // Metric: Keras's stateful metrics
void bind_math(py::module_& m);        // ember.ops' general math ops
void bind_pooling(py::module_& m);     // pooling and shape ops (issue 11)
// sequences (issue 11)
void bind_embedding(py::module_& m);  // Embedding, casts, masks
void bind_recurrent(py::module_& m);  // recurrent layers (issue 11)
// convolution (issue 11)
void bind_conv(py::module_& m);  // the convolution op
void bind_builders(py::module_& m);  // build_layer: Keras configs to ops (issue 12)
// EinsumDense and score attention (issue 17)
void bind_attention(py::module_& m);

}  // namespace ember::bindings
