#include "ember/graph.h"

#include <algorithm>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {

void Variable::set_regularization(float l1_, float l2_) {
  if (!(l1_ >= 0.0f) || !(l2_ >= 0.0f))
    throw ValueError("regularization factors of '" + name + "' must be non-negative, got l1=" +
                     std::to_string(l1_) + ", l2=" + std::to_string(l2_));
  l1 = l1_;
  l2 = l2_;
}

const Graph::Node& Graph::at(int node) const {
  if (node < 0 || static_cast<size_t>(node) >= nodes_.size())
    throw ValueError("graph has no node " + std::to_string(node));
  return nodes_[static_cast<size_t>(node)];
}

int Graph::add_input(Shape row_shape, std::string name) {
  num_elements(row_shape);  // validates
  nodes_.push_back({nullptr, {}, std::move(row_shape), std::move(name)});
  return static_cast<int>(nodes_.size() - 1);
}

int Graph::add_node(std::shared_ptr<Op> op, std::vector<int> inputs, std::string name) {
  if (!op) throw ValueError("add_node: op is null");
  std::vector<Shape> shapes;
  for (int i : inputs) shapes.push_back(at(i).row_shape);
  Shape out;
  try {
    out = op->build(shapes);
  } catch (const ValueError& e) {
    throw ValueError("Layer '" + name + "' (" + op->type() + "): " + e.what());
  }
  nodes_.push_back({std::move(op), std::move(inputs), std::move(out), std::move(name)});
  return static_cast<int>(nodes_.size() - 1);
}

Executor::Executor(std::shared_ptr<const Graph> graph, std::vector<int> inputs,
                   std::vector<int> outputs, Device device, bool forward_only)
    : Executor(std::move(graph), std::move(inputs), std::move(outputs), backend_for(device),
               forward_only) {}

Executor::Executor(std::shared_ptr<const Graph> graph, std::vector<int> inputs,
                   std::vector<int> outputs, Backend& backend, bool forward_only)
    : graph_(std::move(graph)),
      forward_only_(forward_only),
      device_(backend.device()),
      ctx_(backend.context()),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)) {
  const size_t n = graph_->size();
  // Nodes the outputs depend on, found by walking back; each must reach a declared input.
  std::vector<char> needed(n, 0), is_input(n, 0);
  for (int i : inputs_) {
    if (!graph_->is_input(i)) throw ValueError("node " + std::to_string(i) + " is not an input");
    is_input[static_cast<size_t>(i)] = 1;
  }
  std::vector<int> stack(outputs_.begin(), outputs_.end());
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    if (needed[static_cast<size_t>(v)]) continue;
    needed[static_cast<size_t>(v)] = 1;
    if (graph_->is_input(v) && !is_input[static_cast<size_t>(v)])
      throw ValueError("the outputs depend on input '" + graph_->name(v) +
                       "', which is not among the model's inputs");
    for (int u : graph_->inputs(v)) stack.push_back(u);
  }
  for (size_t v = 0; v < n; ++v)
    if (needed[v] || is_input[v]) order_.push_back(static_cast<int>(v));
  for (int v : order_)
    if (!graph_->is_input(v) && !ctx_.be().supports(graph_->op(v)->kind()))
      throw ValueError("Layer '" + graph_->name(v) + "': op " +
                       op_kind_name(graph_->op(v)->kind()) + " has no kernel on device " +
                       device_.str());

  node_vars_.resize(n);
  for (int v : order_) {
    if (graph_->is_input(v)) continue;
    for (const VariablePtr& var : graph_->op(v)->variables()) {
      auto [it, added] = variable_index_.emplace(var.get(), variables_.size());
      if (added) variables_.push_back(var);
      node_vars_[static_cast<size_t>(v)].push_back(it->second);
    }
  }
  values_.resize(n);
  grads_.resize(n);
  fwd_.resize(n);
  bwd_.resize(n);
  scratch_.resize(n);
  plan_gradients();
}

