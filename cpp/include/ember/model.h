// A model: a graph between inputs and outputs, and once compiled its losses,
// optimizer and metrics. A training step - forward, loss, backward, update,
// metric accumulation - is one call into here.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "ember/graph.h"
#include "ember/losses.h"
#include "ember/metrics.h"
#include "ember/optimizers.h"
#include "ember/reducer.h"

namespace ember {

// A user's contiguous float32 array of `rows` rows of `row_size` values.
struct ArrayView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t row_size = 0;
};

// A compiled metric: a Metric (shared - Python's metric object holds the same
// one, so it reads what training accumulated) on one output. `weighted`: a
// weighted_metrics entry, which applies the call's sample weights.
struct MetricSpec {
  // A fresh metric of a kind with its defaults (threshold: BinaryAccuracy's).
  MetricSpec(MetricKind kind, int out = 0, float threshold = 0.5f);
  MetricSpec(std::shared_ptr<Metric> m, int out = 0, bool is_weighted = false);
  std::shared_ptr<Metric> metric;
  int output = 0;
  bool weighted = false;
};

// Thread safety: one Model may be used from several threads. predict() calls run in
// parallel with each other (and with evaluation): each borrows a forward-only executor
// of its own, whose buffers and op scratch no other call touches, and reads the weights
// under a shared lock. Every other public call that runs or changes the engine holds
// the model's mutex and runs as if alone; what writes weights (a training step, a
// training-mode forward pass) also takes the weights' lock exclusively, so a prediction
// sees the weights of the last finished step, never a step half applied.
class Model {
 public:
  // output_masks (issue 11): empty, or per output the node of its Keras mask (row shape: the
  // output's without its last axis; 1 keep, 0 masked), or -1. A masked output weights its
  // loss and its mean-type metrics per entry as Keras 3 does (losses/loss.py apply_mask).
  Model(std::shared_ptr<Graph> graph, std::vector<int> inputs, std::vector<int> outputs,
        const std::vector<int>& output_masks = {});

  // One loss per output. Throws ValueError on mismatches.
  void compile(std::vector<LossSpec> losses, std::shared_ptr<Optimizer> optimizer,
               std::vector<MetricSpec> metrics);
  bool compiled() const { return optimizer_ != nullptr; }

  // Trains on batches [batch_begin, batch_end) of an epoch: batch b holds rows
  // order[b*batch_size ...] (order null: in sequence). Accumulates metrics.
  // sample_weights: empty, or per output a (rows, 1) view of its samples'
  // weights, gathered like the targets (a view with null data: no weights).
  void train_batches(const std::vector<ArrayView>& x, const std::vector<ArrayView>& y,
                     const int64_t* order, int64_t batch_size, int64_t batch_begin,
                     int64_t batch_end, const std::vector<ArrayView>& sample_weights = {});
  // Same without updates (evaluate, validation).
  void test_batches(const std::vector<ArrayView>& x, const std::vector<ArrayView>& y,
                    int64_t batch_size, int64_t batch_begin, int64_t batch_end,
                    const std::vector<ArrayView>& sample_weights = {});
  // Writes each output (x rows, output row size) into out[i].
  void predict(const std::vector<ArrayView>& x, int64_t batch_size, const std::vector<float*>& out);
  // One forward pass over x as a single batch, in training mode or not (Keras's
  // `layer(x, training=True)`: dropout active, batch statistics used and the moving
  // ones updated); writes each output (x rows, output row size) into out[i].
  void forward_pass(const std::vector<ArrayView>& x, bool training, const std::vector<float*>& out);

  // [loss, per-output losses (only with several outputs), metric 0, metric 1, ...], each
  // over the samples since reset_metrics(). A metric with a vector result (F1Score with
  // average=None, ...) contributes all its values, in order. With a reducer this is a
  // collective: the ranks' loss sums and metric states are summed and the results computed
  // from the sums (every rank gets the one-process numbers; the local state is unchanged).
  std::vector<double> metric_results() const;
  // The outputs of the last batch train_batches or test_batches ran in one process (for
  // metrics computed outside the engine): its rows, and a copy of each output into
  // out[o] (rows * the output's row size).
  int64_t last_batch_rows() const { return last_rows_; }
  // A weight regularizer written with ember.ops (a Regularizer subclass): `graph` takes the
  // variable's value as its one row (input node `input`) and gives the penalty (node
  // `value`, one number). While the variable is trainable, each step adds the penalty to
  // the loss and the graph's gradient to the variable's, as Keras adds `layer.losses`.
  // Takes effect at the next compile; a null graph removes the variable's.
  void set_weight_penalty_graph(std::shared_ptr<Variable> variable, std::shared_ptr<Graph> graph,
                                int input, int value);
  void copy_last_outputs(const std::vector<float*>& out) const;
  // The same over this rank's samples alone, no collective (a progress bar on one rank).
  std::vector<double> local_metric_results() const;
  void reset_metrics();

