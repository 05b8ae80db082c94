// ember._core: the engine as Python sees it. One file per area registers its
// classes (bind_*.cpp); this one defines the module and maps exceptions.
#include "bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  using namespace ember;
  m.doc() = "ember's C++ engine";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const IOError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  bindings::bind_graph(m);
  bindings::bind_optimizers(m);
  bindings::bind_reducer(m);
  bindings::bind_model(m);
  bindings::bind_functions(m);
  bindings::bind_layers(m);
  bindings::bind_merging(m);
  bindings::bind_metrics(m);
  bindings::bind_math(m);
  bindings::bind_pooling(m);  // pooling and shape ops (issue 11)
  // sequences (issue 11)
  bindings::bind_embedding(m);
  bindings::bind_recurrent(m);  // recurrent layers (issue 11)
  bindings::bind_conv(m);       // convolution (issue 11)
  bindings::bind_builders(m);   // build_layer (issue 12)
  bindings::bind_attention(m);  // EinsumDense and score attention (issue 17)
}