void Executor::plan_gradients() {
  const size_t n = graph_->size();
  var_grads_.assign(variables_.size(), Tensor());
  var_grad_written_.assign(variables_.size(), 0);
  trainable_.clear();
  trainable_params_.clear();
  trainable_grads_.clear();
  trainable_index_.assign(variables_.size(), 0);
  var_grad_delivered_.assign(variables_.size(), 0);
  for (size_t i = 0; i < variables_.size(); ++i) {
    if (forward_only_ || !variables_[i]->trainable) continue;
    trainable_index_[i] = trainable_.size();
    var_grads_[i] = Tensor(variables_[i]->value.shape(), 0.0f, device());
    trainable_.push_back(variables_[i].get());
    trainable_params_.push_back(variables_[i]->value.data());
    trainable_grads_.push_back(var_grads_[i].data());
  }
  // A variable's gradient is final after the backward of its first user in forward
  // order: backward visits that user last.
  final_vars_.assign(n, {});
  std::vector<char> seen(variables_.size(), 0);
  for (int v : order_)
    for (size_t k : node_vars_[static_cast<size_t>(v)])
      if (!seen[k]) {
        seen[k] = 1;
        final_vars_[static_cast<size_t>(v)].push_back(k);
      }
  // A node needs a gradient when a trainable variable lies at or upstream of it.
  requires_grad_.assign(n, 0);
  if (!forward_only_) plan_node_gradients();
  grad_written_.assign(n, 0);
  const int64_t rows = capacity_;
  capacity_ = 0;
  reserve(std::max<int64_t>(rows, 1));
}

// requires_grad_ for a training executor: bit 1 where a gradient flows (a trainable variable
// at or upstream of the node, or a requested input gradient), bit 2 on the outputs, which
// always get a gradient buffer so the loss has somewhere to write.
void Executor::plan_node_gradients() {
  for (size_t i = 0; i < input_grad_requested_.size(); ++i)
    if (input_grad_requested_[i]) requires_grad_[static_cast<size_t>(inputs_[i])] = 1;
  for (int v : order_) {
    if (graph_->is_input(v)) continue;
    bool req = false;
    for (size_t k : node_vars_[static_cast<size_t>(v)]) req = req || variables_[k]->trainable;
    for (int u : graph_->inputs(v)) req = req || (requires_grad_[static_cast<size_t>(u)] & 1);
    requires_grad_[static_cast<size_t>(v)] = req ? 1 : 0;
  }
  for (int o : outputs_) requires_grad_[static_cast<size_t>(o)] |= 2;
}

void Executor::reserve(int64_t rows) {
  if (rows <= capacity_) return;
  for (int v : order_) {
    const auto sv = static_cast<size_t>(v);
    const int64_t row = graph_->row_size(v);
    values_[sv] = Tensor(Shape{rows, row}, 0.0f, device());
    if (requires_grad_[sv]) grads_[sv] = Tensor(Shape{rows, row}, 0.0f, device());
    if (graph_->is_input(v)) continue;
    scratch_[sv].clear();
    for (size_t bytes : graph_->op(v)->scratch_bytes(rows))
      scratch_[sv].emplace_back(static_cast<int64_t>(bytes), device_);
  }
  capacity_ = rows;
  bind_pointers();
}

void Executor::bind_pointers() {
  for (int v : order_) {
    if (graph_->is_input(v)) continue;
    const auto sv = static_cast<size_t>(v);
    const auto& ins = graph_->inputs(v);
    OpForward& f = fwd_[sv];
    f.in.clear();
    for (int u : ins) f.in.push_back(values_[static_cast<size_t>(u)].data());
    f.out = values_[sv].data();
    f.extra_loss = extra_loss_.get();
    f.scratch.clear();
    for (auto& buf : scratch_[sv]) f.scratch.push_back(buf.data());
    OpBackward& b = bwd_[sv];
    b.in = f.in;
    b.out = f.out;
    b.dout = requires_grad_[sv] ? grads_[sv].data() : nullptr;
    b.din.clear();
    for (int u : ins) {
      const auto su = static_cast<size_t>(u);
      b.din.push_back((requires_grad_[su] & 1) ? grads_[su].data() : nullptr);
    }
    b.din_accumulate.assign(ins.size(), 0);
    b.dvar.clear();
    for (size_t k : node_vars_[sv])
      b.dvar.push_back(variables_[k]->trainable ? var_grads_[k].data() : nullptr);
    b.dvar_accumulate.assign(b.dvar.size(), 0);
    b.scratch = f.scratch;
  }
}

