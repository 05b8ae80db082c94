// Free functions: a loss on arrays (for tests and ember.losses), device queries.
#include "bindings.h"
#include "ember/device.h"
#include "ember/losses.h"

namespace ember::bindings {

void bind_functions(py::module_& m) {
  m.def(
      "loss_value",
      [](const std::string& name, const FloatArray& y_true, const FloatArray& y_pred) {
        const LossKind kind = loss_from_name(name);
        const int64_t cols = y_pred.ndim() ? y_pred.shape(y_pred.ndim() - 1) : 1;
        const int64_t samples = cols ? y_pred.size() / cols : 0;
        const int64_t need =
            kind == LossKind::SparseCategoricalCrossentropy ? samples : y_pred.size();
        if (y_true.size() != need)
          throw ValueError(std::string(loss_name(kind)) + ": y_true has " +
                           std::to_string(y_true.size()) + " values, expected " +
                           std::to_string(need));
        return loss_forward_backward(kind, y_pred.data(), y_true.data(), samples, cols, 1.0f,
                                     nullptr) /
               static_cast<double>(samples ? samples : 1);
      },
      py::arg("name"), py::arg("y_true"), py::arg("y_pred"),
      "The mean over samples of a loss (sum_over_batch_size), in double.");
  m.def("cuda_built", &device::cuda_built);
  m.def("cuda_device_count", &device::cuda_device_count);
}

}  // namespace ember::bindings
