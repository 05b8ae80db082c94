// The optimizers and learning-rate schedules: hyperparameters, common arguments,
// iteration count and state.
#include <algorithm>
#include <cstdint>

#include "bindings.h"
#include "ember/optimizers.h"
#include "ember/schedules.h"

namespace ember::bindings {

namespace {

// A schedule computed by a Python callable (a user's LearningRateSchedule
// subclass, or a callable learning_rate): called with the step, returning a
// float. Training runs without the GIL, so each call takes it.
class PythonSchedule final : public LearningRateSchedule {
 public:
  explicit PythonSchedule(py::object fn) : fn_(std::move(fn)) {}
  ~PythonSchedule() override {
    py::gil_scoped_acquire gil;
    py::object drop = std::move(fn_);
  }
  PythonSchedule(const PythonSchedule&) = delete;
  PythonSchedule& operator=(const PythonSchedule&) = delete;

  std::string name() const override { return "PythonSchedule"; }
  float operator()(int64_t step) const override {
    py::gil_scoped_acquire gil;
    return fn_(step).cast<float>();
  }
  float at(float step) const override {
    py::gil_scoped_acquire gil;
    return fn_(step).cast<float>();
  }
  const py::object& function() const { return fn_; }

 private:
  py::object fn_;
};

// An Optimizer subclass written in Python, as Keras users write one (build +
// update_step): the engine does the common work (learning rate, clipping, weight decay,
// the step count) and calls back once per variable per step, with the GIL, passing the
// address of the variable's values (which the Python variable shares: an assign there
// updates the engine's weight) and a copy of its gradient, shaped like the variable.
class PythonOptimizer final : public Optimizer {
 public:
  explicit PythonOptimizer(py::object update) : Optimizer(0.0f), update_(std::move(update)) {}
  ~PythonOptimizer() override {
    py::gil_scoped_acquire gil;
    py::object drop = std::move(update_);
  }
  PythonOptimizer(const PythonOptimizer&) = delete;
  PythonOptimizer& operator=(const PythonOptimizer&) = delete;

  std::string name() const override { return "PythonOptimizer"; }
  std::vector<std::string> slot_names() const override { return {}; }

 protected:
  void update(std::vector<Tensor>& /*slot*/, float* param, const float* grad, int64_t n,
              int64_t step, float lr) override {
    py::gil_scoped_acquire gil;
    const Shape& shape = shape_of_variable(current_variable_index());
    py::array_t<float> g(num_elements(shape) == n ? shape : Shape{n});
    std::copy(grad, grad + n, g.mutable_data());
    update_(reinterpret_cast<std::uintptr_t>(param), g, step, lr);
  }

