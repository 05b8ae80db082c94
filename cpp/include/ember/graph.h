// A static graph of ops over batched values, and the executor that runs it
// forward and backward (reverse-mode autodiff) over buffers planned once.
//
// Every value has shape (rows, row_shape...), rows being the batch axis. Nodes
// are appended in topological order (an op's inputs exist before it), so the
// executor walks them in index order forward and in reverse order backward.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ember/constraints.h"
#include "ember/context.h"
#include "ember/device.h"
#include "ember/op_kind.h"
#include "ember/tensor.h"

namespace ember {

// A weight: owned jointly by the layers and graphs that use it (a layer shared
// by two models updates the same storage).
struct Variable {
  Variable(std::string name_, Tensor value_, bool trainable_ = true)
      : name(std::move(name_)), value(std::move(value_)), trainable(trainable_) {}
  std::string name;
  Tensor value;
  bool trainable;
  // Weight regularization (kernel_regularizer, ...): while the variable is trainable the
  // Model adds l1 * sum|w| + l2 * sum w^2 to each batch's loss and its gradient to the
  // variable's, as Keras adds `layer.losses`. Zero (the default) costs nothing.
  float l1 = 0.0f, l2 = 0.0f;
  // OrthogonalRegularizer (a rank-2 variable): factor * 0.5 * sum|offdiag(N N^T)| /
  // (n (n - 1) / 2), N the variable's rows (orthogonal_columns: its columns, n of them)
  // L2-normalised. 0 (the default) is off.
  float orthogonal = 0.0f;
  bool orthogonal_columns = false;
  // Sets l1 and l2; ValueError unless both are >= 0.
  void set_regularization(float l1_, float l2_);
  // kernel_constraint, ...: the Model applies it right after each optimizer update of the
  // variable (kind kNone, the default, costs nothing).
  WeightConstraint constraint;
};
using VariablePtr = std::shared_ptr<Variable>;

// What an op sees when it runs. Pointers stay valid between steps; only rows and
// training change, so a step builds nothing.
struct OpForward {
  const Context* ctx = nullptr;  // the executor's device: every kernel goes through ctx->be()
  int64_t rows = 0;
  // The rows of the batch a per-batch mean runs over: rows in one process; with data
  // parallelism (issue 16), the global batch's, of which these rows are one rank's shard.
  int64_t global_rows = 0;
  bool training = false;
  std::vector<const float*> in;  // in[i]: (rows, input row size i)
  float* out = nullptr;          // (rows, output row size)
  // The op's scratch buffers (Op::scratch_bytes), owned by the executor: the same ones in a
  // forward pass and the backward pass that follows it.
  std::vector<void*> scratch;
  template <class T>
  T* scratch_as(size_t i) const {
    return static_cast<T*>(scratch[i]);
  }
  // Where an op adds a penalty of its own to the batch's loss (activity regularization:
  // l1 * sum|y| / rows ...), in training and inference alike, as Keras's `layer.losses`
  // count in fit and evaluate. The executor zeroes it before each forward pass; the Model
  // adds it to the loss it reports. The op adds the penalty's gradient to din itself.
  double* extra_loss = nullptr;
};

struct OpBackward {
  const Context* ctx = nullptr;
  int64_t rows = 0;
  int64_t global_rows = 0;  // as in OpForward
  bool training = false;
  std::vector<const float*> in;  // the forward inputs
  const float* out = nullptr;    // the forward output
  const float* dout = nullptr;   // d loss / d out
  // d loss / d in[i]; nullptr where no gradient flows. accumulate: add instead of write.
  std::vector<float*> din;
  std::vector<char> din_accumulate;
  // Gradients of the op's variables(), aligned with it; nullptr for frozen ones.
  std::vector<float*> dvar;
  std::vector<char> dvar_accumulate;
  std::vector<void*> scratch;  // as in OpForward
  template <class T>
  T* scratch_as(size_t i) const {
    return static_cast<T*>(scratch[i]);
  }
};

class Op {
 public:
  virtual ~Op() = default;
  virtual OpKind kind() const = 0;
  // The name error messages use: the kind's, or a more specific one (a merge's "Add").
  virtual std::string type() const { return op_kind_name(kind()); }
  // Called once when the op joins a graph: validates the input row shapes, keeps
  // what it needs of them, and returns the output row shape. Throws ValueError.
  // An op object belongs to one node (a shared layer makes one op per call).
  virtual Shape build(const std::vector<Shape>& inputs) = 0;
  virtual std::vector<VariablePtr> variables() const { return {}; }
  // The scratch buffers the op needs for a batch of up to max_rows rows, in bytes, one entry
  // per buffer. Each executor allocates its own on its device, so executors sharing a graph
  // (fit, predict, an intermediate model, concurrent inference calls) never share scratch;
  // whatever a backward needs from its forward pass (a dropout mask, batch statistics) lives
  // there too. An op keeps no per-call state of its own.
  virtual std::vector<size_t> scratch_bytes(int64_t /*max_rows*/) const { return {}; }
  virtual void forward(const OpForward& f) = 0;
  virtual void backward(const OpBackward& b) = 0;
};

class Graph {
 public:
  // A placeholder fed with user data; row_shape excludes the batch axis.
  int add_input(Shape row_shape, std::string name);
  // Appends op applied to existing nodes; returns the new node's id. Throws ValueError.
  int add_node(std::shared_ptr<Op> op, std::vector<int> inputs, std::string name);

