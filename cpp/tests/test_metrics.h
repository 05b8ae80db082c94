// C++ tests of ember::Metric (included by test_main.cpp): each metric against a
// direct double-precision reference computed here, over several batches.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "ember/error.h"
#include "ember/metrics.h"

namespace ember::testing {

inline Metric make(MetricKind kind, void (*set)(MetricConfig&) = nullptr) {
  MetricConfig c;
  c.kind = kind;
  if (set) set(c);
  return Metric(c);
}

// ROC AUC with 200 evenly spaced thresholds: the bucket counting must give the
// counts a direct comparison of every prediction with every threshold gives.
inline void test_auc_against_direct_counts(std::mt19937& rng) {
  Metric auc = make(MetricKind::AUC);
  const int64_t rows = 37, cols = 3, T = 200;
  std::vector<float> all_p, all_t;
  for (int batch = 0; batch < 3; ++batch) {
    auto p = random_vector(rng, rows * cols, 0.0f, 1.0f);
    auto t = random_vector(rng, rows * cols, 0.0f, 1.0f);
    for (float& v : t) v = v > 0.5f ? 1.0f : 0.0f;
    auc.update(p.data(), t.data(), nullptr, rows, cols);
    all_p.insert(all_p.end(), p.begin(), p.end());
    all_t.insert(all_t.end(), t.begin(), t.end());
  }
  std::vector<double> tpr(T), fpr(T);
  for (int64_t i = 0; i < T; ++i) {
    const float cut = i == 0       ? static_cast<float>(-1e-7)
                      : i == T - 1 ? static_cast<float>(1.0 + 1e-7)
                                   : static_cast<float>(static_cast<double>(i) / (T - 1));
    double tp = 0, fp = 0, fn = 0, tn = 0;
    for (size_t j = 0; j < all_p.size(); ++j) {
      const bool above = all_p[j] > cut, pos = all_t[j] != 0.0f;
      (pos ? (above ? tp : fn) : (above ? fp : tn)) += 1.0;
    }
    tpr[static_cast<size_t>(i)] = tp / (tp + fn);
    fpr[static_cast<size_t>(i)] = fp / (fp + tn);
  }
  double want = 0.0;
  for (size_t i = 0; i + 1 < static_cast<size_t>(T); ++i)
    want += (fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2.0;
  const double got = auc.result()[0];
  check(close(got, want, 1e-12, 1e-9),
        "AUC (ROC) matches direct counts: " + std::to_string(got) + " vs " + std::to_string(want));
  auc.reset();
  check(auc.result()[0] == 0.0, "AUC resets");
}

// Precision with top_k and class_id: only a row's k largest predictions count as
// positive (the default threshold is then -1e10), and only the class's column counts.
inline void test_precision_top_k_class_id(std::mt19937& rng) {
  Metric precision = make(MetricKind::Precision, [](MetricConfig& c) {
    c.top_k = 2;
    c.class_id = 1;
  });
  const int64_t rows = 50, cols = 4;
  auto p = random_vector(rng, rows * cols, 0.0f, 1.0f);
  auto t = random_vector(rng, rows * cols, 0.0f, 1.0f);
  for (float& v : t) v = v > 0.6f ? 1.0f : 0.0f;
  auto w = random_vector(rng, rows, 0.5f, 2.0f);
  precision.update(p.data(), t.data(), w.data(), rows, cols);
  double tp = 0, fp = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = p.data() + r * cols;
    int64_t larger = 0;
    for (int64_t j = 0; j < cols; ++j) larger += row[j] > row[1];
    if (larger < 2)  // in the top 2 (with top_k, the default threshold passes everything)
      (t[static_cast<size_t>(r * cols + 1)] != 0.0f ? tp : fp) += w[static_cast<size_t>(r)];
  }
  const double want = tp / (tp + fp), got = precision.result()[0];
  check(close(got, want, 1e-12, 1e-9), "Precision(top_k=2, class_id=1) matches a direct count");
}

// F1Score (macro) and R2Score against their definitions.
inline void test_f1_and_r2(std::mt19937& rng) {
  const int64_t rows = 40, cols = 3;
  auto p = random_vector(rng, rows * cols, 0.0f, 1.0f);
  auto t = random_vector(rng, rows * cols, 0.0f, 1.0f);
  for (float& v : t) v = v > 0.5f ? 1.0f : 0.0f;
  Metric f1 = make(MetricKind::FBetaScore, [](MetricConfig& c) {
    c.average = FScoreAverage::Macro;
    c.threshold = 0.5f;
  });
  f1.update(p.data(), t.data(), nullptr, rows, cols);
  double macro = 0.0;
  for (int64_t j = 0; j < cols; ++j) {
    double tp = 0, fp = 0, fn = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const bool pred = p[static_cast<size_t>(r * cols + j)] > 0.5f;
      const bool pos = t[static_cast<size_t>(r * cols + j)] != 0.0f;
      tp += pred && pos, fp += pred && !pos, fn += !pred && pos;
    }
    const double precision = tp / (tp + fp + 1e-7), recall = tp / (tp + fn + 1e-7);
    macro += 2.0 * precision * recall / (precision + recall + 1e-7) / static_cast<double>(cols);
  }
  check(close(f1.result()[0], macro, 1e-9, 1e-6), "F1Score(average='macro') matches");
  bool threw = false;
  try {
    f1.update(p.data(), t.data(), nullptr, rows / 2, cols - 1);
  } catch (const ValueError&) {
    threw = true;
  }
  check(threw, "F1Score refuses a batch with another number of classes");

