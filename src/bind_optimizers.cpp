// The optimizers: hyperparameters, iteration count and slot state.
#include "bindings.h"
#include "ember/optimizers.h"

namespace ember::bindings {

void bind_optimizers(py::module_& m) {
  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def_property_readonly("name", &Optimizer::name)
      .def("slot_names", &Optimizer::slot_names)
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
      .def(py::init<float, float, bool>(), py::arg("learning_rate"), py::arg("momentum"),
           py::arg("nesterov"))
      .def_readwrite("momentum", &SGD::momentum)
      .def_readwrite("nesterov", &SGD::nesterov);
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "Adam")
      .def(py::init<float, float, float, float, bool>(), py::arg("learning_rate"),
           py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"), py::arg("amsgrad"))
      .def_readwrite("beta_1", &Adam::beta_1)
      .def_readwrite("beta_2", &Adam::beta_2)
      .def_readwrite("epsilon", &Adam::epsilon);
  py::class_<RMSprop, Optimizer, std::shared_ptr<RMSprop>>(m, "RMSprop")
      .def(py::init<float, float, float, float, bool>(), py::arg("learning_rate"), py::arg("rho"),
           py::arg("momentum"), py::arg("epsilon"), py::arg("centered"))
      .def_readwrite("rho", &RMSprop::rho)
      .def_readwrite("momentum", &RMSprop::momentum)
      .def_readwrite("epsilon", &RMSprop::epsilon);
}

}  // namespace ember::bindings
