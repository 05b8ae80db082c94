#include "ember/model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

void check_batch_size(int64_t batch_size) {
  if (batch_size <= 0)
    throw ValueError("batch_size must be a positive integer, got " + std::to_string(batch_size));
}

// Calls step(start, rows) for batches [begin, end) of n samples.
template <typename F>
void for_each_batch(int64_t n, int64_t batch_size, int64_t begin, int64_t end, F&& step) {
  for (int64_t b = begin; b < end && b * batch_size < n; ++b) {
    const int64_t start = b * batch_size;
    step(start, std::min(batch_size, n - start));
  }
}

}  // namespace

MetricSpec::MetricSpec(MetricKind kind, int out, float threshold) : output(out) {
  MetricConfig config;
  config.kind = kind;
  if (kind == MetricKind::BinaryAccuracy) config.threshold = threshold;
  metric = std::make_shared<Metric>(std::move(config));
}

MetricSpec::MetricSpec(std::shared_ptr<Metric> m, int out, bool is_weighted)
    : metric(std::move(m)), output(out), weighted(is_weighted) {}

namespace {

// The executor's outputs: the model's, then each distinct mask node (issue 11).
std::vector<int> outputs_and_masks(const Graph& graph, std::vector<int> outputs,
                                   const std::vector<int>& masks) {
  if (!masks.empty() && masks.size() != outputs.size())
    throw ValueError("output_masks: one entry per output needed, got " +
                     std::to_string(masks.size()) + " for " + std::to_string(outputs.size()));
  for (size_t o = 0; o < masks.size(); ++o) {
    if (masks[o] < 0) continue;
    if (static_cast<size_t>(masks[o]) >= graph.size())
      throw ValueError("output_masks: no node " + std::to_string(masks[o]));
    const Shape& out = graph.row_shape(outputs[o]);
    const Shape& mask = graph.row_shape(masks[o]);
    if (out.empty() || mask != Shape(out.begin(), out.end() - 1))
      throw ValueError("output_masks: output " + std::to_string(o) + " has row shape " +
                       shape_to_string(out) + ", its mask needs " +
                       (out.empty() ? std::string("an output of rank >= 2")
                                    : shape_to_string(Shape(out.begin(), out.end() - 1))) +
                       ", got " + shape_to_string(mask));
    if (std::find(outputs.begin(), outputs.end(), masks[o]) == outputs.end())
      outputs.push_back(masks[o]);
  }
  return outputs;
}

// Keras's MeanMetricWrapper metrics apply a mask on the predictions; the others ignore it.
bool metric_takes_mask(const Metric& metric) {
  if (metric.has_row_values()) return true;
  switch (metric.config().kind) {
    case MetricKind::BinaryAccuracy:
    case MetricKind::CategoricalAccuracy:
    case MetricKind::SparseCategoricalAccuracy:
    case MetricKind::MeanAbsoluteError:
    case MetricKind::MeanSquaredError:
    case MetricKind::Accuracy:
    case MetricKind::TopKCategoricalAccuracy:
    case MetricKind::SparseTopKCategoricalAccuracy:
    case MetricKind::MeanAbsolutePercentageError: return true;
    default: return false;
  }
}

}  // namespace

Model::Model(std::shared_ptr<Graph> graph, std::vector<int> inputs, std::vector<int> outputs,
             const std::vector<int>& output_masks)
    : graph_(std::move(graph)),
      exec_(graph_, std::move(inputs), outputs_and_masks(*graph_, outputs, output_masks)),
      num_outputs_(outputs.size()) {
  if (exec_.num_inputs() == 0) throw ValueError("a model needs at least one input");
  if (num_outputs_ == 0) throw ValueError("a model needs at least one output");
  graph_losses_.resize(num_outputs_);
  mask_output_.assign(num_outputs_, -1);
  for (size_t o = 0; o < output_masks.size(); ++o) {
    if (output_masks[o] < 0) continue;
    const auto& outs = exec_.outputs();
    mask_output_[o] =
        static_cast<int>(std::find(outs.begin(), outs.end(), output_masks[o]) - outs.begin());
  }
  mask_loss_weights_.resize(num_outputs_);
  mask_metric_weights_.resize(num_outputs_);
}

void Model::apply_output_masks(size_t o, int64_t rows) {
  const int64_t n = rows * exec_.output_row_size(static_cast<size_t>(mask_output_[o]));
  if (mask_loss_weights_[o].size() < n)
    mask_loss_weights_[o] =
        Tensor(Shape{std::max(n, exec_.capacity() * (n / rows))}, 0.0f, device());
  // sum_over_batch_size rescales the kept entries by total / kept, so the mean runs over them
  // (data-parallel ranks divide by the global batch's kept entries instead: not per batch).
  const bool rescale = !reducer_ && losses_[o].reduction == Reduction::SumOverBatchSize;
  be().mask_weights(ctx(), exec_.output(static_cast<size_t>(mask_output_[o])),
                    weighted_[o] ? batch_weights_[o].data() : nullptr, n, rescale,
                    mask_loss_weights_[o].data());
  if (!weighted_[o]) return;
  if (mask_metric_weights_[o].size() < n)
    mask_metric_weights_[o] = Tensor(Shape{mask_loss_weights_[o].size()}, 0.0f, device());
  be().mask_weights(ctx(), exec_.output(static_cast<size_t>(mask_output_[o])),
                    batch_weights_[o].data(), n, false, mask_metric_weights_[o].data());
}

// A metric's per-entry weights: the sample weights (weighted_metrics only), times the
// output's mask where it has one and the metric is one Keras masks.
const float* Model::metric_weights(const MetricSpec& m, size_t o) {
  const float* sample = m.weighted && weighted_[o] ? batch_weights_[o].data() : nullptr;
  if (mask_output_[o] < 0 || !metric_takes_mask(*m.metric)) return sample;
  if (sample) return mask_metric_weights_[o].data();
  return exec_.output(static_cast<size_t>(mask_output_[o]));  // 0/1: the mask itself
}

void Model::set_graph_loss(size_t output, std::shared_ptr<Graph> loss_graph, int prediction,
                           int target, int value) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (output >= num_outputs())
    throw ValueError("set_graph_loss: the model has no output " + std::to_string(output));
  if (!loss_graph) {
    graph_losses_[output].reset();
    return;
  }
  const Shape& out_shape = graph_->row_shape(exec_.outputs()[output]);
  if (loss_graph->row_shape(prediction) != out_shape)
    throw ValueError("custom loss: its prediction input has row shape " +
                     shape_to_string(loss_graph->row_shape(prediction)) + ", but output " +
                     std::to_string(output) + " has " + shape_to_string(out_shape));
  auto exec =
      std::make_unique<Executor>(std::move(loss_graph), std::vector<int>{prediction, target},
                                 std::vector<int>{value}, exec_.device());
  exec->request_input_gradient(0);
  graph_losses_[output] = std::move(exec);
}

