// ember._core: the engine as Python sees it. Thin by design - argument
// conversion and nothing else. Arrays come in as C-contiguous float32 (the
// Python layer converts once per fit, not per call) and are read in place.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "ember/device.h"
#include "ember/error.h"
#include "ember/losses.h"
#include "ember/metrics.h"
#include "ember/model.h"
#include "ember/ops.h"
#include "ember/optimizers.h"

namespace py = pybind11;
using namespace ember;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

ArrayView view_of(const FloatArray& a, const char* what) {
  if (a.ndim() < 1) throw ValueError(std::string(what) + " must have a batch axis, got a scalar");
  const int64_t rows = a.shape(0);
  return {a.data(), rows, rows ? static_cast<int64_t>(a.size()) / rows : 0};
}

std::vector<ArrayView> views_of(const std::vector<FloatArray>& arrays, const char* what) {
  std::vector<ArrayView> v;
  v.reserve(arrays.size());
  for (const auto& a : arrays) v.push_back(view_of(a, what));
  return v;
}

py::array_t<float> to_numpy(const Tensor& t) {
  py::array_t<float> out(t.shape());
  std::memcpy(out.mutable_data(), t.data(), static_cast<size_t>(t.size()) * sizeof(float));
  return out;
}

void assign(Variable& v, const FloatArray& a) {
  if (shape_of(a) != v.value.shape())
    throw ValueError("cannot assign a value of shape " + shape_to_string(shape_of(a)) +
                     " to variable '" + v.name + "' of shape " + shape_to_string(v.value.shape()));
  // Copy into the existing storage: executors and optimizers hold its address.
  std::memcpy(v.value.data(), a.data(), static_cast<size_t>(v.value.size()) * sizeof(float));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "ember's C++ engine";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const IOError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  py::class_<Variable, std::shared_ptr<Variable>>(m, "Variable")
      .def(py::init([](std::string name, const FloatArray& value, bool trainable) {
             return std::make_shared<Variable>(std::move(name),
                                               Tensor(shape_of(value), value.data()), trainable);
           }),
           py::arg("name"), py::arg("value"), py::arg("trainable") = true)
      .def_readonly("name", &Variable::name)
      .def_readwrite("trainable", &Variable::trainable)
      .def_property_readonly("shape",
                             [](const Variable& v) { return py::tuple(py::cast(v.value.shape())); })
      .def(
          "numpy", [](const Variable& v) { return to_numpy(v.value); }, "A copy of the value.")
      .def("assign", &assign, py::arg("value"), "Copies value (same shape) into the variable.");

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def(py::init<>())
      .def("add_input", &Graph::add_input, py::arg("row_shape"), py::arg("name"))
      .def(
          "add_dense",
          [](Graph& g, int input, std::shared_ptr<Variable> kernel, std::shared_ptr<Variable> bias,
             const std::string& activation, std::string name) {
            return g.add_node(std::make_shared<DenseOp>(std::move(kernel), std::move(bias),
                                                        activation_from_name(activation)),
                              {input}, std::move(name));
          },
          py::arg("input"), py::arg("kernel"), py::arg("bias"), py::arg("activation"),
          py::arg("name"))
      .def(
          "add_activation",
          [](Graph& g, int input, const std::string& activation, std::string name) {
            return g.add_node(std::make_shared<ActivationOp>(activation_from_name(activation)),
                              {input}, std::move(name));
          },
          py::arg("input"), py::arg("activation"), py::arg("name"))
      .def("row_shape", [](const Graph& g, int node) { return g.row_shape(node); })
      .def("__len__", &Graph::size);

  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def_property_readonly("name", &Optimizer::name)
      .def("slot_names", &Optimizer::slot_names)
      .def("slots", [](Optimizer& o) {
        std::vector<std::vector<py::array_t<float>>> out;
        for (const auto& per_var : o.slots()) {
          out.emplace_back();
          for (const Tensor& t : per_var) out.back().push_back(to_numpy(t));
        }
        return out;
      });
  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "SGD")
      .def(py::init<float, float, bool>(), py::arg("learning_rate"), py::arg("momentum"),
           py::arg("nesterov"))
      .def_readwrite("momentum", &SGD::momentum)
      .def_readwrite("nesterov", &SGD::nesterov);
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "Adam")
      .def(py::init<float, float, float, float, bool>(), py::arg("learning_rate"),
           py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"), py::arg("amsgrad"))
      .def_readwrite("beta_1", &Adam::beta_1)
      .def_readwrite("beta_2", &Adam::beta_2)
      .def_readwrite("epsilon", &Adam::epsilon);
  py::class_<RMSprop, Optimizer, std::shared_ptr<RMSprop>>(m, "RMSprop")
      .def(py::init<float, float, float, float, bool>(), py::arg("learning_rate"), py::arg("rho"),
           py::arg("momentum"), py::arg("epsilon"), py::arg("centered"))
      .def_readwrite("rho", &RMSprop::rho)
      .def_readwrite("momentum", &RMSprop::momentum)
      .def_readwrite("epsilon", &RMSprop::epsilon);

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def(py::init<std::shared_ptr<Graph>, std::vector<int>, std::vector<int>>(), py::arg("graph"),
           py::arg("inputs"), py::arg("outputs"))
      .def(
          "compile",
          [](Model& model, const std::vector<std::pair<std::string, float>>& losses,
             std::shared_ptr<Optimizer> optimizer,
             const std::vector<std::tuple<std::string, int, float>>& metrics) {
            std::vector<LossSpec> ls;
            for (const auto& [name, weight] : losses) ls.push_back({loss_from_name(name), weight});
            std::vector<MetricSpec> ms;
            for (const auto& [name, output, threshold] : metrics)
              ms.push_back({metric_from_name(name), output, threshold});
            model.compile(std::move(ls), std::move(optimizer), std::move(ms));
          },
          py::arg("losses"), py::arg("optimizer"), py::arg("metrics"))
      .def(
          "train_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> order,
             int64_t batch_size, int64_t begin, int64_t end) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            const int64_t* ord = nullptr;
            if (order) {
              if (order->size() != (xv.empty() ? 0 : xv[0].rows))
                throw ValueError("train_batches: order must list every sample once");
              ord = order->data();
            }
            py::gil_scoped_release release;
            model.train_batches(xv, yv, ord, batch_size, begin, end);
          },
          py::arg("x"), py::arg("y"), py::arg("order"), py::arg("batch_size"), py::arg("begin"),
          py::arg("end"))
      .def(
          "test_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             int64_t batch_size, int64_t begin, int64_t end) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            py::gil_scoped_release release;
            model.test_batches(xv, yv, batch_size, begin, end);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("begin"), py::arg("end"))
      .def(
          "predict",
          [](Model& model, const std::vector<FloatArray>& x, int64_t batch_size) {
            const auto xv = views_of(x, "x");
            const int64_t n = xv.empty() ? 0 : xv[0].rows;
            const Graph& g = *model.graph();
            std::vector<py::array_t<float>> outs;
            std::vector<float*> ptrs;
            for (int node : model.executor().outputs()) {
              Shape shape{n};
              for (int64_t d : g.row_shape(node)) shape.push_back(d);
              outs.emplace_back(shape);
              ptrs.push_back(outs.back().mutable_data());
            }
            if (n * 64 > (1 << 16)) {  // only worth releasing the GIL for real work
              py::gil_scoped_release release;
              model.predict(xv, batch_size, ptrs);
            } else {
              model.predict(xv, batch_size, ptrs);
            }
            return outs;
          },
          py::arg("x"), py::arg("batch_size"))
      .def("metric_results", &Model::metric_results)
      .def("reset_metrics", &Model::reset_metrics)
      .def_property_readonly("compiled", &Model::compiled)
      .def_property_readonly("variables",
                             [](Model& model) { return model.executor().variables(); });

  m.def(
      "loss_value",
      [](const std::string& name, const FloatArray& y_true, const FloatArray& y_pred) {
        const LossKind kind = loss_from_name(name);
        const int64_t cols = y_pred.ndim() ? y_pred.shape(y_pred.ndim() - 1) : 1;
        const int64_t samples = cols ? y_pred.size() / cols : 0;
        const int64_t need =
            kind == LossKind::SparseCategoricalCrossentropy ? samples : y_pred.size();
        if (y_true.size() != need)
          throw ValueError(std::string(loss_name(kind)) + ": y_true has " +
                           std::to_string(y_true.size()) + " values, expected " +
                           std::to_string(need));
        return loss_forward_backward(kind, y_pred.data(), y_true.data(), samples, cols, 1.0f,
                                     nullptr) /
               static_cast<double>(samples ? samples : 1);
      },
      py::arg("name"), py::arg("y_true"), py::arg("y_pred"),
      "The mean over samples of a loss (sum_over_batch_size), in double.");
  m.def("cuda_built", &device::cuda_built);
  m.def("cuda_device_count", &device::cuda_device_count);
}
