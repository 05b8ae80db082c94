// Model: compile, and the training, evaluation and prediction loops.
#include <optional>

#include "bindings.h"

namespace ember::bindings {

void bind_model(py::module_& m) {
  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def(py::init<std::shared_ptr<Graph>, std::vector<int>, std::vector<int>>(), py::arg("graph"),
           py::arg("inputs"), py::arg("outputs"))
      .def(
          "compile",
          [](Model& model, const std::vector<std::pair<std::string, float>>& losses,
             std::shared_ptr<Optimizer> optimizer,
             const std::vector<std::tuple<std::string, int, float>>& metrics) {
            std::vector<LossSpec> ls;
            for (const auto& [name, weight] : losses) ls.push_back({loss_from_name(name), weight});
            std::vector<MetricSpec> ms;
            for (const auto& [name, output, threshold] : metrics)
              ms.push_back({metric_from_name(name), output, threshold});
            model.compile(std::move(ls), std::move(optimizer), std::move(ms));
          },
          py::arg("losses"), py::arg("optimizer"), py::arg("metrics"))
      .def(
          "train_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> order,
             int64_t batch_size, int64_t begin, int64_t end) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            const int64_t* ord = nullptr;
            if (order) {
              if (order->size() != (xv.empty() ? 0 : xv[0].rows))
                throw ValueError("train_batches: order must list every sample once");
              ord = order->data();
            }
            py::gil_scoped_release release;
            model.train_batches(xv, yv, ord, batch_size, begin, end);
          },
          py::arg("x"), py::arg("y"), py::arg("order"), py::arg("batch_size"), py::arg("begin"),
          py::arg("end"))
      .def(
          "test_batches",
          [](Model& model, const std::vector<FloatArray>& x, const std::vector<FloatArray>& y,
             int64_t batch_size, int64_t begin, int64_t end) {
            const auto xv = views_of(x, "x"), yv = views_of(y, "y");
            py::gil_scoped_release release;
            model.test_batches(xv, yv, batch_size, begin, end);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("begin"), py::arg("end"))
      .def(
          "predict",
          [](Model& model, const std::vector<FloatArray>& x, int64_t batch_size) {
            const auto xv = views_of(x, "x");
            const int64_t n = xv.empty() ? 0 : xv[0].rows;
            const Graph& g = *model.graph();
            std::vector<py::array_t<float>> outs;
            std::vector<float*> ptrs;
            for (int node : model.executor().outputs()) {
              Shape shape{n};
              for (int64_t d : g.row_shape(node)) shape.push_back(d);
              outs.emplace_back(shape);
              ptrs.push_back(outs.back().mutable_data());
            }
            if (n * 64 > (1 << 16)) {  // only worth releasing the GIL for real work
              py::gil_scoped_release release;
              model.predict(xv, batch_size, ptrs);
            } else {
              model.predict(xv, batch_size, ptrs);
            }
            return outs;
          },
          py::arg("x"), py::arg("batch_size"))
      .def("metric_results", &Model::metric_results)
      .def("reset_metrics", &Model::reset_metrics)
      .def_property_readonly("compiled", &Model::compiled)
      .def_property_readonly("variables",
                             [](Model& model) { return model.executor().variables(); });
}

}  // namespace ember::bindings
