// Free functions: losses on arrays (ember.losses and the tests use the engine's
// kernels through them), device queries.
#include <pybind11/operators.h>

#include <optional>
#include <string>
#include <vector>

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
      ", axis=" + std::to_string(s.axis) + ", beta=" + std::to_string(s.beta) +
      ", q=" + std::to_string(s.q) + ", margin=" + std::to_string(s.margin) +
      ", remove_diagonal=" + (s.remove_diagonal ? "True" : "False") +
      ", rows_per_value=" + std::to_string(s.rows_per_value) +
      ", target_width=" + std::to_string(s.target_width) + ")";
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
                       bool apply_class_balancing, double alpha, double gamma, int axis,
                       double beta, double q, double margin, bool remove_diagonal,
                       int64_t rows_per_value, int64_t target_width) {
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
             s.beta = beta;
             s.q = q;
             s.margin = margin;
             s.remove_diagonal = remove_diagonal;
             s.rows_per_value = rows_per_value;
             s.target_width = target_width;
             validate_loss(s);
             return s;
           }),
           py::arg("name"), py::kw_only(), py::arg("weight") = 1.0f,
           py::arg("reduction") = "sum_over_batch_size", py::arg("from_logits") = false,
           py::arg("label_smoothing") = 0.0, py::arg("delta") = 1.0,
           py::arg("ignore_class") = py::none(), py::arg("apply_class_balancing") = false,
           py::arg("alpha") = 0.25, py::arg("gamma") = 2.0, py::arg("axis") = -1,
           py::arg("beta") = 0.5, py::arg("q") = 0.5, py::arg("margin") = 0.4,
           py::arg("remove_diagonal") = true, py::arg("rows_per_value") = 1,
           py::arg("target_width") = 0)
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
      .def_readonly("beta", &LossSpec::beta)
      .def_readonly("q", &LossSpec::q)
      .def_readonly("margin", &LossSpec::margin)
      .def_readonly("remove_diagonal", &LossSpec::remove_diagonal)
      .def_readonly("rows_per_value", &LossSpec::rows_per_value)
      .def_readonly("target_width", &LossSpec::target_width)
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
        // The kernels take one weight per row; CTC's rows are a sample's time steps, and
        // its spec's rows_per_value and target_width come from the arrays here.
        LossSpec run = spec;
        const float* weights = sample_weight ? sample_weight->data() : nullptr;
        std::vector<float> spread;
        const Shape pred_shape = shape_of(y_pred);
        Shape values_shape(pred_shape.begin(), pred_shape.end() - 1);
        if (spec.kind == LossKind::CTC) {
          run.rows_per_value = pred_shape[1];
          run.target_width = shape_of(y_true)[1];
          values_shape = {pred_shape[0]};
          if (weights && run.rows_per_value > 0) {
            for (int64_t r = 0; r < rows; ++r) spread.push_back(weights[r / run.rows_per_value]);
            weights = spread.data();
          }
        } else if ((spec.kind == LossKind::Dice || spec.kind == LossKind::Tversky) &&
                   spec.rows_per_value != 1) {
          values_shape = {spec.rows_per_value == 0 ? 1 : rows / spec.rows_per_value};
        }
        if (per_sample) {
          py::array_t<float> v(values_shape);
          out = v.mutable_data();
          values = std::move(v);
        }
        double value = 0.0;
        {
          py::gil_scoped_release release;
          value = loss_forward_backward(run, y_pred.data(), y_true.data(), weights, rows, cols,
                                        1.0f, dpred, out);
        }
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
