// Metric: Keras's stateful metrics, the objects behind ember.metrics' classes
// and the compiled metrics of a Model.
#include <optional>

#include "bindings.h"
#include "ember/metrics.h"

namespace ember::bindings {
namespace {

Metric make_metric(const std::string& kind, std::optional<float> threshold, int64_t k,
                   bool from_sorted_ids, std::vector<double> thresholds,
                   std::optional<int64_t> top_k, std::optional<int64_t> class_id,
                   int64_t num_thresholds, const std::string& curve,
                   const std::string& summation_method, bool multi_label,
                   std::optional<int64_t> num_labels, std::vector<double> label_weights,
                   bool from_logits, const std::optional<std::string>& average, double beta,
                   const std::optional<std::string>& class_aggregation, int64_t num_regressors,
                   double label_smoothing, double delta, std::optional<int64_t> ignore_class,
                   double value, int64_t num_classes, std::vector<int64_t> target_class_ids,
                   bool sparse_y_true, bool sparse_y_pred, bool integer_dtype,
                   bool apply_class_balancing, double alpha, double gamma) {
  MetricConfig c;
  c.kind = metric_from_name(kind);
  c.threshold = threshold;
  c.k = k;
  c.from_sorted_ids = from_sorted_ids;
  c.thresholds = std::move(thresholds);
  c.top_k = top_k;
  c.class_id = class_id;
  c.num_thresholds = num_thresholds;
  c.curve = auc_curve_from_name(curve);
  c.summation = auc_summation_from_name(summation_method);
  c.multi_label = multi_label;
  c.num_labels = num_labels;
  c.label_weights = std::move(label_weights);
  c.from_logits = from_logits;
  c.average = fscore_average_from_name(average);
  c.beta = beta;
  c.class_aggregation = r2_aggregation_from_name(class_aggregation);
  c.num_regressors = num_regressors;
  c.label_smoothing = label_smoothing;
  c.delta = delta;
  c.ignore_class = ignore_class;
  c.value = value;
  c.num_classes = num_classes;
  c.target_class_ids = std::move(target_class_ids);
  c.sparse_y_true = sparse_y_true;
  c.sparse_y_pred = sparse_y_pred;
  c.integer_dtype = integer_dtype;
  c.apply_class_balancing = apply_class_balancing;
  c.alpha = alpha;
  c.gamma = gamma;
  return Metric(std::move(c));
}

}  // namespace

void bind_metrics(py::module_& m) {
  py::class_<Metric, std::shared_ptr<Metric>>(
      m, "Metric",
      "A Keras metric's running state: update(y_pred, y_true, sample_weight) with y_pred of "
      "shape (rows, classes), result(), reset(). kind is the Keras class name in snake case.")
      .def(py::init(&make_metric), py::arg("kind"), py::kw_only(),
           py::arg("threshold") = py::none(), py::arg("k") = 5, py::arg("from_sorted_ids") = false,
           py::arg("thresholds") = std::vector<double>{}, py::arg("top_k") = py::none(),
           py::arg("class_id") = py::none(), py::arg("num_thresholds") = 200,
           py::arg("curve") = "ROC", py::arg("summation_method") = "interpolation",
           py::arg("multi_label") = false, py::arg("num_labels") = py::none(),
           py::arg("label_weights") = std::vector<double>{}, py::arg("from_logits") = false,
           py::arg("average") = py::none(), py::arg("beta") = 1.0,
           py::arg("class_aggregation") = "uniform_average", py::arg("num_regressors") = 0,
           py::arg("label_smoothing") = 0.0, py::arg("delta") = 1.0,
           py::arg("ignore_class") = py::none(), py::arg("value") = 0.0, py::arg("num_classes") = 0,
           py::arg("target_class_ids") = std::vector<int64_t>{}, py::arg("sparse_y_true") = true,
           py::arg("sparse_y_pred") = true, py::arg("integer_dtype") = true,
           py::arg("apply_class_balancing") = false, py::arg("alpha") = 0.25,
           py::arg("gamma") = 2.0)
      .def(
          "update",
          [](Metric& metric, const FloatArray& y_pred, const std::optional<FloatArray>& y_true,
             const std::optional<FloatArray>& sample_weight) {
            const Shape pred = shape_of(y_pred);
            const Shape target = y_true ? shape_of(*y_true) : Shape{};
            const Shape weight = sample_weight ? shape_of(*sample_weight) : Shape{};
            const int64_t weight_cols = metric.check_update_shapes(
                pred, y_true ? &target : nullptr, sample_weight ? &weight : nullptr);
            const int64_t rows = pred[0], cols = pred[1];
            const float* target_data = y_true ? y_true->data() : nullptr;
            const float* weights = sample_weight ? sample_weight->data() : nullptr;
            if (rows * cols > (1 << 16)) {
              py::gil_scoped_release release;
              metric.update(y_pred.data(), target_data, weights, rows, cols, weight_cols);
            } else {
              metric.update(y_pred.data(), target_data, weights, rows, cols, weight_cols);
            }
          },
          py::arg("y_pred"), py::arg("y_true") = py::none(), py::arg("sample_weight") = py::none())
      .def(
          "row_values",
          [](const Metric& metric, const FloatArray& y_pred, const FloatArray& y_true) {
            const Shape pred = shape_of(y_pred), target = shape_of(y_true);
            metric.check_update_shapes(pred, &target, nullptr);
            if (!metric.has_row_values())
              throw ValueError(std::string("metric ") + metric_name(metric.config().kind) +
                               " has no per-row values");
            if (pred[1] < 1) throw ValueError("y_pred must have a non-empty last axis");
            py::array_t<float> values(pred[0]);
            metric.row_values(y_pred.data(), y_true.data(), pred[0], pred[1],
                              values.mutable_data());
            return values;
          },
          py::arg("y_pred"), py::arg("y_true"),
          "The per-row values a mean-of-rows metric averages (its function form).")
      .def("state", &Metric::state)
      .def("set_state", &Metric::set_state, py::arg("state"))
      .def("result", &Metric::result)
      .def("reset", &Metric::reset)
      .def("variables", &Metric::variables)
      .def_property_readonly("vector_result", &Metric::vector_result)
      .def_property_readonly("sparse_targets", &Metric::sparse_targets)
      .def_property_readonly("thresholds", [](const Metric& x) { return x.config().thresholds; })
      .def_property_readonly("auc_thresholds", &Metric::auc_thresholds)
      .def_property_readonly("num_thresholds",
                             [](const Metric& x) { return x.config().num_thresholds; });
}

}  // namespace ember::bindings