  // Output `output` takes its loss from a graph of its own (a custom loss written with
  // ember.ops) instead of a built-in kernel: loss_graph maps its inputs `prediction`
  // (shaped like the output) and `target` to per-sample values at node `value`, which
  // the Model reduces as Keras reduces a loss function's values (the compiled
  // LossSpec's weight and reduction; sample weights per sample). Call before compile();
  // a null graph returns the output to its compiled built-in loss.
  void set_graph_loss(size_t output, std::shared_ptr<Graph> loss_graph, int prediction, int target,
                      int value);
  // A compiled Mean metric whose values come from a graph (a custom metric function
  // written with ember.ops): values_graph maps (prediction, target) to per-sample
  // values at node `value`, which `metric` averages as Keras's MeanMetricWrapper does.
  // Register before compile(); clear_graph_metrics() forgets them all.
  void set_graph_metric(std::shared_ptr<Metric> metric, std::shared_ptr<Graph> values_graph,
                        int prediction, int target, int value);
  void clear_graph_metrics();

  // Data-parallel training (issue 16): every rank (process) holds this model and calls the
  // same train_batches / test_batches / metric_results with the same arrays; batch_size is
  // then the GLOBAL batch. Global batch b holds rows order[b * batch_size ...] (m rows), of
  // which rank r of N takes the contiguous shard [m r / N, m (r + 1) / N) (possibly empty).
  // Each rank's loss gradient is its part of the global batch's (the reduction's divisor
  // is the global batch's), the gradients of all trainable variables are summed across
  // ranks in one flat buffer per step, and every rank applies the same update, so N ranks
  // train as one process would on the global batches. BatchNormalization normalizes over
  // the global batch; dropout masks differ per rank. The first collective of each call
  // compares the ranks' model and arguments and throws ValueError on a mismatch. The
  // reducer's buffers are host memory: a CPU model only. Null: one process, as before.
  void set_reducer(std::shared_ptr<Reducer> reducer);
  const std::shared_ptr<Reducer>& reducer() const { return reducer_; }
  // Copies rank 0's weights (every variable, trainable or not) and, once compiled, its
  // optimizer's state (slots, iterations, scalars) to every rank: a collective, so that
  // ranks that built or loaded their models apart start alike. A no-op without a reducer.
  void broadcast_weights();

  // Runs `write`, which changes variables' values in place (a C++ load_weights), with the
  // weights locked as a training step locks them: no prediction sees them half written.
  void write_weights(const std::function<void()>& write);

  // The lock every running call takes (recursive: a caller may hold it across
  // several calls, as the Python bindings do to wait for it without the GIL).
  std::recursive_mutex& mutex() const { return mutex_; }

  Executor& executor() { return exec_; }
  Device device() const { return exec_.device(); }
  Optimizer& optimizer();
  const std::shared_ptr<Graph>& graph() const { return graph_; }
  size_t num_inputs() const { return exec_.num_inputs(); }
  size_t num_outputs() const { return num_outputs_; }
  // The model's output nodes (the executor's outputs also hold the output masks' nodes).
  std::vector<int> outputs() const {
    return {exec_.outputs().begin(),
            exec_.outputs().begin() + static_cast<std::ptrdiff_t>(num_outputs_)};
  }

 private:
  void check_data(const std::vector<ArrayView>& x, const std::vector<ArrayView>* y) const;
  // Copies rows [begin, begin + rows) of x (through order, when given) into e's inputs.
  void gather_inputs(Executor& e, const std::vector<ArrayView>& x, const int64_t* order,
                     int64_t begin, int64_t rows);
  // The weights' lock. A writer waits at the turnstile for readers to drain, holding it
  // so that no new reader starts meanwhile: a stream of predictions cannot starve training.
  std::shared_lock<std::shared_mutex> lock_weights_for_reading();
  std::unique_lock<std::shared_mutex> lock_weights_for_writing();
  // A forward-only executor for one predict() call: an idle one, or a new one.
  std::unique_ptr<Executor> borrow_inference_executor();
  void return_inference_executor(std::unique_ptr<Executor> e);
  // A compiled metric against its output and the losses about to be compiled.
  void check_metric(const MetricSpec& m, const std::vector<LossSpec>& losses) const;
  int64_t target_row_size(size_t output) const;
  int64_t target_row_size(size_t output, const LossSpec& loss) const;  // under `loss`
  int64_t output_classes(size_t output) const;                         // last axis of output i
  void load_batch(const std::vector<ArrayView>& x, const std::vector<ArrayView>* y,
                  const int64_t* order, int64_t begin, int64_t rows);
  double accumulate_loss_and_metrics(int64_t rows, bool with_grad);
  // Validates sample_weights against n samples and notes which outputs are weighted.
  void check_sample_weights(const std::vector<ArrayView>& sample_weights, int64_t n);
  // Gathers the batch's weights, one per loss entry (an output of shape (T, C)
  // has T entries per sample, each weighted by its sample's weight).
  void load_sample_weights(const std::vector<ArrayView>& sample_weights, const int64_t* order,
                           int64_t begin, int64_t rows);
  // Output masks (issue 11): after a forward pass, the weights a masked output's loss and
  // metrics take in place of batch_weights_ (see the constructor).
  void apply_output_masks(size_t output, int64_t rows);
  const float* metric_weights(const MetricSpec& m, size_t output);
  // The batch's regularization penalties (the ops' activity penalties and the trainable
  // variables' L1/L2), which Keras adds to the loss it trains on and reports.
  double penalty_loss() const;
  double graph_loss(size_t output, int64_t rows, bool with_grad);
  void add_penalty_gradients();         // the variables' part; the ops add theirs in backward
  void add_penalty_gradient(size_t i);  // the same for trainable variable i alone
  // Variable v's weight penalty (grad null), or its gradient added into grad (returns 0).
  double weight_penalty(const Variable& v, float* grad) const;
  // The same for a penalty graph of v's (set_weight_penalty_graph), 0 when it has none.
  double graph_penalty(const Variable& v, float* grad) const;
  // Trainable variable i = its constraint(variable i), if it has one: right after the
  // optimizer updated it, as Keras's optimizer assigns constraints after its update.
  void apply_constraint(size_t i);

