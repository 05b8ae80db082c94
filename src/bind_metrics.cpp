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
                   const std::optional<std::string>& class_aggregation, int64_t num_regressors) {
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
           py::arg("class_aggregation") = "uniform_average", py::arg("num_regressors") = 0)
      .def(
          "update",
          [](Metric& metric, const FloatArray& y_pred, const std::optional<FloatArray>& y_true,
             const std::optional<FloatArray>& sample_weight) {
            const std::string what = metric_name(metric.config().kind);
            if (y_pred.ndim() != 2)
              throw ValueError(what + ": y_pred must have shape (rows, classes), got " +
                               shape_to_string(shape_of(y_pred)));
            const int64_t rows = y_pred.shape(0), cols = y_pred.shape(1);
            const float* target = nullptr;
            if (y_true) {
              const int64_t want = metric.target_cols(cols);
              const bool ok = metric.sparse_targets()
                                  ? y_true->size() == rows && y_true->ndim() >= 1 &&
                                        y_true->shape(0) == rows
                                  : y_true->ndim() == 2 && y_true->shape(0) == rows &&
                                        y_true->shape(1) == want;
              if (!ok)
                throw ValueError(what + ": y_true of shape " + shape_to_string(shape_of(*y_true)) +
                                 " does not match y_pred of shape " +
                                 shape_to_string(shape_of(y_pred)) +
                                 (metric.sparse_targets() ? " (one class id per row expected)"
                                                          : ""));
              target = y_true->data();
            }
            const float* weights = nullptr;
            int64_t weight_cols = 1;
            if (sample_weight) {
              if (sample_weight->size() == rows && sample_weight->ndim() >= 1 &&
                  sample_weight->shape(0) == rows) {
                weight_cols = 1;
              } else if (sample_weight->ndim() == 2 && sample_weight->shape(0) == rows &&
                         sample_weight->shape(1) == cols) {
                weight_cols = cols;
              } else {
                throw ValueError(what + ": sample_weight of shape " +
                                 shape_to_string(shape_of(*sample_weight)) +
                                 " does not match y_pred of shape " +
                                 shape_to_string(shape_of(y_pred)));
              }
              weights = sample_weight->data();
            }
            if (rows * cols > (1 << 16)) {
              py::gil_scoped_release release;
              metric.update(y_pred.data(), target, weights, rows, cols, weight_cols);
            } else {
              metric.update(y_pred.data(), target, weights, rows, cols, weight_cols);
            }
          },
          py::arg("y_pred"), py::arg("y_true") = py::none(), py::arg("sample_weight") = py::none())
      .def("result", &Metric::result)
      .def("reset", &Metric::reset)
      .def("variables", &Metric::variables)
      .def_property_readonly("vector_result", &Metric::vector_result)
      .def_property_readonly("sparse_targets", &Metric::sparse_targets)
      .def_property_readonly(
          "thresholds",
          [](const Metric& x) { return x.config().thresholds; })
      .def_property_readonly("auc_thresholds", &Metric::auc_thresholds)
      .def_property_readonly("num_thresholds",
                             [](const Metric& x) { return x.config().num_thresholds; });
}

}  // namespace ember::bindings
