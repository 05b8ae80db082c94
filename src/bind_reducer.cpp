// Data-parallel training's reducer (issue 16): the abstract Reducer, and MpiReducer, which
// finds the MPI library mpi4py loaded at run time (ember is built without MPI).
#include <cstdint>
#include <memory>
#include <string>

#include "bindings.h"
#include "ember/reducer.h"
#include "ember/runtime_mpi_reducer.h"

namespace ember::bindings {

void bind_reducer(py::module_& m) {
  py::class_<Reducer, std::shared_ptr<Reducer>>(
      m, "Reducer", "The collectives of data-parallel training (Model.set_reducer).")
      .def_property_readonly("rank", &Reducer::rank)
      .def_property_readonly("size", &Reducer::size)
      .def(
          "allreduce_sum",
          [](Reducer& r, py::array data) {
            // In place: the array itself must be the buffer, so no conversion is allowed.
            if (!(data.flags() & py::array::c_style) || !data.writeable())
              throw ValueError("allreduce_sum: a writable C-contiguous array is needed");
            if (data.dtype().is(py::dtype::of<float>())) {
              auto* p = static_cast<float*>(data.mutable_data());
              py::gil_scoped_release release;
              r.allreduce_sum(p, static_cast<int64_t>(data.size()));
            } else if (data.dtype().is(py::dtype::of<double>())) {
              auto* p = static_cast<double*>(data.mutable_data());
              py::gil_scoped_release release;
              r.allreduce_sum(p, static_cast<int64_t>(data.size()));
            } else {
              throw TypeError("allreduce_sum: a float32 or float64 array is needed, got " +
                              std::string(py::str(data.dtype())));
            }
          },
          py::arg("data"),
          "Sums `data` across the ranks, in place (a collective: every rank calls it).");
  py::class_<RuntimeMpiReducer, Reducer, std::shared_ptr<RuntimeMpiReducer>>(
      m, "MpiReducer",
      "A Reducer on an MPI communicator. The handles are mpi4py's MPI._handleof(comm), "
      "MPI._handleof(MPI.FLOAT), MPI._handleof(MPI.DOUBLE), MPI._handleof(MPI.SUM); library: "
      "the path of the libmpi mpi4py loaded, or \"\" to find it in the process.")
      .def(py::init<uintptr_t, uintptr_t, uintptr_t, uintptr_t, const std::string&>(),
           py::arg("comm"), py::arg("float_type"), py::arg("double_type"), py::arg("sum_op"),
           py::arg("library") = "")
      .def_property_readonly("library", &RuntimeMpiReducer::library);
}

}  // namespace ember::bindings