void Model::compile(std::vector<LossSpec> losses, std::shared_ptr<Optimizer> optimizer,
                    std::vector<MetricSpec> metrics) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!optimizer) throw ValueError("compile: an optimizer is required");
  if (losses.size() != num_outputs())
    throw ValueError("compile: the model has " + std::to_string(num_outputs()) + " outputs but " +
                     std::to_string(losses.size()) + " losses were given");
  for (size_t o = 0; o < losses.size(); ++o) {
    validate_loss(losses[o]);
    if (losses[o].reduction == Reduction::None)
      throw ValueError(std::string("compile: the loss ") + loss_name(losses[o].kind) +
                       " has reduction=None, which gives one value per sample; training needs "
                       "a scalar: use 'sum_over_batch_size', 'sum' or 'mean_with_sample_weight'");
    // The kernels compute over the last axis; -1 or its index (batch axis included).
    const auto rank = static_cast<int>(graph_->row_shape(exec_.outputs()[o]).size()) + 1;
    if (losses[o].axis != -1 && losses[o].axis != rank - 1)
      throw ValueError(std::string("compile: the loss ") + loss_name(losses[o].kind) +
                       " has axis=" + std::to_string(losses[o].axis) + ", but output " +
                       std::to_string(o) + " has rank " + std::to_string(rank) +
                       " and the engine computes losses over its last axis (-1)");
    if (!graph_losses_[o] && mask_output_[o] >= 0 &&
        (losses[o].kind == LossKind::CTC || loss_couples_rows(losses[o])))
      throw ValueError(std::string("compile: the loss ") + loss_name(losses[o].kind) +
                       " of output " + std::to_string(o) +
                       " does not take a Keras mask (the output carries one)");
  }
  std::vector<Executor*> metric_graphs;
  for (const MetricSpec& m : metrics) {
    Executor* graph = nullptr;
    for (auto& [metric, exec] : graph_metrics_)
      if (metric == m.metric.get()) graph = exec.get();
    if (graph) {
      if (m.output < 0 || static_cast<size_t>(m.output) >= num_outputs())
        throw ValueError("compile: metric refers to output " + std::to_string(m.output));
      const auto o = static_cast<size_t>(m.output);
      if (graph->input_row_size(0) != exec_.output_row_size(o) ||
          graph->input_row_size(1) != target_row_size(o, losses[o]))
        throw ValueError("compile: a custom metric's y_pred and y_true hold " +
                         std::to_string(graph->input_row_size(0)) + " and " +
                         std::to_string(graph->input_row_size(1)) + " values per sample, but " +
                         "output " + std::to_string(o) + " and its targets hold " +
                         std::to_string(exec_.output_row_size(o)) + " and " +
                         std::to_string(target_row_size(o, losses[o])));
    } else {
      check_metric(m, losses);
    }
    metric_graphs.push_back(graph);
  }
  exec_.plan_gradients();
  regularized_.clear();
  for (size_t i = 0; i < exec_.trainable().size(); ++i)
    if (exec_.trainable()[i]->l1 != 0.0f || exec_.trainable()[i]->l2 != 0.0f ||
        exec_.trainable()[i]->orthogonal != 0.0f ||
        std::any_of(penalty_graphs_.begin(), penalty_graphs_.end(),
                    [&](const auto& p) { return p.first.get() == exec_.trainable()[i]; }))
      regularized_.push_back(i);
  // By variable, not size: weight-decay exclusions match variable names.
  optimizer->set_context(exec_.context());
  optimizer->build(exec_.trainable());
  losses_ = std::move(losses);
  optimizer_ = std::move(optimizer);
  metrics_ = std::move(metrics);
  metric_graphs_ = std::move(metric_graphs);
  targets_.assign(num_outputs(), Tensor());
  batch_weights_.assign(num_outputs(), Tensor());
  weighted_.assign(num_outputs(), false);
  reset_metrics();
}

void Model::check_metric(const MetricSpec& m, const std::vector<LossSpec>& losses) const {
  if (!m.metric) throw ValueError("compile: a metric is null");
  if (m.output < 0 || static_cast<size_t>(m.output) >= num_outputs())
    throw ValueError("compile: metric refers to output " + std::to_string(m.output));
  const auto o = static_cast<size_t>(m.output);
  const Metric& metric = *m.metric;
  const std::string name = metric_name(metric.config().kind);
  const MetricKind kind = metric.config().kind;
  if (kind == MetricKind::Mean || kind == MetricKind::Sum)
    throw ValueError("compile: the metric " + name + " takes values, not targets and outputs");
  const Shape& shape = graph_->row_shape(exec_.outputs()[o]);
  if (metric.needs_rank_2() && shape.size() != 1)
    throw ValueError("compile: the metric " + name +
                     " expects outputs of shape (batch_size, "
                     "output_dim), but output " +
                     std::to_string(o) + " has shape " + shape_to_string(shape) + " per sample");
  // The targets the loss takes (class ids, or rows like the output) must be the metric's.
  if (losses[o].kind == LossKind::CTC && !graph_losses_[o])
    throw ValueError("compile: the metric " + name + " cannot follow output " +
                     std::to_string(o) +
                     ", trained with ctc: its targets are label sequences, not rows like the "
                     "output");
  const bool sparse_loss = loss_takes_class_ids(losses[o].kind);
  const int64_t cols = output_classes(o);
  auto takes = [](bool sparse) {
    return std::string(sparse ? "integer class ids" : "targets shaped like the output");
  };
  if (!graph_losses_[o] && sparse_loss != metric.sparse_targets() && cols != 1)
    throw ValueError("compile: the metric " + name + " takes " + takes(metric.sparse_targets()) +
                     ", but output " + std::to_string(o) + "'s loss " + loss_name(losses[o].kind) +
                     " takes " + takes(sparse_loss));
  if (!graph_losses_[o] && metric.target_cols(cols) != (sparse_loss ? 1 : cols))
    throw ValueError("compile: the metric " + name + " takes " +
                     std::to_string(metric.target_cols(cols)) + " target values per sample, " +
                     "but output " + std::to_string(o) + "'s loss " + loss_name(losses[o].kind) +
                     " takes " + std::to_string(sparse_loss ? 1 : cols));
  m.metric->build(cols);  // per-class states: ValueError if built for another width
}

Optimizer& Model::optimizer() {
  if (!optimizer_) throw ValueError("the model has not been compiled");
  return *optimizer_;
}