  Metric r2 = make(MetricKind::R2Score);
  r2.update(p.data(), t.data(), nullptr, rows, cols);
  double uniform = 0.0;
  for (int64_t j = 0; j < cols; ++j) {
    double mean = 0.0, ss_tot = 0.0, ss_res = 0.0;
    for (int64_t r = 0; r < rows; ++r) mean += t[static_cast<size_t>(r * cols + j)];
    mean /= static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const double y = t[static_cast<size_t>(r * cols + j)];
      const double d = y - p[static_cast<size_t>(r * cols + j)];
      ss_tot += (y - mean) * (y - mean), ss_res += d * d;
    }
    uniform += (1.0 - ss_res / ss_tot) / static_cast<double>(cols);
  }
  check(close(r2.result()[0], uniform, 1e-9, 1e-6), "R2Score matches 1 - SS_res / SS_tot");
}

// Weighted mean metrics, and the label check of sparse top-k.
inline void test_mean_metrics(std::mt19937& rng) {
  const int64_t rows = 30, cols = 5;
  auto p = random_vector(rng, rows * cols);
  auto t = random_vector(rng, rows * cols);
  auto w = random_vector(rng, rows, 0.1f, 2.0f);
  Metric rmse = make(MetricKind::RootMeanSquaredError);
  rmse.update(p.data(), t.data(), w.data(), rows, cols);
  double num = 0.0, den = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    double row = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const auto at = static_cast<size_t>(r * cols + j);
      const double d = double(p[at]) - t[at];
      row += d * d;
    }
    num += w[static_cast<size_t>(r)] * row / cols;
    den += w[static_cast<size_t>(r)];
  }
  check(close(rmse.result()[0], std::sqrt(num / den), 1e-9, 1e-6), "weighted RMSE matches");

  Metric top_k = make(MetricKind::SparseTopKCategoricalAccuracy,
                      [](MetricConfig& c) { c.k = 2; });
  std::vector<float> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) labels[static_cast<size_t>(r)] = float(r % cols);
  top_k.update(p.data(), labels.data(), nullptr, rows, cols);
  double hits = 0.0;
  for (int64_t r = 0; r < rows; ++r) {  // the label among the row's two largest (no ties here)
    const float* row = p.data() + r * cols;
    std::vector<int64_t> order(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) order[static_cast<size_t>(j)] = j;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    hits += order[0] == r % cols || order[1] == r % cols;
  }
  check(close(top_k.result()[0], hits / rows, 1e-12, 1e-12), "SparseTopK(k=2) counts hits");
  labels[3] = float(cols);
  bool threw = false;
  try {
    top_k.update(p.data(), labels.data(), nullptr, rows, cols);
  } catch (const ValueError&) {
    threw = true;
  }
  check(threw && close(top_k.result()[0], hits / rows, 1e-12, 1e-12),
        "SparseTopK rejects a label out of range and keeps its state");
}

inline void test_metrics() {
  std::mt19937 rng(7);
  test_auc_against_direct_counts(rng);
  test_precision_top_k_class_id(rng);
  test_f1_and_r2(rng);
  test_mean_metrics(rng);
}

}  // namespace ember::testing