  // Data parallel (issue 16): see set_reducer.
  struct BatchShard {
    int64_t start = 0, rows = 0;  // this rank's rows of the global batch, in the epoch's order
    int64_t global_rows = 0;      // the global batch's
  };
  BatchShard shard(int64_t start, int64_t global_rows) const;
  // Throws ValueError unless every rank passed the same numbers (a collective).
  void check_same_on_every_rank(const std::vector<std::pair<const char*, int64_t>>& values) const;
  void check_ranks_agree(bool training, int64_t n, int64_t batch_size, int64_t batch_begin,
                         int64_t batch_end, bool ordered) const;
  // The global batch's loss: every output's reduction divides by the global batch's
  // divisor, so this rank's gradient and values are its part of the one-process ones.
  void sharded_loss_and_metrics(const BatchShard& s, bool with_grad);
  // Sums the trainable gradients across ranks (one flat buffer) and applies the update.
  void reduce_gradients_and_apply();
  double variable_penalty() const;
  void update_metrics(int64_t rows);
  std::shared_ptr<Reducer> reducer_;
  std::vector<float> flat_grads_;      // the step's gradients, packed for the one allreduce
  std::vector<double> loss_divisors_;  // per output, the global batch's
  Tensor kept_;                        // 1 where a label is not ignore_class

  mutable std::recursive_mutex mutex_;
  std::shared_mutex weights_mutex_;
  std::mutex turnstile_;
  std::mutex pool_mutex_;  // guards idle_inference_
  std::vector<std::unique_ptr<Executor>> idle_inference_;
  std::shared_ptr<Graph> graph_;
  Executor exec_;
  std::vector<LossSpec> losses_;
  std::shared_ptr<Optimizer> optimizer_;
  std::vector<MetricSpec> metrics_;
  std::vector<Tensor> targets_;        // one batch of targets per output
  std::vector<Tensor> batch_weights_;  // one batch of per-entry sample weights per output
  std::vector<bool> weighted_;         // whether the running call weights output o
  std::vector<size_t> regularized_;    // trainable variables (by index) with an L1/L2 penalty
  double loss_sum_ = 0.0;
  std::vector<double> output_loss_sums_;  // unweighted, per output
  int64_t seen_ = 0;
  int64_t last_rows_ = 0;  // last_batch_rows()
  std::vector<std::pair<std::shared_ptr<Variable>, std::unique_ptr<Executor>>> penalty_graphs_;
  // Per output: the executor of its custom loss graph, or null for a built-in loss.
  std::vector<std::unique_ptr<Executor>> graph_losses_;
  // Custom metric functions: executors by metric, and aligned with metrics_ at compile.
  std::vector<std::pair<const Metric*, std::unique_ptr<Executor>>> graph_metrics_;
  std::vector<Executor*> metric_graphs_;
  Tensor row_weights_;  // row_weights' gathered copy
  // Output masks (issue 11): exec_'s outputs are the model's num_outputs_ outputs, then the
  // masks' nodes; mask_output_[o] is output o's mask among them (-1: none).
  size_t num_outputs_ = 0;
  std::vector<int> mask_output_;
  std::vector<Tensor> mask_loss_weights_, mask_metric_weights_;  // per output, per entry
  // The executor's context and backend: every kernel the model runs goes through them.
  const Context& ctx() const { return exec_.context(); }
  Backend& be() const { return *exec_.context().backend; }
  // Copies output `output`'s batch and its targets into a loss or metric graph's two
  // inputs and runs it forward.
  void run_targets_graph(Executor& e, size_t output, int64_t rows, bool training);
  // One weight per row of output `output`'s batch, or null when it is unweighted.
  const float* row_weights(size_t output, int64_t rows);
  void update_graph_metric(const MetricSpec& m, Executor& e, int64_t rows);
};

}  // namespace ember