int64_t Model::output_classes(size_t output) const {
  const Shape& s = graph_->row_shape(exec_.outputs()[output]);
  return s.empty() ? 1 : s.back();
}

void Model::set_graph_metric(std::shared_ptr<Metric> metric, std::shared_ptr<Graph> values_graph,
                             int prediction, int target, int value) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!metric || !values_graph) throw ValueError("set_graph_metric: a metric and a graph needed");
  if (metric->config().kind != MetricKind::Mean)
    throw ValueError("set_graph_metric: a custom metric function is averaged by a Mean metric");
  auto exec =
      std::make_unique<Executor>(std::move(values_graph), std::vector<int>{prediction, target},
                                 std::vector<int>{value}, exec_.device());
  graph_metrics_.emplace_back(metric.get(), std::move(exec));
}

void Model::clear_graph_metrics() {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  graph_metrics_.clear();
}

void Model::run_targets_graph(Executor& e, size_t output, int64_t rows, bool training) {
  e.reserve(rows);
  be().copy(ctx(), e.input_buffer(0), exec_.output(output),
            static_cast<size_t>(rows * exec_.output_row_size(output)) * sizeof(float));
  be().copy(ctx(), e.input_buffer(1), targets_[output].data(),
            static_cast<size_t>(rows * e.input_row_size(1)) * sizeof(float));
  e.forward(rows, training);
}

const float* Model::row_weights(size_t output, int64_t rows) {
  if (!weighted_[output]) return nullptr;
  // batch_weights_ holds each sample's weight once per entry of the output's row.
  const int64_t stride =
      exec_.output_row_size(output) / std::max<int64_t>(output_classes(output), 1);
  if (stride == 1) return batch_weights_[output].data();
  if (row_weights_.size() < rows) row_weights_ = Tensor(Shape{exec_.capacity()}, 0.0f, device());
  be().take_every(ctx(), batch_weights_[output].data(), stride, rows, row_weights_.data());
  return row_weights_.data();
}

void Model::update_graph_metric(const MetricSpec& m, Executor& e, int64_t rows) {
  const auto o = static_cast<size_t>(m.output);
  run_targets_graph(e, o, rows, false);
  be().metric_update(ctx(), *m.metric, e.output(0), nullptr,
                     m.weighted ? row_weights(o, rows) : nullptr, rows, e.output_row_size(0), 1);
}

int64_t Model::target_row_size(size_t output) const {
  return target_row_size(output, losses_[output]);
}

int64_t Model::target_row_size(size_t output, const LossSpec& loss) const {
  if (graph_losses_[output]) return graph_losses_[output]->input_row_size(1);
  const int64_t row = exec_.output_row_size(output);
  if (loss.kind == LossKind::CTC) return loss.target_width;
  if (loss_takes_class_ids(loss.kind)) return row / std::max<int64_t>(output_classes(output), 1);
  return row;
}

void Model::check_data(const std::vector<ArrayView>& x, const std::vector<ArrayView>* y) const {
  if (x.size() != num_inputs())
    throw ValueError("the model expects " + std::to_string(num_inputs()) + " input arrays, got " +
                     std::to_string(x.size()));
  const int64_t n = x[0].rows;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!x[i].data && x[i].rows) throw ValueError("input " + std::to_string(i) + " is null");
    if (x[i].row_size != exec_.input_row_size(i))
      throw ValueError("input " + std::to_string(i) + " has " + std::to_string(x[i].row_size) +
                       " values per sample, the model expects " +
                       std::to_string(exec_.input_row_size(i)));
    if (x[i].rows != n)
      throw ValueError("all inputs must have the same number of samples; got " + std::to_string(n) +
                       " and " + std::to_string(x[i].rows));
  }
  if (!y) return;
  if (y->size() != num_outputs())
    throw ValueError("the model has " + std::to_string(num_outputs()) + " outputs, got " +
                     std::to_string(y->size()) + " target arrays");
  for (size_t o = 0; o < y->size(); ++o) {
    const ArrayView& t = (*y)[o];
    if (t.rows != n)
      throw ValueError("x and y have different numbers of samples: " + std::to_string(n) + " and " +
                       std::to_string(t.rows));
    if (t.row_size != target_row_size(o))
      throw ValueError("target " + std::to_string(o) + " has " + std::to_string(t.row_size) +
                       " values per sample, but the output and loss " + loss_name(losses_[o].kind) +
                       " need " + std::to_string(target_row_size(o)));
  }
}

void Model::gather_inputs(Executor& e, const std::vector<ArrayView>& x, const int64_t* order,
                          int64_t begin, int64_t rows) {
  e.reserve(rows);
  for (size_t i = 0; i < x.size(); ++i)
    be().gather_rows(e.context(), x[i].data, x[i].row_size, order, begin, rows, e.input_buffer(i));
}

void Model::write_weights(const std::function<void()>& write) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  const auto writing = lock_weights_for_writing();
  write();
}

std::shared_lock<std::shared_mutex> Model::lock_weights_for_reading() {
  {
    const std::lock_guard<std::mutex> wait_for_writers(turnstile_);
  }
  return std::shared_lock<std::shared_mutex>(weights_mutex_);
}

std::unique_lock<std::shared_mutex> Model::lock_weights_for_writing() {
  const std::lock_guard<std::mutex> hold_readers_back(turnstile_);
  return std::unique_lock<std::shared_mutex>(weights_mutex_);
}

std::unique_ptr<Executor> Model::borrow_inference_executor() {
  {
    const std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_inference_.empty()) {
      std::unique_ptr<Executor> e = std::move(idle_inference_.back());
      idle_inference_.pop_back();
      return e;
    }
  }
  // The model's outputs only: predictions need no masks.
  return std::make_unique<Executor>(graph_, exec_.inputs(), outputs(), exec_.device(),
                                    /*forward_only=*/true);
}

void Model::return_inference_executor(std::unique_ptr<Executor> e) {
  const std::lock_guard<std::mutex> lock(pool_mutex_);
  idle_inference_.push_back(std::move(e));
}

void Model::load_batch(const std::vector<ArrayView>& x, const std::vector<ArrayView>* y,
                       const int64_t* order, int64_t begin, int64_t rows) {
  gather_inputs(exec_, x, order, begin, rows);
  if (!y) return;
  for (size_t o = 0; o < y->size(); ++o) {
    const ArrayView& t = (*y)[o];
    if (targets_[o].size() < rows * t.row_size)
      targets_[o] = Tensor(Shape{exec_.capacity(), t.row_size}, 0.0f, device());
    be().gather_rows(ctx(), t.data, t.row_size, order, begin, rows, targets_[o].data());
  }
}

