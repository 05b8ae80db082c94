// Losses whose values couple rows (cpu/batch_losses.h), each the float32 expression
// Keras's jax backend evaluates, with the gradient jax's autodiff builds for it.
// pred: (rows, cols). Dice, Tversky: target (rows, cols); one value per group of
// spec.rows_per_value rows (0: one for the whole batch). Circle: target (rows) integer
// labels, one value per row from its similarities to every row. CTC: pred holds
// (batch, T, classes) logits with T = spec.rows_per_value, target (batch, target_width)
// labels (0 is the blank and pads); one value per sample.
// sample_weight: one per row (a sample's weight repeated over its rows); per_sample:
// one per value. These run once per batch on small shapes: plain loops, scratch
// vectors per call.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/batch_losses.h"
#include "ember/element/scalar.h"
#include "ember/error.h"

namespace ember::cpu {
namespace {

using element::max_grad;
using element::softplus;
using element::softplus_grad;

// Keras's reduce_weighted_values over `n` values with weights w (null: 1) and a
// mask (null: none): the weighted sum, over the number of values (sum_over_batch_size;
// with a mask, over the kept ones), the kept weights' sum (mean_with_sample_weight) or
// 1 (sum). Returns the factor each value's weight is multiplied by in the loss: the
// loss is sum_i factor * w_i * kept_i * value_i.
double reduction_factor(Reduction reduction, const std::vector<float>& w, const char* kept,
                        int64_t n, bool weighted) {
  if (reduction == Reduction::Sum || reduction == Reduction::None) return 1.0;
  double divisor = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (kept && !kept[i]) continue;
    divisor += reduction == Reduction::MeanWithSampleWeight && weighted
                   ? static_cast<double>(w[static_cast<size_t>(i)])
                   : 1.0;
  }
  return divisor != 0.0 ? 1.0 / divisor : 0.0;  // divide_no_nan
}

// ---- Dice and Tversky
// Dice: 1 - 2 sum(t p) / (sum(t) + sum(p) + eps). Tversky: 1 - I / (I + alpha FP +
// beta FN + eps) with I = sum(t p), FP = sum((1 - p) t), FN = sum(p (1 - t)).
struct Overlap {
  bool tversky;
  float alpha, beta;
  // The value over n entries, and d value/d p_j * scale into d (when given).
  double operator()(const float* p, const float* t, int64_t n, float scale, float* d) const {
    double inter = 0.0, a = 0.0, b = 0.0;  // I and (sum t, sum p) or (FP, FN)
    for (int64_t j = 0; j < n; ++j) {
      inter += static_cast<double>(t[j] * p[j]);
      a += static_cast<double>(tversky ? (1.0f - p[j]) * t[j] : t[j]);
      b += static_cast<double>(tversky ? p[j] * (1.0f - t[j]) : p[j]);
    }
    const auto i = static_cast<float>(inter), fa = static_cast<float>(a),
               fb = static_cast<float>(b);
    if (!tversky) {
      const float den = fa + fb + kEpsilon;
      if (d)  // d/dp_j of 1 - 2I/den: -(2 t_j den - 2I) / den^2
        for (int64_t j = 0; j < n; ++j)
          d[j] = scale * (-(2.0f * t[j] * den - 2.0f * i) / (den * den));
      return static_cast<double>(1.0f - (2.0f * i) / den);
    }
    const float den = i + fa * alpha + fb * beta + kEpsilon;
    if (d)
      for (int64_t j = 0; j < n; ++j) {
        const float dden = t[j] - alpha * t[j] + beta * (1.0f - t[j]);
        d[j] = scale * (-(t[j] * den - i * dden) / (den * den));
      }
    return static_cast<double>(1.0f - i / den);
  }
};

double overlap_loss(const LossSpec& spec, const float* pred, const float* target,
                    const float* sample_weight, int64_t rows, int64_t cols, float grad_scale,
                    float* dpred, float* per_sample) {
  const Overlap value{spec.kind == LossKind::Tversky, static_cast<float>(spec.alpha),
                      static_cast<float>(spec.beta)};
  if (spec.rows_per_value == 0) {
    // Keras's axis=None: one value for the batch. Sample weights (B,) multiply that
    // scalar into (B,) values, which the reduction then sums and divides.
    double factor = 1.0;
    if (sample_weight && spec.reduction != Reduction::None) {
      double sum = 0.0;
      for (int64_t r = 0; r < rows; ++r) sum += static_cast<double>(sample_weight[r]);
      factor = spec.reduction == Reduction::Sum ? sum
               : spec.reduction == Reduction::MeanWithSampleWeight
                   ? (sum != 0.0 ? 1.0 : 0.0)
                   : sum / static_cast<double>(rows);
    }
    const double v =
        value(pred, target, rows * cols, grad_scale * static_cast<float>(factor), dpred);
    if (per_sample) per_sample[0] = static_cast<float>(v);
    return v * factor;
  }
  const int64_t group = spec.rows_per_value;
  if (rows % group != 0)
    throw ValueError(std::string(loss_name(spec.kind)) + ": " + std::to_string(rows) +
                     " rows do not split into values of " + std::to_string(group) + " rows");
  const int64_t n = rows / group, size = group * cols;
  std::vector<float> w(static_cast<size_t>(n), 1.0f);
  if (sample_weight)
    for (int64_t g = 0; g < n; ++g) w[static_cast<size_t>(g)] = sample_weight[g * group];
  const double factor = reduction_factor(spec.reduction, w, nullptr, n, sample_weight != nullptr);
  double total = 0.0;
  for (int64_t g = 0; g < n; ++g) {
    const float wg = w[static_cast<size_t>(g)];
    const double v =
        value(pred + g * size, target + g * size, size,
              grad_scale * static_cast<float>(factor) * wg, dpred ? dpred + g * size : nullptr);
    if (per_sample) per_sample[g] = static_cast<float>(v);
    total += static_cast<double>(wg) * v;
  }
  return total * factor;
}

// ---- Circle
// Pairwise cosine distances dist = max(1 - p_i . p_j, 0) between the rows; for row i,
// P = logsumexp over its positives j (same label; j != i with remove_diagonal) of
// -gamma * max((m + dist) , 0) * (m - dist), N = logsumexp over its negatives of
// gamma * max((1 + m - dist), 0) * (1 - m - dist); value softplus(P + N). Keras masks
// the values that are 0 (a row without positives or negatives) out of the reduction.
double circle_loss(const LossSpec& spec, const float* pred, const float* labels,
                   const float* sample_weight, int64_t rows, int64_t cols, float grad_scale,
                   float* dpred, float* per_sample) {
  const auto gamma = static_cast<float>(spec.gamma);
  const auto optim_pos = static_cast<float>(spec.margin);
  const auto optim_neg = static_cast<float>(1.0 + spec.margin);
  const auto delta_pos = static_cast<float>(spec.margin);
  const auto delta_neg = static_cast<float>(1.0 - spec.margin);
  const float neg_gamma = -1.0f * gamma;
  const auto n = static_cast<size_t>(rows);
  std::vector<float> dist(n * n), sim(n * n), pos_wd(n * n), neg_wd(n * n);
  std::vector<float> p_lse(n), n_lse(n), z(n), value(n), w(n, 1.0f);
  std::vector<char> pos(n * n), neg(n * n);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < rows; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < cols; ++k) s += pred[i * cols + k] * pred[j * cols + k];
      const size_t ij = static_cast<size_t>(i) * n + static_cast<size_t>(j);
      sim[ij] = s;
      dist[ij] = std::max(1.0f - s, 0.0f);
      const bool same = labels[i] == labels[j];
      pos[ij] = same && !(spec.remove_diagonal && i == j);
      neg[ij] = !same;
      const float posw = std::max((optim_pos + dist[ij]) * (pos[ij] ? 1.0f : 0.0f), 0.0f);
      const float negw = std::max((optim_neg - dist[ij]) * (neg[ij] ? 1.0f : 0.0f), 0.0f);
      pos_wd[ij] = neg_gamma * posw * (delta_pos - dist[ij]);
      neg_wd[ij] = gamma * negw * (delta_neg - dist[ij]);
    }
  }
  // jax's logsumexp over the masked entries: -inf when there are none.
  const auto lse = [&](const std::vector<float>& x, const std::vector<char>& mask, size_t i) {
    float m = -element::kInf;
    for (size_t j = 0; j < n; ++j)
      if (mask[i * n + j]) m = std::max(m, x[i * n + j]);
    if (m == -element::kInf) return m;
    float s = 0.0f;
    for (size_t j = 0; j < n; ++j)
      if (mask[i * n + j]) s += std::exp(x[i * n + j] - m);
    return std::log(s) + m;
  };
  std::vector<char> kept(n);
  for (size_t i = 0; i < n; ++i) {
    p_lse[i] = lse(pos_wd, pos, i);
    n_lse[i] = lse(neg_wd, neg, i);
    z[i] = p_lse[i] + n_lse[i];
    value[i] = softplus(z[i]);
    kept[i] = value[i] > 0.0f;
    if (sample_weight) w[i] = sample_weight[i];
    if (per_sample) per_sample[i] = value[i];
  }
  const double factor =
      reduction_factor(spec.reduction, w, kept.data(), rows, sample_weight != nullptr);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i)
    if (kept[i]) total += static_cast<double>(w[i]) * static_cast<double>(value[i]);
  if (!dpred) return total * factor;
  std::fill(dpred, dpred + rows * cols, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    if (!kept[i]) continue;
    const float g = grad_scale * static_cast<float>(factor) * w[i] * softplus_grad(z[i], value[i]);
    if (g == 0.0f) continue;
    for (size_t j = 0; j < n; ++j) {
      const size_t ij = i * n + j;
      float g_dist = 0.0f;
      if (pos[ij]) {
        const float a = g * std::exp(pos_wd[ij] - p_lse[i]);
        const float posw = std::max(optim_pos + dist[ij], 0.0f);
        const float dposw = max_grad(optim_pos + dist[ij], 0.0f);
        g_dist += a * neg_gamma * (dposw * (delta_pos - dist[ij]) - posw);
      }
      if (neg[ij]) {
        const float b = g * std::exp(neg_wd[ij] - n_lse[i]);
        const float negw = std::max(optim_neg - dist[ij], 0.0f);
        const float dnegw = -max_grad(optim_neg - dist[ij], 0.0f);
        g_dist += b * gamma * (dnegw * (delta_neg - dist[ij]) - negw);
      }
      const float g_sim = -g_dist * max_grad(1.0f - sim[ij], 0.0f);
      if (g_sim == 0.0f) continue;
      for (int64_t k = 0; k < cols; ++k) {
        dpred[static_cast<int64_t>(i) * cols + k] +=
            g_sim * pred[static_cast<int64_t>(j) * cols + k];
        dpred[static_cast<int64_t>(j) * cols + k] +=
            g_sim * pred[static_cast<int64_t>(i) * cols + k];
      }
    }
  }
  return total * factor;
}

