// Model: compile, and the training, evaluation and prediction loops.
#include <mutex>
#include <optional>
#include <utility>

#include "bindings.h"

namespace ember::bindings {
namespace {

// One optional float32 array of per-sample weights per output; None: no weights.
using SampleWeights = std::optional<std::vector<std::optional<FloatArray>>>;

std::vector<ArrayView> sample_weight_views(const SampleWeights& weights) {
  std::vector<ArrayView> v;
  if (!weights) return v;
  for (const auto& w : *weights) v.push_back(w ? view_of(*w, "sample_weight") : ArrayView{});
  return v;
}

// The model's lock for a call made with the GIL held. Waiting for another thread's
// call (which runs without the GIL) happens with the GIL released, so that thread,
// and every other, goes on meanwhile; the Model's own methods take the same
// (recursive) lock again.
std::unique_lock<std::recursive_mutex> lock_model(const Model& model) {
  std::unique_lock<std::recursive_mutex> lock(model.mutex(), std::try_to_lock);
  if (!lock.owns_lock()) {
    py::gil_scoped_release release;
    lock.lock();
  }
  return lock;
}

// A member function called under lock_model.
template <typename R, typename... Args>
auto locked(R (Model::*method)(Args...)) {
  return [method](Model& model, Args... args) {
    const auto lock = lock_model(model);
    return (model.*method)(std::forward<Args>(args)...);
  };
}
template <typename R>
auto locked(R (Model::*method)() const) {
  return [method](const Model& model) {
    const auto lock = lock_model(model);
    return (model.*method)();
  };
}

// One (n, output row shape) array per output of the model, and their storage.
std::pair<std::vector<py::array_t<float>>, std::vector<float*>> output_arrays(Model& model,
                                                                              int64_t n) {
  std::vector<py::array_t<float>> outs;
  std::vector<float*> ptrs;
  for (int node : model.outputs()) {
    Shape shape{n};
    for (int64_t d : model.graph()->row_shape(node)) shape.push_back(d);
    outs.emplace_back(shape);
    ptrs.push_back(outs.back().mutable_data());
  }
  return {std::move(outs), std::move(ptrs)};
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def(py::init<std::shared_ptr<Graph>, std::vector<int>, std::vector<int>,
                    const std::vector<int>&>(),
           py::arg("graph"), py::arg("inputs"), py::arg("outputs"),
           py::arg("output_masks") = std::vector<int>{})
      .def(
          "compile",
          // metrics: (Metric, output index, weighted) - the Metric objects are shared, so
          // Python's metric objects see what training accumulates.
          [](Model& model, std::vector<LossSpec> losses, std::shared_ptr<Optimizer> optimizer,
             const std::vector<std::tuple<std::shared_ptr<Metric>, int, bool>>& metrics) {
            std::vector<MetricSpec> ms;
            for (const auto& [metric, output, weighted] : metrics)
              ms.emplace_back(metric, output, weighted);
            const auto lock = lock_model(model);
            model.compile(std::move(losses), std::move(optimizer), std::move(ms));
          },
          py::arg("losses"), py::arg("optimizer"), py::arg("metrics"))
      .def(
          "train_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> order,
             int64_t batch_size, int64_t begin, int64_t end, const SampleWeights& sample_weights) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            const auto wv = sample_weight_views(sample_weights);
            const int64_t* ord = nullptr;
            if (order) {
              if (order->size() != (xv.empty() ? 0 : xv[0].rows))
                throw ValueError("train_batches: order must list every sample once");
              ord = order->data();
            }
            py::gil_scoped_release release;
            model.train_batches(xv, yv, ord, batch_size, begin, end, wv);
          },
          py::arg("x"), py::arg("y"), py::arg("order"), py::arg("batch_size"), py::arg("begin"),
          py::arg("end"), py::arg("sample_weights") = py::none())
      .def(
          "test_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             int64_t batch_size, int64_t begin, int64_t end, const SampleWeights& sample_weights) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            const auto wv = sample_weight_views(sample_weights);
            py::gil_scoped_release release;
            model.test_batches(xv, yv, batch_size, begin, end, wv);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("begin"), py::arg("end"),
          py::arg("sample_weights") = py::none())
      .def(
          "predict",
          [](Model& model, const std::vector<FloatArray>& x, int64_t batch_size) {
            const auto xv = views_of(x, "x");
            const int64_t n = xv.empty() ? 0 : xv[0].rows;
            auto [outs, ptrs] = output_arrays(model, n);
            // Model::predict takes no model lock (predictions run side by side), so there
            // is no lock to wait for with the GIL held.
            if (n * 64 > (1 << 16)) {  // only worth releasing the GIL for real work
              py::gil_scoped_release release;
              model.predict(xv, batch_size, ptrs);
            } else {
              model.predict(xv, batch_size, ptrs);
            }
            return outs;
          },
          py::arg("x"), py::arg("batch_size"))
      .def(
          "forward_pass",
          [](Model& model, const std::vector<FloatArray>& x, bool training) {
            const auto xv = views_of(x, "x");
            auto [outs, ptrs] = output_arrays(model, xv.empty() ? 0 : xv[0].rows);
            const auto lock = lock_model(model);
            model.forward_pass(xv, training, ptrs);
            return outs;
          },
          py::arg("x"), py::arg("training"),
          "One forward pass over x as a single batch, in training or inference mode (Keras's "
          "`layer(x, training=True)`: dropout active, batch statistics used and the moving ones "
          "updated); returns the outputs.")
      .def("set_reducer", locked(&Model::set_reducer), py::arg("reducer"),
           "Data-parallel training (a Reducer, or None for one process): batch sizes become "
           "global, each rank trains on its shard, gradients and metrics are summed.")
      .def_property_readonly("reducer", &Model::reducer)
      // The collectives wait for the other ranks without the GIL, as train_batches does.
      .def(
          "broadcast_weights",
          [](Model& model) {
            const auto lock = lock_model(model);
            py::gil_scoped_release release;
            model.broadcast_weights();
          },
          "Copies rank 0's weights and optimizer state to every rank (a collective; a no-op "
          "without a reducer).")
      .def("metric_results",
           [](const Model& model) {
             const auto lock = lock_model(model);
             py::gil_scoped_release release;
             return model.metric_results();
           })
      .def("local_metric_results", locked(&Model::local_metric_results),
           "metric_results over this rank's samples alone: no collective (data parallelism).")
      .def("reset_metrics", locked(&Model::reset_metrics))
      .def("set_weight_penalty_graph", locked(&Model::set_weight_penalty_graph),
           py::arg("variable"), py::arg("graph"), py::arg("input"), py::arg("value"),
           "A regularizer of your own on `variable`, recorded as `graph` (its one row the "
           "variable's value at node `input`, the penalty at node `value`); from the next "
           "compile, each step adds the penalty and its gradient.")
      .def(
          "last_outputs",
          [](Model& model) {
            const auto lock = lock_model(model);
            auto [outs, ptrs] = output_arrays(model, model.last_batch_rows());
            model.copy_last_outputs(ptrs);
            return outs;
          },
          "The outputs of the last batch train_batches or test_batches ran (a copy): what "
          "metrics computed in Python per batch read.")
      .def("set_graph_loss", locked(&Model::set_graph_loss), py::arg("output"), py::arg("graph"),
           py::arg("prediction"), py::arg("target"), py::arg("value"),
           "Output `output`'s loss from a graph (a custom loss written with ember.ops).")
      .def("set_graph_metric", locked(&Model::set_graph_metric), py::arg("metric"),
           py::arg("graph"), py::arg("prediction"), py::arg("target"), py::arg("value"))
      .def("clear_graph_metrics", locked(&Model::clear_graph_metrics))
      .def_property_readonly("compiled", &Model::compiled)
      .def_property_readonly("variables", [](Model& model) {
        const auto lock = lock_model(model);
        return model.executor().variables();
      });
}

}  // namespace ember::bindings