void Model::check_sample_weights(const std::vector<ArrayView>& sample_weights, int64_t n) {
  if (!sample_weights.empty() && sample_weights.size() != num_outputs())
    throw ValueError("sample_weight: the model has " + std::to_string(num_outputs()) +
                     " outputs, got " + std::to_string(sample_weights.size()) + " weight arrays");
  for (size_t o = 0; o < num_outputs(); ++o) {
    weighted_[o] = !sample_weights.empty() && sample_weights[o].data;
    if (!weighted_[o]) continue;
    const ArrayView& w = sample_weights[o];
    if (w.rows != n || w.row_size != 1)
      throw ValueError("sample_weight for output " + std::to_string(o) + " must hold one weight " +
                       "per sample, shape (" + std::to_string(n) + ",); got " +
                       std::to_string(w.rows) + " rows of " + std::to_string(w.row_size));
  }
}

void Model::load_sample_weights(const std::vector<ArrayView>& sample_weights, const int64_t* order,
                                int64_t begin, int64_t rows) {
  for (size_t o = 0; o < num_outputs(); ++o) {
    if (!weighted_[o]) continue;
    const int64_t entries = exec_.output_row_size(o) / std::max<int64_t>(output_classes(o), 1);
    if (batch_weights_[o].size() < rows * entries)
      batch_weights_[o] = Tensor(Shape{exec_.capacity() * entries}, 0.0f, device());
    float* w = batch_weights_[o].data();
    be().gather_rows(ctx(), sample_weights[o].data, 1, order, begin, rows, w);
    if (entries > 1) be().spread_rows(ctx(), w, rows, entries);  // each sample's over its entries
  }
}

void Model::copy_last_outputs(const std::vector<float*>& out) const {
  if (out.size() != num_outputs()) throw ValueError("copy_last_outputs: one buffer per output");
  for (size_t o = 0; o < out.size(); ++o)
    be().copy_to_host(ctx(), out[o], exec_.output(o),
                      static_cast<size_t>(last_rows_ * exec_.output_row_size(o)) * sizeof(float));
}

double Model::accumulate_loss_and_metrics(int64_t rows, bool with_grad) {
  last_rows_ = rows;
  double total = 0.0;
  for (size_t o = 0; o < num_outputs(); ++o) {
    const int64_t cols = output_classes(o);
    const int64_t samples = rows * (exec_.output_row_size(o) / std::max<int64_t>(cols, 1));
    const float weight = losses_[o].weight;
    const float* loss_weights = weighted_[o] ? batch_weights_[o].data() : nullptr;
    if (mask_output_[o] >= 0) {
      apply_output_masks(o, rows);
      if (!graph_losses_[o]) loss_weights = mask_loss_weights_[o].data();
    }
    // The output's loss reduced as its spec says; the kernel scales the gradient.
    const double value =
        graph_losses_[o]
            ? graph_loss(o, rows, with_grad)
            : be().loss_forward_backward(ctx(), losses_[o], exec_.output(o), targets_[o].data(),
                                         loss_weights, samples, cols, weight,
                                         with_grad ? exec_.output_grad(o) : nullptr, nullptr);
    total += weight * value;
    // Keras logs each output's unweighted loss too ("<output>_loss").
    output_loss_sums_[o] += value * static_cast<double>(rows);
  }
  total += penalty_loss();  // Keras adds `model.losses` in fit and evaluate alike
  // Keras's loss tracker: the batch's mean loss weighted by the batch size.
  loss_sum_ += total * static_cast<double>(rows);
  seen_ += rows;
  update_metrics(rows);
  return total;
}

void Model::update_metrics(int64_t rows) {
  // Keras's compile metrics see no sample weights; weighted_metrics do.
  for (size_t i = 0; i < metrics_.size(); ++i) {
    const MetricSpec& m = metrics_[i];
    if (metric_graphs_[i]) {
      update_graph_metric(m, *metric_graphs_[i], rows);
      continue;
    }
    const auto o = static_cast<size_t>(m.output);
    const int64_t cols = output_classes(o);
    const int64_t samples = rows * (exec_.output_row_size(o) / std::max<int64_t>(cols, 1));
    be().metric_update(ctx(), *m.metric, exec_.output(o), targets_[o].data(), metric_weights(m, o),
                       samples, cols, 1);
  }
}

// A custom loss: its graph gives values (rows, k); reduced as Keras's
// reduce_weighted_values does - the sum of value * sample weight, over the number of
// values (sum_over_batch_size), over the weights' sum (mean_with_sample_weight), or
// not divided (sum) - and its gradient flows back through the graph to the output.
double Model::graph_loss(size_t output, int64_t rows, bool with_grad) {
  Executor& e = *graph_losses_[output];
  run_targets_graph(e, output, rows, with_grad);
  const int64_t k = e.output_row_size(0), pred_row = exec_.output_row_size(output);
  const float* w = row_weights(output, rows);
  int64_t w_rows = rows, w_k = k;
  // A masked output whose loss gives one value per step (issue 11): each value takes its
  // step's weight (apply_output_masks), as one row of one value.
  const int mask = mask_output_[output];
  if (mask >= 0 && k == exec_.output_row_size(static_cast<size_t>(mask))) {
    w = mask_loss_weights_[output].data();
    w_rows = rows * k;
    w_k = 1;
  }
  double sum = 0.0, weight_sum = 0.0;
  be().weighted_sum(ctx(), e.output(0), w, w_rows, w_k, &sum, &weight_sum);
  const LossSpec& spec = losses_[output];
  double divisor = 1.0;
  if (spec.reduction == Reduction::SumOverBatchSize) divisor = static_cast<double>(rows * k);
  if (spec.reduction == Reduction::MeanWithSampleWeight) divisor = weight_sum;
  if (divisor == 0.0) divisor = 1.0;
  if (with_grad) {
    be().fill_row_scales(ctx(), e.output_grad(0), w, w_rows, w_k, spec.weight, divisor);
    e.backward(rows);
    float* out_grad = exec_.output_grad(output);
    const float* in_grad = e.input_grad(0);
    if (in_grad)
      be().copy(ctx(), out_grad, in_grad, static_cast<size_t>(rows * pred_row) * sizeof(float));
    else
      be().fill(ctx(), out_grad, rows * pred_row, 0.0f);
  }
  return sum / divisor;
}

double Model::penalty_loss() const {
  double sum = exec_.extra_loss();
  for (size_t i : regularized_) {
    const Variable& v = *exec_.trainable()[i];
    sum += weight_penalty(v, nullptr);
  }
  return sum;
}