// ---- CTC
// optax's formulation, as Keras's jax backend computes it: log_softmax of the logits,
// then a scan over time of the blank ("phi", N + 1 states) and label ("emit", N states)
// log-probabilities, with log(0) written as -1e5; the loss is -phi[label_length] after
// the last step's emit-to-phi transition. The gradient is that recurrence run backwards
// (reverse-mode, step by step) and then through log_softmax.
constexpr float kLogEpsilon = -1e5f;

float logaddexp(float a, float b) {
  const float m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

struct CtcSample {
  const float* x;       // (T, K) logits
  const float* labels;  // (N)
  int64_t steps, classes, width, length;
};

// The per-sample loss; with d, d loss/d x * scale into d (T, K).
float ctc_sample(const CtcSample& s, float scale, float* d) {
  const int64_t T = s.steps, K = s.classes, N = s.width;
  const auto un = static_cast<size_t>(N);
  std::vector<float> lp(static_cast<size_t>(T * K));  // log_softmax
  for (int64_t t = 0; t < T; ++t) {
    const float* x = s.x + t * K;
    float m = x[0];
    for (int64_t k = 1; k < K; ++k) m = std::max(m, x[k]);
    float sum = 0.0f;
    for (int64_t k = 0; k < K; ++k) sum += std::exp(x[k] - m);
    const float lse = std::log(sum);
    for (int64_t k = 0; k < K; ++k) lp[static_cast<size_t>(t * K + k)] = (x[k] - m) - lse;
  }
  std::vector<int64_t> label(un);
  for (size_t n = 0; n < un; ++n) label[n] = static_cast<int64_t>(s.labels[n]);
  std::vector<float> rep(un, 0.0f);
  for (size_t n = 0; n + 1 < un; ++n) rep[n] = label[n] == label[n + 1] ? 1.0f : 0.0f;
  // States before each step: phi (T + 1, N + 1), emit (T + 1, N).
  std::vector<float> phi(static_cast<size_t>(T + 1) * (un + 1)),
      emit(static_cast<size_t>(T + 1) * un);
  std::fill(phi.begin(), phi.begin() + static_cast<std::ptrdiff_t>(un + 1), kLogEpsilon);
  phi[0] = 0.0f;
  std::fill(emit.begin(), emit.begin() + static_cast<std::ptrdiff_t>(un), kLogEpsilon);
  std::vector<float> pp(un + 1), np0(un + 1);
  const auto emit_lp = [&](int64_t t, size_t n) {
    return lp[static_cast<size_t>(t * K + label[n])];
  };
  // prev_phi with the emit-to-phi transition (except into a repeated label).
  const auto prev_phi = [&](const float* ph, const float* em) {
    pp[0] = ph[0];
    for (size_t n = 0; n < un; ++n) pp[n + 1] = logaddexp(ph[n + 1], em[n] + kLogEpsilon * rep[n]);
  };
  for (int64_t t = 0; t < T; ++t) {
    const float* ph = &phi[static_cast<size_t>(t) * (un + 1)];
    const float* em = &emit[static_cast<size_t>(t) * un];
    float* nph = &phi[static_cast<size_t>(t + 1) * (un + 1)];
    float* nem = &emit[static_cast<size_t>(t + 1) * un];
    const float blank = lp[static_cast<size_t>(t * K)];
    prev_phi(ph, em);
    for (size_t n = 0; n < un; ++n)
      nem[n] = logaddexp(pp[n] + emit_lp(t, n), em[n] + emit_lp(t, n));
    nph[0] = pp[0] + blank;
    for (size_t n = 0; n < un; ++n)
      nph[n + 1] = logaddexp(pp[n + 1] + blank, (em[n] + blank) + kLogEpsilon * (1.0f - rep[n]));
  }
  const float* ph = &phi[static_cast<size_t>(T) * (un + 1)];
  const float* em = &emit[static_cast<size_t>(T) * un];
  const auto L = static_cast<size_t>(s.length);
  const float last = L == 0 ? ph[0] : logaddexp(ph[L], em[L - 1]);
  if (!d) return -last;
  // Adjoints of the state after the current step.
  std::vector<float> g_phi(un + 1, 0.0f), g_emit(un, 0.0f), g_phi_prev(un + 1), g_emit_prev(un);
  std::vector<float> g_lp(static_cast<size_t>(T * K), 0.0f);
  const float g_last = -scale;
  if (L == 0) {
    g_phi[0] = g_last;
  } else {
    g_phi[L] = g_last * std::exp(ph[L] - last);
    g_emit[L - 1] = g_last * std::exp(em[L - 1] - last);
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* p0 = &phi[static_cast<size_t>(t) * (un + 1)];
    const float* e0 = &emit[static_cast<size_t>(t) * un];
    const float* nph = &phi[static_cast<size_t>(t + 1) * (un + 1)];
    const float* nem = &emit[static_cast<size_t>(t + 1) * un];
    const float blank = lp[static_cast<size_t>(t * K)];
    prev_phi(p0, e0);
    std::fill(g_phi_prev.begin(), g_phi_prev.end(), 0.0f);
    std::fill(g_emit_prev.begin(), g_emit_prev.end(), 0.0f);
    std::vector<float>& g_pp = np0;  // reused as d/d pp
    float g_blank = 0.0f;
    // next_phi = update(prev_phi + blank, emit + blank + eps (1 - rep))
    g_pp[0] = g_phi[0];
    for (size_t n = 0; n < un; ++n) {
      const float r = nph[n + 1];
      const float a = pp[n + 1] + blank;
      const float c = (e0[n] + blank) + kLogEpsilon * (1.0f - rep[n]);
      g_pp[n + 1] = g_phi[n + 1] * std::exp(a - r);
      const float gc = g_phi[n + 1] * std::exp(c - r);
      g_emit_prev[n] += gc;
      g_blank += gc;
    }
    for (size_t n = 0; n <= un; ++n) g_blank += g_pp[n];
    // next_emit = logaddexp(pp + e, emit + e)
    for (size_t n = 0; n < un; ++n) {
      const float e = emit_lp(t, n), r = nem[n];
      const float w1 = g_emit[n] * std::exp((pp[n] + e) - r);
      const float w2 = g_emit[n] * std::exp((e0[n] + e) - r);
      g_pp[n] += w1;
      g_emit_prev[n] += w2;
      g_lp[static_cast<size_t>(t * K + label[n])] += w1 + w2;
    }
    g_lp[static_cast<size_t>(t * K)] += g_blank;
    // pp = update(phi, emit + eps rep)
    g_phi_prev[0] += g_pp[0];
    for (size_t n = 0; n < un; ++n) {
      const float r = pp[n + 1];
      g_phi_prev[n + 1] += g_pp[n + 1] * std::exp(p0[n + 1] - r);
      g_emit_prev[n] += g_pp[n + 1] * std::exp((e0[n] + kLogEpsilon * rep[n]) - r);
    }
    g_phi.swap(g_phi_prev);
    g_emit.swap(g_emit_prev);
  }
  // log_softmax: d x_k = g_k - softmax_k sum(g).
  for (int64_t t = 0; t < T; ++t) {
    float gsum = 0.0f;
    for (int64_t k = 0; k < K; ++k) gsum += g_lp[static_cast<size_t>(t * K + k)];
    for (int64_t k = 0; k < K; ++k) {
      const size_t tk = static_cast<size_t>(t * K + k);
      d[tk] = g_lp[tk] - std::exp(lp[tk]) * gsum;
    }
  }
  return -last;
}

double ctc_loss(const LossSpec& spec, const float* pred, const float* target,
                const float* sample_weight, int64_t rows, int64_t cols, float grad_scale,
                float* dpred, float* per_sample) {
  const int64_t T = spec.rows_per_value, N = spec.target_width;
  if (T <= 0 || rows % T != 0)
    throw ValueError("ctc: " + std::to_string(rows) + " rows are not whole samples of " +
                     std::to_string(T) + " time steps");
  const int64_t batch = rows / T;
  std::vector<float> w(static_cast<size_t>(batch), 1.0f);
  std::vector<int64_t> length(static_cast<size_t>(batch), 0);
  for (int64_t b = 0; b < batch; ++b) {
    if (sample_weight) w[static_cast<size_t>(b)] = sample_weight[b * T];
    for (int64_t n = 0; n < N; ++n) {
      const float label = target[b * N + n];
      if (!(label >= 0.0f) || label != std::floor(label) || label >= static_cast<float>(cols))
        throw ValueError("ctc: label " + std::to_string(label) +
                         " is not a class id of an output of " + std::to_string(cols) +
                         " classes (0 is the blank, which pads the labels)");
      // Keras counts the labels that are not the blank.
      if (label != 0.0f) ++length[static_cast<size_t>(b)];
    }
  }
  const double factor =
      reduction_factor(spec.reduction, w, nullptr, batch, sample_weight != nullptr);
  double total = 0.0;
  for (int64_t b = 0; b < batch; ++b) {
    const float wb = w[static_cast<size_t>(b)];
    const CtcSample s{pred + b * T * cols,           target + b * N, T, cols, N,
                      length[static_cast<size_t>(b)]};
    const float v = ctc_sample(s, grad_scale * static_cast<float>(factor) * wb,
                               dpred ? dpred + b * T * cols : nullptr);
    if (per_sample) per_sample[b] = v;
    total += static_cast<double>(wb) * static_cast<double>(v);
  }
  return total * factor;
}

}  // namespace

double batch_loss_forward_backward(const LossSpec& spec, const float* pred, const float* target,
                                   const float* sample_weight, int64_t rows, int64_t cols,
                                   float grad_scale, float* dpred, float* per_sample) {
  switch (spec.kind) {
    case LossKind::Dice:
    case LossKind::Tversky:
      return overlap_loss(spec, pred, target, sample_weight, rows, cols, grad_scale, dpred,
                          per_sample);
    case LossKind::Circle:
      return circle_loss(spec, pred, target, sample_weight, rows, cols, grad_scale, dpred,
                         per_sample);
    case LossKind::CTC:
      return ctc_loss(spec, pred, target, sample_weight, rows, cols, grad_scale, dpred, per_sample);
    default: break;
  }
  throw ValueError(std::string("loss ") + loss_name(spec.kind) + " does not couple rows");
}

}  // namespace ember::cpu