  size_t size() const { return nodes_.size(); }
  const Shape& row_shape(int node) const { return at(node).row_shape; }
  int64_t row_size(int node) const { return num_elements(at(node).row_shape); }
  const std::string& name(int node) const { return at(node).name; }
  bool is_input(int node) const { return at(node).op == nullptr; }
  const std::vector<int>& inputs(int node) const { return at(node).inputs; }
  const std::shared_ptr<Op>& op(int node) const { return at(node).op; }

 private:
  struct Node {
    std::shared_ptr<Op> op;  // null for inputs
    std::vector<int> inputs;
    Shape row_shape;
    std::string name;
  };
  const Node& at(int node) const;
  std::vector<Node> nodes_;
};

// Runs the part of a graph between given inputs and outputs. Buffers grow to the
// largest batch seen and are then reused: steps allocate nothing.
class Executor {
 public:
  // Throws ValueError naming the op and the device when the device's backend lacks an op.
  // forward_only: an executor for inference, with no gradient buffers at all (backward()
  // and request_input_gradient() refuse).
  Executor(std::shared_ptr<const Graph> graph, std::vector<int> inputs, std::vector<int> outputs,
           Device device = Device::cpu(), bool forward_only = false);
  // The same on a given backend (a device's, or one of a program's own).
  Executor(std::shared_ptr<const Graph> graph, std::vector<int> inputs, std::vector<int> outputs,
           Backend& backend, bool forward_only = false);

  Device device() const { return device_; }
  const Context& context() const { return ctx_; }
  // Data-parallel training (issue 16): the ranks' collectives that ops reach through the
  // context (null: one process), and the rows of the global batch the next passes' rows
  // are a shard of (0: the rows are the batch).
  void set_reducer(Reducer* reducer) { ctx_.reducer = reducer; }
  void set_global_rows(int64_t rows) { global_rows_ = rows; }

  // Re-reads which variables are trainable (after layer.trainable changes).
  void plan_gradients();
  // Also computes d loss / d input i in backward() (a loss graph's prediction input).
  void request_input_gradient(size_t i);
  // d loss / d input i after backward(), or null where nothing upstream of the outputs
  // used the input (its gradient is then zero).
  const float* input_grad(size_t i) const;
  void reserve(int64_t rows);
  int64_t capacity() const { return capacity_; }

  float* input_buffer(size_t i) { return values_[inputs_[i]].data(); }
  const float* output(size_t i) const { return values_[outputs_[i]].data(); }
  // The loss writes d loss / d output i here before backward().
  float* output_grad(size_t i) { return grads_[outputs_[i]].data(); }
  int64_t output_row_size(size_t i) const { return graph_->row_size(outputs_[i]); }
  int64_t input_row_size(size_t i) const { return graph_->row_size(inputs_[i]); }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }

  void forward(int64_t rows, bool training);
  // The ops' penalties (OpForward::extra_loss) from the last forward pass.
  double extra_loss() const { return *extra_loss_; }
  // Propagates output_grad(*) back; fills gradient(i) for every trainable variable.
  // on_grad_ready, when given, is called once per trainable variable (its index in
  // trainable()) as soon as that gradient is final: after the backward of the last
  // node (in backward order) that uses the variable, while the gradient is still in
  // cache. Nothing the rest of the backward pass runs reads that variable again, so
  // the callback may update it in place.
  void backward(int64_t rows, const std::function<void(size_t)>& on_grad_ready = {});

  const std::vector<VariablePtr>& variables() const { return variables_; }
  // Trainable variables and their gradients, aligned.
  const std::vector<Variable*>& trainable() const { return trainable_; }
  std::vector<float*>& trainable_params() { return trainable_params_; }
  const std::vector<const float*>& trainable_grads() const { return trainable_grads_; }
  // Writable: the Model adds the weight penalties' gradients here after backward().
  float* trainable_grad(size_t i) { return const_cast<float*>(trainable_grads_[i]); }

 private:
  void bind_pointers();
  void plan_node_gradients();

  std::shared_ptr<const Graph> graph_;
  bool forward_only_;
  Device device_;
  Context ctx_;
  std::vector<int> inputs_, outputs_;
  std::vector<int> order_;  // nodes to run, ascending
  std::vector<Tensor> values_, grads_;
  std::vector<char> requires_grad_, grad_written_;
  std::vector<char> input_grad_requested_;
  std::vector<OpForward> fwd_;
  std::vector<OpBackward> bwd_;
  std::vector<std::vector<Buffer<unsigned char>>> scratch_;  // per node: its op's scratch
  std::vector<VariablePtr> variables_;
  std::unordered_map<const Variable*, size_t> variable_index_;
  std::vector<std::vector<size_t>> node_vars_;  // per node: indices into variables_
  std::vector<Tensor> var_grads_;               // by variable index; empty for frozen ones
  std::vector<char> var_grad_written_;
  std::vector<std::vector<size_t>> final_vars_;  // per node: variables its backward finishes
  std::vector<size_t> trainable_index_;          // by variable index: position in trainable_
  std::vector<char> var_grad_delivered_;
  std::vector<Variable*> trainable_;
  std::vector<float*> trainable_params_;
  std::vector<const float*> trainable_grads_;
  // On the heap so the ops' pointers to it survive a move of the executor.
  std::unique_ptr<double> extra_loss_ = std::make_unique<double>(0.0);
  int64_t capacity_ = 0;
  int64_t global_rows_ = 0;
};

}  // namespace ember