double Model::weight_penalty(const Variable& v, float* grad) const {
  double sum = 0.0;
  if (v.l1 != 0.0f || v.l2 != 0.0f) {
    if (grad)
      be().add_penalty_gradient(ctx(), v.value.data(), v.value.size(), v.l1, v.l2, grad);
    else
      sum += be().penalty(ctx(), v.value.data(), v.value.size(), v.l1, v.l2);
  }
  if (v.orthogonal != 0.0f) {
    const Shape& s = v.value.shape();
    sum += be().orthogonal_penalty(ctx(), v.value.data(), s[0], s[1], v.orthogonal_columns,
                                   v.orthogonal, grad);
  }
  if (!penalty_graphs_.empty()) sum += graph_penalty(v, grad);
  return sum;
}

void Model::set_weight_penalty_graph(std::shared_ptr<Variable> variable,
                                     std::shared_ptr<Graph> graph, int input, int value) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!variable) throw ValueError("set_weight_penalty_graph: a variable is needed");
  penalty_graphs_.erase(std::remove_if(penalty_graphs_.begin(), penalty_graphs_.end(),
                                       [&](const auto& p) { return p.first == variable; }),
                        penalty_graphs_.end());
  if (!graph) return;
  if (graph->row_shape(input) != variable->value.shape())
    throw ValueError("regularizer of '" + variable->name + "': its graph takes rows of shape " +
                     shape_to_string(graph->row_shape(input)) + ", the variable has shape " +
                     shape_to_string(variable->value.shape()));
  auto exec = std::make_unique<Executor>(std::move(graph), std::vector<int>{input},
                                         std::vector<int>{value}, exec_.device());
  if (exec->output_row_size(0) != 1)
    throw ValueError("regularizer of '" + variable->name + "': it must give one number");
  exec->request_input_gradient(0);
  penalty_graphs_.emplace_back(std::move(variable), std::move(exec));
}

double Model::graph_penalty(const Variable& v, float* grad) const {
  for (const auto& [variable, e] : penalty_graphs_) {
    if (variable.get() != &v) continue;
    e->reserve(1);
    be().copy(ctx(), e->input_buffer(0), v.value.data(),
              static_cast<size_t>(v.value.size()) * sizeof(float));
    e->forward(1, grad != nullptr);
    if (!grad) {
      float value = 0.0f;
      be().copy_to_host(ctx(), &value, e->output(0), sizeof(float));
      return static_cast<double>(value);
    }
    be().fill(ctx(), e->output_grad(0), 1, 1.0f);
    e->backward(1);
    if (const float* g = e->input_grad(0)) be().add_into(ctx(), g, grad, v.value.size(), true);
    return 0.0;
  }
  return 0.0;
}

void Model::add_penalty_gradient(size_t i) {
  weight_penalty(*exec_.trainable()[i], exec_.trainable_grad(i));
}

void Model::add_penalty_gradients() {
  for (size_t i : regularized_) add_penalty_gradient(i);
}

void Model::apply_constraint(size_t i) {
  const WeightConstraint& c = exec_.trainable()[i]->constraint;
  if (c.kind != WeightConstraint::Kind::kNone)
    be().apply_weight_constraint(ctx(), exec_.trainable_params()[i], c);
}

void Model::train_batches(const std::vector<ArrayView>& x, const std::vector<ArrayView>& y,
                          const int64_t* order, int64_t batch_size, int64_t batch_begin,
                          int64_t batch_end, const std::vector<ArrayView>& sample_weights) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!compiled()) throw ValueError("You must call `compile()` before training the model.");
  check_batch_size(batch_size);
  check_data(x, &y);
  const int64_t n = x[0].rows;
  check_sample_weights(sample_weights, n);
  const auto writing = lock_weights_for_writing();
  exec_.reserve(std::min(batch_size, std::max<int64_t>(n, 1)));
  // Each variable is updated as soon as backward has its gradient, while that
  // gradient (and, for most layers, the weights the layer's backward just read) are
  // still in cache; the step is the same as updating them all at the end.
  const bool per_variable = optimizer_->steps_per_variable();
  const std::vector<float*>& params = exec_.trainable_params();
  const std::function<void(size_t)> update_variable = [this, &params](size_t i) {
    add_penalty_gradient(i);
    optimizer_->apply_one(i, params[i], exec_.trainable_grads()[i]);
    apply_constraint(i);
  };
  if (reducer_) {
    check_ranks_agree(true, n, batch_size, batch_begin, batch_end, order != nullptr);
    for_each_batch(n, batch_size, batch_begin, batch_end, [&](int64_t start, int64_t rows) {
      const BatchShard s = shard(start, rows);
      load_batch(x, &y, order, s.start, s.rows);
      load_sample_weights(sample_weights, order, s.start, s.rows);
      exec_.set_global_rows(s.global_rows);
      exec_.forward(s.rows, true);
      sharded_loss_and_metrics(s, true);
      exec_.backward(s.rows);
      reduce_gradients_and_apply();
    });
    return;
  }
  for_each_batch(n, batch_size, batch_begin, batch_end, [&](int64_t start, int64_t rows) {
    load_batch(x, &y, order, start, rows);
    load_sample_weights(sample_weights, order, start, rows);
    exec_.forward(rows, true);
    accumulate_loss_and_metrics(rows, true);
    if (per_variable) {
      optimizer_->open_step(params);
      exec_.backward(rows, update_variable);
      optimizer_->close_step();
    } else {
      exec_.backward(rows);
      add_penalty_gradients();
      optimizer_->apply(params, exec_.trainable_grads());
      for (size_t i = 0; i < params.size(); ++i) apply_constraint(i);
    }
  });
}

void Model::test_batches(const std::vector<ArrayView>& x, const std::vector<ArrayView>& y,
                         int64_t batch_size, int64_t batch_begin, int64_t batch_end,
                         const std::vector<ArrayView>& sample_weights) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!compiled()) throw ValueError("You must call `compile()` before evaluating the model.");
  check_batch_size(batch_size);
  check_data(x, &y);
  check_sample_weights(sample_weights, x[0].rows);
  if (reducer_) {
    check_ranks_agree(false, x[0].rows, batch_size, batch_begin, batch_end, false);
    for_each_batch(x[0].rows, batch_size, batch_begin, batch_end, [&](int64_t start, int64_t rows) {
      const BatchShard s = shard(start, rows);
      load_batch(x, &y, nullptr, s.start, s.rows);
      load_sample_weights(sample_weights, nullptr, s.start, s.rows);
      exec_.set_global_rows(s.global_rows);
      exec_.forward(s.rows, false);
      sharded_loss_and_metrics(s, false);
    });
    return;
  }
  for_each_batch(x[0].rows, batch_size, batch_begin, batch_end, [&](int64_t start, int64_t rows) {
    load_batch(x, &y, nullptr, start, rows);
    load_sample_weights(sample_weights, nullptr, start, rows);
    exec_.forward(rows, false);
    accumulate_loss_and_metrics(rows, false);
  });
}