 private:
  py::object update_;
};

using IntArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

template <typename Step>
py::array_t<float> evaluate(
    const LearningRateSchedule& s,
    const py::array_t<Step, py::array::c_style | py::array::forcecast>& steps) {
  py::array_t<float> out(steps.size());
  const Step* in = steps.data();
  float* o = out.mutable_data();
  for (py::ssize_t i = 0; i < steps.size(); ++i) {
    if constexpr (std::is_integral_v<Step>)
      o[i] = s(static_cast<int64_t>(in[i]));
    else
      o[i] = s.at(in[i]);
  }
  return out;
}

std::vector<float*> storage_of(const std::vector<std::shared_ptr<Variable>>& variables) {
  std::vector<float*> params;
  for (const auto& v : variables) {
    if (!v) throw ValueError("expected variables, got None");
    params.push_back(v->value.data());
  }
  return params;
}

void bind_schedules(py::module_& m) {
  py::class_<LearningRateSchedule, std::shared_ptr<LearningRateSchedule>>(m, "LearningRateSchedule")
      .def_property_readonly("name", &LearningRateSchedule::name)
      .def(
          "at_steps",
          [](const LearningRateSchedule& s, const IntArray& steps) { return evaluate(s, steps); },
          py::arg("steps"), "The rates at integer steps (an optimizer's iteration counts).")
      .def(
          "at",
          [](const LearningRateSchedule& s, const FloatArray& steps) { return evaluate(s, steps); },
          py::arg("steps"), "The rates at float32 steps.");
  py::class_<PythonSchedule, LearningRateSchedule, std::shared_ptr<PythonSchedule>>(
      m, "PythonSchedule")
      .def(py::init<py::object>(), py::arg("function"))
      .def_property_readonly("function", &PythonSchedule::function);
  py::class_<ExponentialDecay, LearningRateSchedule, std::shared_ptr<ExponentialDecay>>(
      m, "ExponentialDecay")
      .def(py::init<double, double, double, bool>(), py::arg("initial_learning_rate"),
           py::arg("decay_steps"), py::arg("decay_rate"), py::arg("staircase"))
      .def_readwrite("initial_learning_rate", &ExponentialDecay::initial_learning_rate)
      .def_readwrite("decay_steps", &ExponentialDecay::decay_steps)
      .def_readwrite("decay_rate", &ExponentialDecay::decay_rate)
      .def_readwrite("staircase", &ExponentialDecay::staircase);
  py::class_<PiecewiseConstantDecay, LearningRateSchedule, std::shared_ptr<PiecewiseConstantDecay>>(
      m, "PiecewiseConstantDecay")
      .def(py::init<std::vector<double>, std::vector<double>>(), py::arg("boundaries"),
           py::arg("values"))
      .def_property_readonly("boundaries", &PiecewiseConstantDecay::boundaries)
      .def_property_readonly("values", &PiecewiseConstantDecay::values);
  py::class_<PolynomialDecay, LearningRateSchedule, std::shared_ptr<PolynomialDecay>>(
      m, "PolynomialDecay")
      .def(py::init<double, double, double, double, bool>(), py::arg("initial_learning_rate"),
           py::arg("decay_steps"), py::arg("end_learning_rate"), py::arg("power"), py::arg("cycle"))
      .def_readwrite("initial_learning_rate", &PolynomialDecay::initial_learning_rate)
      .def_readwrite("decay_steps", &PolynomialDecay::decay_steps)
      .def_readwrite("end_learning_rate", &PolynomialDecay::end_learning_rate)
      .def_readwrite("power", &PolynomialDecay::power)
      .def_readwrite("cycle", &PolynomialDecay::cycle);
  py::class_<InverseTimeDecay, LearningRateSchedule, std::shared_ptr<InverseTimeDecay>>(
      m, "InverseTimeDecay")
      .def(py::init<double, double, double, bool>(), py::arg("initial_learning_rate"),
           py::arg("decay_steps"), py::arg("decay_rate"), py::arg("staircase"))
      .def_readwrite("initial_learning_rate", &InverseTimeDecay::initial_learning_rate)
      .def_readwrite("decay_steps", &InverseTimeDecay::decay_steps)
      .def_readwrite("decay_rate", &InverseTimeDecay::decay_rate)
      .def_readwrite("staircase", &InverseTimeDecay::staircase);
  py::class_<CosineDecay, LearningRateSchedule, std::shared_ptr<CosineDecay>>(m, "CosineDecay")
      .def(py::init<double, double, double, std::optional<double>, double>(),
           py::arg("initial_learning_rate"), py::arg("decay_steps"), py::arg("alpha"),
           py::arg("warmup_target"), py::arg("warmup_steps"))
      .def_readwrite("initial_learning_rate", &CosineDecay::initial_learning_rate)
      .def_readwrite("decay_steps", &CosineDecay::decay_steps)
      .def_readwrite("alpha", &CosineDecay::alpha)
      .def_readwrite("warmup_target", &CosineDecay::warmup_target)
      .def_readwrite("warmup_steps", &CosineDecay::warmup_steps);
  py::class_<CosineDecayRestarts, LearningRateSchedule, std::shared_ptr<CosineDecayRestarts>>(
      m, "CosineDecayRestarts")
      .def(py::init<double, double, double, double, double>(), py::arg("initial_learning_rate"),
           py::arg("first_decay_steps"), py::arg("t_mul"), py::arg("m_mul"), py::arg("alpha"))
      .def_readwrite("initial_learning_rate", &CosineDecayRestarts::initial_learning_rate)
      .def_readwrite("first_decay_steps", &CosineDecayRestarts::first_decay_steps)
      .def_readwrite("t_mul", &CosineDecayRestarts::t_mul)
      .def_readwrite("m_mul", &CosineDecayRestarts::m_mul)
      .def_readwrite("alpha", &CosineDecayRestarts::alpha);
}

}  // namespace

void bind_optimizers(py::module_& m) {
  bind_schedules(m);

  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_property(
          "learning_rate", &Optimizer::current_learning_rate, &Optimizer::set_learning_rate,
          "The rate the next step uses (the schedule's value at `iterations` when one is set); "
          "setting it sets the constant rate, which a schedule overrides.")
      .def_readwrite("schedule", &Optimizer::schedule)
      .def_property(
          "iterations", [](const Optimizer& o) { return o.iterations; },
          [](Optimizer& o, const py::int_& steps) {
            // A Python int of any size: out of int64's range is a ValueError too.
            const auto value = PyLong_AsLongLong(steps.ptr());
            if (value == -1 && PyErr_Occurred()) {
              PyErr_Clear();
              throw ValueError(o.name() + ": `iterations` must be in [0, 2**53), got " +
                               std::string(py::str(steps)));
            }
            o.set_iterations(value);
          },
          "Steps taken, in [0, 2**53).")
      .def_property_readonly("name", &Optimizer::name)
      .def_property("weight_decay", &Optimizer::weight_decay, &Optimizer::set_weight_decay)
      .def_property_readonly("clipnorm", &Optimizer::clipnorm)
      .def_property_readonly("clipvalue", &Optimizer::clipvalue)
      .def_property_readonly("global_clipnorm", &Optimizer::global_clipnorm)
      .def("set_clipping", &Optimizer::set_clipping, py::arg("clipnorm"), py::arg("clipvalue"),
           py::arg("global_clipnorm"), "Sets the gradient clipping; at most one may be set.")
      .def(
          "exclude_from_weight_decay",
          [](Optimizer& o, const std::vector<std::shared_ptr<Variable>>& variables,
             const std::vector<std::string>& name_patterns) {
            o.exclude_from_weight_decay({variables.begin(), variables.end()}, name_patterns);
          },
          py::arg("variables"), py::arg("name_patterns"))
      .def(
          "build",
          [](Optimizer& o, const std::vector<std::shared_ptr<Variable>>& variables) {
            std::vector<Variable*> raw;
            for (const auto& v : variables) raw.push_back(v.get());
            o.build(raw);
          },
          py::arg("variables"), "Allocates the slots for these variables.")
      .def(
          "apply",
          [](Optimizer& o, const std::vector<std::shared_ptr<Variable>>& variables,
             const std::vector<FloatArray>& grads) {
            if (grads.size() != variables.size())
              throw ValueError(o.name() + ": got " + std::to_string(grads.size()) +
                               " gradients for " + std::to_string(variables.size()) + " variables");
            const std::vector<float*> params = storage_of(variables);
            std::vector<const float*> g;
            for (size_t i = 0; i < grads.size(); ++i) {
              if (shape_of(grads[i]) != variables[i]->value.shape())
                throw ValueError(o.name() + ": the gradient for variable '" + variables[i]->name +
                                 "' has shape " + shape_to_string(shape_of(grads[i])) +
                                 ", the variable " + shape_to_string(variables[i]->value.shape()));
              g.push_back(grads[i].data());
            }
            o.apply(params, g);
          },
          py::arg("variables"), py::arg("grads"),
          "One step on these variables (as built) with these gradients.")
      .def("slot_names", &Optimizer::slot_names)
      .def("scalar_names", &Optimizer::scalar_names)
      .def("scalar_state", &Optimizer::scalar_state,
           "Optimizer-wide scalars besides iterations, named by scalar_names().")
      .def("set_scalar_state", &Optimizer::set_scalar_state, py::arg("values"),
           "Restores scalar_state(); set iterations first.")
      .def(
          "set_slots",
          [](Optimizer& o, const std::vector<std::vector<FloatArray>>& values) {
            auto& slots = o.slots();
            if (values.size() != slots.size())
              throw ValueError(o.name() + ": expected slots for " + std::to_string(slots.size()) +
                               " variables, got " + std::to_string(values.size()));
            for (size_t i = 0; i < slots.size(); ++i) {
              if (values[i].size() != slots[i].size())
                throw ValueError(o.name() + ": variable " + std::to_string(i) + " has " +
                                 std::to_string(slots[i].size()) + " slots, got " +
                                 std::to_string(values[i].size()));
              for (size_t k = 0; k < slots[i].size(); ++k)
                copy_into(slots[i][k], values[i][k], o.name() + " slot " + o.slot_names()[k]);
            }
          },
          py::arg("values"), "Restores slot values (as slots() returns them).")
      .def("slots", [](Optimizer& o) {
        std::vector<std::vector<py::array_t<float>>> out;
        for (const auto& per_var : o.slots()) {
          out.emplace_back();
          for (const Tensor& t : per_var) out.back().push_back(to_numpy(t));
        }
        return out;
      });

  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "SGD")
      .def(py::init<float, double, bool>(), py::arg("learning_rate"), py::arg("momentum"),
           py::arg("nesterov"))
      .def_readwrite("momentum", &SGD::momentum)
      .def_readwrite("nesterov", &SGD::nesterov);
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "Adam")
      .def(py::init<float, double, double, double, bool>(), py::arg("learning_rate"),
           py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"), py::arg("amsgrad"))
      .def_readwrite("beta_1", &Adam::beta_1)
      .def_readwrite("beta_2", &Adam::beta_2)
      .def_readwrite("epsilon", &Adam::epsilon)
      .def_readwrite("amsgrad", &Adam::amsgrad);
  py::class_<AdamW, Adam, std::shared_ptr<AdamW>>(m, "AdamW")
      .def(py::init<float, double, double, double, double, bool>(), py::arg("learning_rate"),
           py::arg("weight_decay"), py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"),
           py::arg("amsgrad"));
  py::class_<RMSprop, Optimizer, std::shared_ptr<RMSprop>>(m, "RMSprop")
      .def(py::init<float, double, double, double, bool>(), py::arg("learning_rate"),
           py::arg("rho"), py::arg("momentum"), py::arg("epsilon"), py::arg("centered"))
      .def_readwrite("rho", &RMSprop::rho)
      .def_readwrite("momentum", &RMSprop::momentum)
      .def_readwrite("epsilon", &RMSprop::epsilon)
      .def_readwrite("centered", &RMSprop::centered);
  py::class_<Adagrad, Optimizer, std::shared_ptr<Adagrad>>(m, "Adagrad")
      .def(py::init<float, double, double>(), py::arg("learning_rate"),
           py::arg("initial_accumulator_value"), py::arg("epsilon"))
      .def_readwrite("initial_accumulator_value", &Adagrad::initial_accumulator_value)
      .def_readwrite("epsilon", &Adagrad::epsilon);
  py::class_<Adadelta, Optimizer, std::shared_ptr<Adadelta>>(m, "Adadelta")
      .def(py::init<float, double, double>(), py::arg("learning_rate"), py::arg("rho"),
           py::arg("epsilon"))
      .def_readwrite("rho", &Adadelta::rho)
      .def_readwrite("epsilon", &Adadelta::epsilon);
  py::class_<Adamax, Optimizer, std::shared_ptr<Adamax>>(m, "Adamax")
      .def(py::init<float, double, double, double>(), py::arg("learning_rate"), py::arg("beta_1"),
           py::arg("beta_2"), py::arg("epsilon"))
      .def_readwrite("beta_1", &Adamax::beta_1)
      .def_readwrite("beta_2", &Adamax::beta_2)
      .def_readwrite("epsilon", &Adamax::epsilon);
  py::class_<Nadam, Optimizer, std::shared_ptr<Nadam>>(m, "Nadam")
      .def(py::init<float, double, double, double>(), py::arg("learning_rate"), py::arg("beta_1"),
           py::arg("beta_2"), py::arg("epsilon"))
      .def_readwrite("beta_1", &Nadam::beta_1)
      .def_readwrite("beta_2", &Nadam::beta_2)
      .def_readwrite("epsilon", &Nadam::epsilon);
  py::class_<Lion, Optimizer, std::shared_ptr<Lion>>(m, "Lion")
      .def(py::init<float, double, double>(), py::arg("learning_rate"), py::arg("beta_1"),
           py::arg("beta_2"))
      .def_readwrite("beta_1", &Lion::beta_1)
      .def_readwrite("beta_2", &Lion::beta_2);
  py::class_<Ftrl, Optimizer, std::shared_ptr<Ftrl>>(m, "Ftrl")
      .def(py::init<float, double, double, double, double, double, double>(),
           py::arg("learning_rate"), py::arg("learning_rate_power"),
           py::arg("initial_accumulator_value"), py::arg("l1_regularization_strength"),
           py::arg("l2_regularization_strength"), py::arg("l2_shrinkage_regularization_strength"),
           py::arg("beta"))
      .def_readwrite("learning_rate_power", &Ftrl::learning_rate_power)
      .def_readwrite("initial_accumulator_value", &Ftrl::initial_accumulator_value)
      .def_readwrite("l1_regularization_strength", &Ftrl::l1_regularization_strength)
      .def_readwrite("l2_regularization_strength", &Ftrl::l2_regularization_strength)
      .def_readwrite("l2_shrinkage_regularization_strength",
                     &Ftrl::l2_shrinkage_regularization_strength)
      .def_readwrite("beta", &Ftrl::beta);
  py::class_<Adafactor, Optimizer, std::shared_ptr<Adafactor>>(m, "Adafactor")
      .def(py::init<float, double, double, double, double, bool>(), py::arg("learning_rate"),
           py::arg("beta_2_decay"), py::arg("epsilon_1"), py::arg("epsilon_2"),
           py::arg("clip_threshold"), py::arg("relative_step"))
      .def_readwrite("beta_2_decay", &Adafactor::beta_2_decay)
      .def_readwrite("epsilon_1", &Adafactor::epsilon_1)
      .def_readwrite("epsilon_2", &Adafactor::epsilon_2)
      .def_readwrite("clip_threshold", &Adafactor::clip_threshold)
      .def_readwrite("relative_step", &Adafactor::relative_step);
  py::class_<ScheduleFreeAdamW, Optimizer, std::shared_ptr<ScheduleFreeAdamW>>(m,
                                                                               "ScheduleFreeAdamW")
      .def(py::init<float, double, double, double, int64_t>(), py::arg("learning_rate"),
           py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"), py::arg("warmup_steps"))
      .def_readwrite("beta_1", &ScheduleFreeAdamW::beta_1)
      .def_readwrite("beta_2", &ScheduleFreeAdamW::beta_2)
      .def_readwrite("epsilon", &ScheduleFreeAdamW::epsilon)
      .def_readwrite("warmup_steps", &ScheduleFreeAdamW::warmup_steps);
  py::class_<Lamb, Optimizer, std::shared_ptr<Lamb>>(m, "Lamb")
      .def(py::init<float, double, double, double>(), py::arg("learning_rate"), py::arg("beta_1"),
           py::arg("beta_2"), py::arg("epsilon"))
      .def_readwrite("beta_1", &Lamb::beta_1)
      .def_readwrite("beta_2", &Lamb::beta_2)
      .def_readwrite("epsilon", &Lamb::epsilon);
  py::class_<PythonOptimizer, Optimizer, std::shared_ptr<PythonOptimizer>>(m, "PythonOptimizer")
      .def(py::init<py::object>(), py::arg("update"),
           "An optimizer whose per-variable update is update(address, gradient, step, "
           "learning_rate), a Python function.");
  py::class_<Muon, Optimizer, std::shared_ptr<Muon>>(m, "Muon")
      .def(py::init<float, double, double, std::optional<double>, double, std::optional<double>,
                    std::vector<std::string>, bool, double, double, double, double, double,
                    int64_t, bool, std::optional<double>>(),
           py::arg("learning_rate"), py::arg("adam_beta_1"), py::arg("adam_beta_2"),
           py::arg("adam_weight_decay"), py::arg("epsilon"), py::arg("weight_decay"),
           py::arg("exclude_layers"), py::arg("exclude_embeddings"), py::arg("muon_a"),
           py::arg("muon_b"), py::arg("muon_c"), py::arg("adam_lr_ratio"), py::arg("momentum"),
           py::arg("ns_steps"), py::arg("nesterov"), py::arg("rms_rate"))
      .def(
          "set_adamw_variables",
          [](Muon& o, const std::vector<std::shared_ptr<Variable>>& variables) {
            o.set_adamw_variables({variables.begin(), variables.end()});
          },
          py::arg("variables"),
           "The rank-2 variables that take the AdamW step (Keras's rule on their paths).");
}

}  // namespace ember::bindings
