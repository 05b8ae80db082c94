// Metrics accumulated over an epoch as Keras's MeanMetricWrapper does: the
// per-sample value (averaged over the last axis) summed, then divided by the
// number of samples seen.
#pragma once
#include <cstdint>
#include <string>

namespace ember {

enum class MetricKind {
  BinaryAccuracy,
  CategoricalAccuracy,
  SparseCategoricalAccuracy,
  MeanAbsoluteError,
  MeanSquaredError,
};

MetricKind metric_from_name(const std::string& name);  // throws ValueError
const char* metric_name(MetricKind kind);

// pred: (rows, cols); target like the loss's. Returns the sum over rows of the per-sample value.
double metric_batch_sum(MetricKind kind, const float* pred, const float* target, int64_t rows,
                        int64_t cols, float threshold = 0.5f);

}  // namespace ember