void Model::predict(const std::vector<ArrayView>& x, int64_t batch_size,
                    const std::vector<float*>& out) {
  // No model lock: the checks read what construction fixed, and the pass runs on an
  // executor no other call uses.
  check_batch_size(batch_size);
  check_data(x, nullptr);
  if (out.size() != num_outputs()) throw ValueError("predict: one output buffer per output needed");
  const int64_t n = x[0].rows;
  std::unique_ptr<Executor> e = borrow_inference_executor();
  {
    const auto reading = lock_weights_for_reading();
    for_each_batch(n, batch_size, 0, (n + batch_size - 1) / batch_size,
                   [&](int64_t start, int64_t rows) {
                     gather_inputs(*e, x, nullptr, start, rows);
                     e->forward(rows, false);
                     for (size_t o = 0; o < out.size(); ++o) {
                       const int64_t row = e->output_row_size(o);
                       be().copy_to_host(e->context(), out[o] + start * row, e->output(o),
                                         static_cast<size_t>(rows * row) * sizeof(float));
                     }
                   });
  }
  // A pass that threw drops its executor with the exception; a finished one is kept.
  return_inference_executor(std::move(e));
}

void Model::forward_pass(const std::vector<ArrayView>& x, bool training,
                         const std::vector<float*>& out) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  check_data(x, nullptr);
  if (out.size() != num_outputs())
    throw ValueError("forward_pass: one output buffer per output needed");
  const int64_t rows = x[0].rows;
  // Training mode writes weights (moving statistics, the dropout counter): readers wait.
  std::shared_lock<std::shared_mutex> reading;
  std::unique_lock<std::shared_mutex> writing;
  if (training)
    writing = lock_weights_for_writing();
  else
    reading = lock_weights_for_reading();
  exec_.reserve(std::max<int64_t>(rows, 1));
  load_batch(x, nullptr, nullptr, 0, rows);
  // A pass of one rank alone (layer(x, training=True)): statistics over its own rows, as
  // no other rank joins the collectives.
  struct LocalPass {
    Executor& e;
    Reducer* reducer;
    ~LocalPass() { e.set_reducer(reducer); }
  } local{exec_, reducer_.get()};
  exec_.set_reducer(nullptr);
  exec_.set_global_rows(0);
  exec_.forward(rows, training);
  for (size_t o = 0; o < out.size(); ++o)
    be().copy_to_host(ctx(), out[o], exec_.output(o),
                      static_cast<size_t>(rows * exec_.output_row_size(o)) * sizeof(float));
}

std::vector<double> Model::metric_results() const {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (reducer_) {
    // Every rank's sums, added up: [loss sum, samples, per-output sums, metric states...].
    std::vector<double> sums{loss_sum_, static_cast<double>(seen_)};
    sums.insert(sums.end(), output_loss_sums_.begin(), output_loss_sums_.end());
    std::vector<size_t> begin;
    for (const MetricSpec& m : metrics_) {
      begin.push_back(sums.size());
      const std::vector<double> state = m.metric->state();
      sums.insert(sums.end(), state.begin(), state.end());
    }
    begin.push_back(sums.size());
    check_same_on_every_rank({{"the number of metric values", static_cast<int64_t>(sums.size())}});
    reducer_->allreduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
    const double seen = sums[1] != 0.0 ? sums[1] : 1.0;
    std::vector<double> r{sums[0] / seen};
    if (num_outputs() > 1)
      for (size_t o = 0; o < num_outputs(); ++o) r.push_back(sums[2 + o] / seen);
    for (size_t i = 0; i < metrics_.size(); ++i) {
      Metric all = *metrics_[i].metric;  // the sums in a copy: the local state stays
      all.set_state({sums.begin() + static_cast<std::ptrdiff_t>(begin[i]),
                     sums.begin() + static_cast<std::ptrdiff_t>(begin[i + 1])});
      for (double v : all.result()) r.push_back(v);
    }
    return r;
  }
  return local_metric_results();
}

std::vector<double> Model::local_metric_results() const {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  const double seen = seen_ ? static_cast<double>(seen_) : 1.0;
  std::vector<double> r{loss_sum_ / seen};
  if (num_outputs() > 1)
    for (double sum : output_loss_sums_) r.push_back(sum / seen);
  for (const MetricSpec& m : metrics_)
    for (double v : m.metric->result()) r.push_back(v);
  return r;
}

void Model::reset_metrics() {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  loss_sum_ = 0.0;
  seen_ = 0;
  output_loss_sums_.assign(num_outputs(), 0.0);
  for (const MetricSpec& m : metrics_) m.metric->reset();
}

// ---- data parallel (issue 16) ---------------------------------------------------------------

void Model::set_reducer(std::shared_ptr<Reducer> reducer) {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (reducer && !device().is_cpu())
    throw ValueError(
        "set_reducer: data-parallel training exchanges host buffers; the model is on " +
        device().str() + ", not the CPU");
  if (reducer && reducer->size() < 1)
    throw ValueError("set_reducer: the reducer has " + std::to_string(reducer->size()) + " ranks");
  reducer_ = std::move(reducer);
  exec_.set_reducer(reducer_.get());
  exec_.set_global_rows(0);
}

void Model::broadcast_weights() {
  const std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (!reducer_) return;
  const auto writing = lock_weights_for_writing();
  // Every variable, then (compiled) every optimizer slot; and the optimizer's scalars.
  std::vector<Tensor*> tensors;
  for (const VariablePtr& v : exec_.variables()) tensors.push_back(&v->value);
  std::vector<double> scalars;
  if (optimizer_) {
    for (std::vector<Tensor>& slots : optimizer_->slots())
      for (Tensor& t : slots) tensors.push_back(&t);
    scalars.push_back(static_cast<double>(optimizer_->iterations));
    for (float v : optimizer_->scalar_state()) scalars.push_back(v);
  }
  int64_t total = 0;
  for (const Tensor* t : tensors) total += t->size();
  check_same_on_every_rank(
      {{"the number of weight and optimizer tensors", static_cast<double>(tensors.size())},
       {"the number of weight and optimizer values", static_cast<double>(total)},
       {"the number of optimizer scalars", static_cast<double>(scalars.size())}});
  // A sum to which only rank 0 contributes is rank 0's values, exactly.
  const bool root = reducer_->rank() == 0;
  std::vector<float> flat(static_cast<size_t>(total), 0.0f);
  size_t at = 0;
  for (const Tensor* t : tensors) {
    const auto n = static_cast<size_t>(t->size());
    if (root) be().copy_to_host(ctx(), flat.data() + at, t->data(), n * sizeof(float));
    at += n;
  }
  if (!root) std::fill(scalars.begin(), scalars.end(), 0.0);
  reducer_->allreduce_sum(flat.data(), total);
  reducer_->allreduce_sum(scalars.data(), static_cast<int64_t>(scalars.size()));
  at = 0;
  for (Tensor* t : tensors) {
    const auto n = static_cast<size_t>(t->size());
    be().copy_from_host(ctx(), t->data(), flat.data() + at, n * sizeof(float));
    at += n;
  }
  if (optimizer_) {
    optimizer_->set_iterations(static_cast<int64_t>(scalars[0]));
    optimizer_->set_scalar_state(std::vector<float>(scalars.begin() + 1, scalars.end()));
  }
}

