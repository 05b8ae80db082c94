// Free functions: losses on arrays (ember.losses and the tests use the engine's
// kernels through them), device queries.
#include <pybind11/operators.h>

#include <optional>
#include <string>

#include "bindings.h"
#include "ember/device.h"
#include "ember/losses.h"

namespace ember::bindings {
namespace {

std::string spec_repr(const LossSpec& s) {
  std::string r =
      std::string("LossSpec('") + loss_name(s.kind) + "', weight=" + std::to_string(s.weight) +
      ", reduction='" + reduction_name(s.reduction) +
      "', from_logits=" + (s.from_logits ? "True" : "False") +
      ", label_smoothing=" + std::to_string(s.label_smoothing) +
      ", delta=" + std::to_string(s.delta) +
      ", ignore_class=" + (s.ignore_class ? std::to_string(*s.ignore_class) : std::string("None")) +
      ", apply_class_balancing=" + (s.apply_class_balancing ? "True" : "False") +
      ", alpha=" + std::to_string(s.alpha) + ", gamma=" + std::to_string(s.gamma) +
      ", axis=" + std::to_string(s.axis) + ")";
  return r;
}

}  // namespace

void bind_functions(py::module_& m) {
  py::class_<LossSpec>(m, "LossSpec",
                       "A loss kind with its Keras arguments (validated) and its weight in "
                       "compile. reduction=None is Keras's None/'none'.")
      .def(py::init([](const std::string& name, float weight,
                       const std::optional<std::string>& reduction, bool from_logits,
                       double label_smoothing, double delta, std::optional<int64_t> ignore_class,
                       bool apply_class_balancing, double alpha, double gamma, int axis) {
             LossSpec s;
             s.kind = loss_from_name(name);
             s.weight = weight;
             s.reduction = reduction ? reduction_from_name(*reduction) : Reduction::None;
             s.from_logits = from_logits;
             s.label_smoothing = label_smoothing;
             s.delta = delta;
             s.ignore_class = ignore_class;
             s.apply_class_balancing = apply_class_balancing;
             s.alpha = alpha;
             s.gamma = gamma;
             s.axis = axis;
             validate_loss(s);
             return s;
           }),
           py::arg("name"), py::kw_only(), py::arg("weight") = 1.0f,
           py::arg("reduction") = "sum_over_batch_size", py::arg("from_logits") = false,
           py::arg("label_smoothing") = 0.0, py::arg("delta") = 1.0,
           py::arg("ignore_class") = py::none(), py::arg("apply_class_balancing") = false,
           py::arg("alpha") = 0.25, py::arg("gamma") = 2.0, py::arg("axis") = -1)
      .def_property_readonly("name", [](const LossSpec& s) { return loss_name(s.kind); })
      .def_property_readonly("takes_class_ids",
                             [](const LossSpec& s) { return loss_takes_class_ids(s.kind); })
      .def_property_readonly("reduction",
                             [](const LossSpec& s) -> std::optional<std::string> {
                               if (s.reduction == Reduction::None) return std::nullopt;
                               return reduction_name(s.reduction);
                             })
      .def_readonly("weight", &LossSpec::weight)
      .def_readonly("from_logits", &LossSpec::from_logits)
      .def_readonly("label_smoothing", &LossSpec::label_smoothing)
      .def_readonly("delta", &LossSpec::delta)
      .def_readonly("ignore_class", &LossSpec::ignore_class)
      .def_readonly("apply_class_balancing", &LossSpec::apply_class_balancing)
      .def_readonly("alpha", &LossSpec::alpha)
      .def_readonly("gamma", &LossSpec::gamma)
      .def_readonly("axis", &LossSpec::axis)
      .def(py::self == py::self)
      .def("__repr__", &spec_repr);

  m.def(
      "loss_forward_backward",
      [](const LossSpec& spec, const FloatArray& y_true, const FloatArray& y_pred,
         const std::optional<FloatArray>& sample_weight, bool gradient, bool per_sample) {
        const Shape weight_shape = sample_weight ? shape_of(*sample_weight) : Shape{};
        const auto [rows, cols] = loss_rows_cols(spec, shape_of(y_true), shape_of(y_pred),
                                                 sample_weight ? &weight_shape : nullptr);
        py::object grad = py::none(), values = py::none();
        float* dpred = nullptr;
        float* out = nullptr;
        if (gradient) {
          py::array_t<float> g(shape_of(y_pred));
          dpred = g.mutable_data();
          grad = std::move(g);
        }
        if (per_sample) {
          const Shape& full = shape_of(y_pred);
          py::array_t<float> v(Shape(full.begin(), full.end() - 1));
          out = v.mutable_data();
          values = std::move(v);
        }
        const double value = loss_forward_backward(spec, y_pred.data(), y_true.data(),
                                                   sample_weight ? sample_weight->data() : nullptr,
                                                   rows, cols, 1.0f, dpred, out);
        return py::make_tuple(value, grad, values);
      },
      py::arg("spec"), py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(),
      py::arg("gradient") = false, py::arg("per_sample") = false,
      "The engine's loss kernel on arrays whose last axis is the class/feature axis: "
      "(value reduced as spec.reduction says - their sum for None, d value/d y_pred or None, "
      "per-sample values or None). sample_weight: one per sample.");
  m.def("cuda_built", &device::cuda_built);
  m.def("cuda_device_count", &device::cuda_device_count);
  m.def("cpu_instruction_set", &device::cpu_instruction_set);
}

}  // namespace ember::bindings