void Executor::request_input_gradient(size_t i) {
  if (forward_only_) throw ValueError("request_input_gradient: this executor runs forward only");
  if (i >= inputs_.size())
    throw ValueError("request_input_gradient: no input " + std::to_string(i));
  input_grad_requested_.resize(inputs_.size(), 0);
  input_grad_requested_[i] = 1;
  plan_gradients();
}

const float* Executor::input_grad(size_t i) const {
  const auto v = static_cast<size_t>(inputs_.at(i));
  if (i >= input_grad_requested_.size() || !input_grad_requested_[i] || !grad_written_[v])
    return nullptr;
  return grads_[v].data();
}

void Executor::forward(int64_t rows, bool training) {
  if (rows > capacity_) reserve(rows);
  *extra_loss_ = 0.0;
  for (int v : order_) {
    if (graph_->is_input(v)) continue;
    OpForward& f = fwd_[static_cast<size_t>(v)];
    f.ctx = &ctx_;
    f.rows = rows;
    f.global_rows = global_rows_ > 0 ? global_rows_ : rows;
    f.training = training;
    graph_->op(v)->forward(f);
  }
}

void Executor::backward(int64_t rows, const std::function<void(size_t)>& on_grad_ready) {
  if (forward_only_) throw ValueError("backward: this executor runs forward only");
  // The loss has written every output's gradient; everything else starts unwritten.
  std::fill(grad_written_.begin(), grad_written_.end(), 0);
  std::fill(var_grad_written_.begin(), var_grad_written_.end(), 0);
  std::fill(var_grad_delivered_.begin(), var_grad_delivered_.end(), 0);
  auto deliver = [&](size_t k) {
    if (!on_grad_ready || !variables_[k]->trainable || var_grad_delivered_[k]) return;
    var_grad_delivered_[k] = 1;
    on_grad_ready(trainable_index_[k]);
  };
  for (int o : outputs_) grad_written_[static_cast<size_t>(o)] = 1;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const int v = *it;
    const auto sv = static_cast<size_t>(v);
    if (graph_->is_input(v) || !grad_written_[sv] || !(requires_grad_[sv] & 1)) continue;
    OpBackward& b = bwd_[sv];
    b.ctx = &ctx_;
    b.rows = rows;
    b.global_rows = global_rows_ > 0 ? global_rows_ : rows;
    b.training = fwd_[sv].training;
    const auto& ins = graph_->inputs(v);
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto su = static_cast<size_t>(ins[i]);
      b.din_accumulate[i] = grad_written_[su];
      if (b.din[i]) grad_written_[su] = 1;
    }
    const auto& vars = node_vars_[sv];
    for (size_t i = 0; i < vars.size(); ++i) {
      const size_t k = vars[i];
      b.dvar_accumulate[i] = var_grad_written_[k];
      var_grad_written_[k] = 1;
    }
    graph_->op(v)->backward(b);
    for (size_t k : final_vars_[sv])
      if (var_grad_written_[k]) deliver(k);
  }
  // A trainable variable the loss does not reach has a zero gradient, as in Keras.
  for (size_t k = 0; k < variables_.size(); ++k) {
    if (!variables_[k]->trainable) continue;
    if (!var_grad_written_[k]) var_grads_[k].fill(0.0f);
    deliver(k);
  }
}

}  // namespace ember