Model::BatchShard Model::shard(int64_t start, int64_t global_rows) const {
  const int r = reducer_->rank(), n = reducer_->size();
  const int64_t begin = shard_begin(global_rows, r, n);
  return {start + begin, shard_end(global_rows, r, n) - begin, global_rows};
}

void Model::check_same_on_every_rank(
    const std::vector<std::pair<const char*, int64_t>>& values) const {
  // Only sums are at hand, so each value goes as its four 16-bit pieces c and their squares:
  // all ranks hold the same piece exactly when the sum of c is N c and the sum of c^2 is
  // N c^2 on every rank (the variance is zero), and these sums are exact in double. The
  // call's size is fixed by the list, so a mismatch is an error on every rank, not a hang.
  constexpr int kPieces = 4;
  std::vector<double> sums;
  for (const auto& [name, v] : values) {
    sums.push_back(static_cast<double>(v));  // for the message
    for (int k = 0; k < kPieces; ++k) {
      const auto c = static_cast<double>((static_cast<uint64_t>(v) >> (16 * k)) & 0xFFFFu);
      sums.push_back(c);
      sums.push_back(c * c);
    }
  }
  reducer_->allreduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  const auto n = static_cast<double>(reducer_->size());
  const size_t stride = 1 + 2 * kPieces;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t v = values[i].second;
    bool same = true;
    for (int k = 0; k < kPieces; ++k) {
      const auto c = static_cast<double>((static_cast<uint64_t>(v) >> (16 * k)) & 0xFFFFu);
      same = same && sums[i * stride + 1 + 2 * static_cast<size_t>(k)] == n * c &&
             sums[i * stride + 2 + 2 * static_cast<size_t>(k)] == n * c * c;
    }
    if (!same) {
      char mean[32];
      std::snprintf(mean, sizeof mean, "%.6g", sums[i * stride] / n);
      throw ValueError(std::string("data-parallel training: the ranks disagree on ") +
                       values[i].first + " (rank " + std::to_string(reducer_->rank()) + " has " +
                       std::to_string(v) + ", the mean over the " +
                       std::to_string(reducer_->size()) + " ranks is " + mean +
                       "); every rank must build the same model and pass the same arguments");
    }
  }
}

void Model::check_ranks_agree(bool training, int64_t n, int64_t batch_size, int64_t batch_begin,
                              int64_t batch_end, bool ordered) const {
  int64_t weights = 0;
  for (const Variable* v : exec_.trainable()) weights += v->value.size();
  int64_t weighted = 0;  // a bit per output (the first 62)
  for (size_t o = 0; o < std::min<size_t>(num_outputs(), 62); ++o)
    if (weighted_[o]) weighted |= int64_t{1} << o;
  check_same_on_every_rank(
      {{"the call (train or test)", training ? int64_t{1} : int64_t{2}},
       {"the number of samples", n},
       {"batch_size", batch_size},
       {"the first batch", batch_begin},
       {"the end batch", batch_end},
       {"whether the batches are shuffled", ordered ? int64_t{1} : int64_t{0}},
       {"the number of trainable variables", static_cast<int64_t>(exec_.trainable().size())},
       {"the number of trainable weights", weights},
       {"the number of model nodes", static_cast<int64_t>(graph_->size())},
       {"the number of outputs", static_cast<int64_t>(num_outputs())},
       {"the number of metrics", static_cast<int64_t>(metrics_.size())},
       {"which outputs have sample weights", weighted}});
}

double Model::variable_penalty() const {
  double sum = 0.0;
  for (size_t i : regularized_) {
    const Variable& v = *exec_.trainable()[i];
    sum += weight_penalty(v, nullptr);
  }
  return sum;
}

