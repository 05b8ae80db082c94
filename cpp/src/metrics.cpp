#include "ember/metrics.h"

#include "ember/error.h"

namespace ember {

MetricKind metric_from_name(const std::string& name) {
  if (name == "binary_accuracy") return MetricKind::BinaryAccuracy;
  if (name == "categorical_accuracy") return MetricKind::CategoricalAccuracy;
  if (name == "sparse_categorical_accuracy") return MetricKind::SparseCategoricalAccuracy;
  if (name == "mean_absolute_error" || name == "mae") return MetricKind::MeanAbsoluteError;
  if (name == "mean_squared_error" || name == "mse") return MetricKind::MeanSquaredError;
  throw ValueError("Unknown metric: '" + name + "'.");
}

const char* metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::BinaryAccuracy: return "binary_accuracy";
    case MetricKind::CategoricalAccuracy: return "categorical_accuracy";
    case MetricKind::SparseCategoricalAccuracy: return "sparse_categorical_accuracy";
    case MetricKind::MeanAbsoluteError: return "mean_absolute_error";
    case MetricKind::MeanSquaredError: return "mean_squared_error";
  }
  return "?";
}

}  // namespace ember