void Model::sharded_loss_and_metrics(const BatchShard& s, bool with_grad) {
  const int64_t rows = s.rows, m = s.global_rows;
  // Each output's divisor over the global batch. Where it depends on the data (sample
  // weights under mean_with_sample_weight, a Keras mask, ignore_class) it is this rank's
  // part here, and the parts are summed across ranks in one call.
  const size_t outputs = num_outputs();
  loss_divisors_.assign(outputs, 1.0);
  std::vector<double> local_sums(outputs, 0.0);         // graph losses: this rank's weighted sum
  std::vector<const float*> weights(outputs, nullptr);  // per row (graph) or entry (built-in)
  std::vector<int64_t> weight_rows(outputs, rows), weight_cols(outputs, 1);
  std::vector<size_t> summed;
  for (size_t o = 0; o < outputs; ++o) {
    const LossSpec& spec = losses_[o];
    const int mask = mask_output_[o];
    if (!graph_losses_[o] && (loss_couples_rows(spec) || spec.kind == LossKind::CTC))
      throw ValueError("data-parallel training: output " + std::to_string(o) + "'s loss " +
                       loss_name(spec.kind) +
                       " is not split across ranks (its value couples a batch's rows or "
                       "reduces by samples, not rows); train it in one process");
    // Without the rescaling to the kept entries (apply_output_masks): that one is per batch.
    if (mask >= 0) apply_output_masks(o, rows);
    const float* mask_values = mask >= 0 ? exec_.output(static_cast<size_t>(mask)) : nullptr;
    const int64_t mask_entries =
        mask >= 0 ? rows * exec_.output_row_size(static_cast<size_t>(mask)) : 0;
    double& divisor = loss_divisors_[o];
    double unused = 0.0;
    if (graph_losses_[o]) {
      Executor& e = *graph_losses_[o];
      run_targets_graph(e, o, rows, with_grad);
      const int64_t k = e.output_row_size(0);
      // As graph_loss: a masked output's loss with one value per step weights each value.
      const bool by_mask = mask >= 0 && k == exec_.output_row_size(static_cast<size_t>(mask));
      weights[o] = by_mask ? mask_loss_weights_[o].data() : row_weights(o, rows);
      weight_rows[o] = by_mask ? rows * k : rows;
      weight_cols[o] = by_mask ? 1 : k;
      double weight_sum = 0.0;
      be().weighted_sum(ctx(), e.output(0), weights[o], weight_rows[o], weight_cols[o],
                        &local_sums[o], &weight_sum);
      if (spec.reduction == Reduction::Sum) continue;
      if (spec.reduction == Reduction::MeanWithSampleWeight) {
        divisor = weight_sum;
      } else if (by_mask) {  // the mean over the kept steps
        be().weighted_sum(ctx(), mask_values, nullptr, mask_entries, 1, &divisor, &unused);
      } else {
        divisor = static_cast<double>(m * k);
        continue;
      }
      summed.push_back(o);
      continue;
    }
    const int64_t cols = output_classes(o);
    const int64_t entries = rows * (exec_.output_row_size(o) / std::max<int64_t>(cols, 1));
    weights[o] = mask >= 0 ? mask_loss_weights_[o].data()
                           : (weighted_[o] ? batch_weights_[o].data() : nullptr);
    if (spec.reduction == Reduction::Sum) continue;
    const bool by_weights = spec.reduction == Reduction::MeanWithSampleWeight && weights[o];
    const bool ignoring =
        spec.kind == LossKind::SparseCategoricalCrossentropy && spec.ignore_class.has_value();
    if (ignoring && mask >= 0)
      throw ValueError("data-parallel training: output " + std::to_string(o) +
                       " has both a Keras mask and ignore_class, which is not supported");
    if (ignoring) {  // the entries whose label is not ignore_class (weighted, by weights)
      const int64_t per_row = exec_.output_row_size(o) / std::max<int64_t>(cols, 1);
      if (kept_.size() < entries) kept_ = Tensor(Shape{exec_.capacity() * per_row}, 0.0f, device());
      be().not_equal_mask(ctx(), targets_[o].data(), entries, 1,
                          static_cast<float>(*spec.ignore_class), false, kept_.data());
      be().weighted_sum(ctx(), kept_.data(), by_weights ? weights[o] : nullptr, entries, 1,
                        &divisor, &unused);
    } else if (by_weights) {  // the weights' sum (times the mask, where there is one)
      be().weighted_sum(ctx(), weights[o], nullptr, entries, 1, &divisor, &unused);
    } else if (mask >= 0) {  // the kept entries
      be().weighted_sum(ctx(), mask_values, nullptr, mask_entries, 1, &divisor, &unused);
    } else {
      divisor = static_cast<double>(m * (exec_.output_row_size(o) / std::max<int64_t>(cols, 1)));
      continue;
    }
    summed.push_back(o);
  }
  if (!summed.empty()) {
    std::vector<double> part;
    for (size_t o : summed) part.push_back(loss_divisors_[o]);
    reducer_->allreduce_sum(part.data(), static_cast<int64_t>(part.size()));
    for (size_t i = 0; i < summed.size(); ++i) loss_divisors_[summed[i]] = part[i];
  }
  double total = 0.0;  // this rank's part of the global batch's weighted loss
  for (size_t o = 0; o < outputs; ++o) {
    const LossSpec& spec = losses_[o];
    // The kernels' divide_no_nan: a zero divisor gives a zero loss and zero gradients; a
    // graph loss divides by 1 instead (graph_loss).
    double divisor = loss_divisors_[o];
    if (graph_losses_[o] && divisor == 0.0) divisor = 1.0;
    const double inv = divisor != 0.0 ? 1.0 / divisor : 0.0;
    double sum = 0.0;  // this rank's sum of weighted values
    if (graph_losses_[o]) {
      Executor& e = *graph_losses_[o];
      sum = local_sums[o];
      if (with_grad) {
        const int64_t pred_row = exec_.output_row_size(o);
        be().fill_row_scales(ctx(), e.output_grad(0), weights[o], weight_rows[o], weight_cols[o],
                             spec.weight, divisor);
        e.backward(rows);
        float* out_grad = exec_.output_grad(o);
        const float* in_grad = e.input_grad(0);
        if (in_grad)
          be().copy(ctx(), out_grad, in_grad, static_cast<size_t>(rows * pred_row) * sizeof(float));
        else
          be().fill(ctx(), out_grad, rows * pred_row, 0.0f);
      }
    } else {
      // The reduction's sum over this rank's rows, its gradient scaled by the global divisor.
      LossSpec summing = spec;
      summing.reduction = Reduction::Sum;
      const int64_t cols = output_classes(o);
      const int64_t samples = rows * (exec_.output_row_size(o) / std::max<int64_t>(cols, 1));
      sum = be().loss_forward_backward(ctx(), summing, exec_.output(o), targets_[o].data(),
                                       weights[o], samples, cols,
                                       static_cast<float>(spec.weight * inv),
                                       with_grad ? exec_.output_grad(o) : nullptr, nullptr);
    }
    const double part = sum * inv;
    total += spec.weight * part;
    output_loss_sums_[o] += part * static_cast<double>(m);
  }
  // The activity penalties are this rank's part of the global batch's mean already (the
  // ops divide by the global rows); the weights' penalties are every rank's, once per sample.
  loss_sum_ += (total + exec_.extra_loss()) * static_cast<double>(m) +
               variable_penalty() * static_cast<double>(rows);
  seen_ += rows;
  update_metrics(rows);
}

void Model::reduce_gradients_and_apply() {
  // The weights' penalty gradients are the same on every rank: added once, on rank 0.
  if (reducer_->rank() == 0) add_penalty_gradients();
  const std::vector<float*>& params = exec_.trainable_params();
  const std::vector<const float*>& grads = exec_.trainable_grads();
  const std::vector<Variable*>& vars = exec_.trainable();
  size_t total = 0;
  for (const Variable* v : vars) total += static_cast<size_t>(v->value.size());
  flat_grads_.resize(total);
  size_t at = 0;
  for (size_t i = 0; i < vars.size(); ++i) {
    const auto n = static_cast<size_t>(vars[i]->value.size());
    be().copy_to_host(ctx(), flat_grads_.data() + at, grads[i], n * sizeof(float));
    at += n;
  }
  reducer_->allreduce_sum(flat_grads_.data(), static_cast<int64_t>(total));
  at = 0;
  for (size_t i = 0; i < vars.size(); ++i) {
    const auto n = static_cast<size_t>(vars[i]->value.size());
    be().copy_from_host(ctx(), exec_.trainable_grad(i), flat_grads_.data() + at, n * sizeof(float));
    at += n;
  }
  optimizer_->apply(params, grads);
  for (size_t i = 0; i < params.size(); ++i) apply_constraint(i);
}

}  // namespace ember
