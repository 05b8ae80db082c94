// Pooling and shape ops of convolutional networks (see ember/ops_pooling.h).
#include "bindings.h"
#include "ember/ops_pooling.h"

namespace ember::bindings {

void bind_pooling(py::module_& m) {
  m.def(
      "add_pooling",
      [](Graph& g, int input, bool max, std::vector<int64_t> pool_size,
         std::vector<int64_t> strides, bool same_padding, bool channels_first, std::string name) {
        return g.add_node(std::make_shared<PoolOp>(max, std::move(pool_size), std::move(strides),
                                                   same_padding, channels_first),
                          {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("max"), py::arg("pool_size"), py::arg("strides"),
      py::arg("same_padding"), py::arg("channels_first"), py::arg("name"),
      "Adds max (max=True) or average pooling over the last 1 or 2 spatial axes.");
  m.def(
      "add_padding",
      [](Graph& g, int input, std::vector<int64_t> before, std::vector<int64_t> after,
         std::string name) {
        return g.add_node(std::make_shared<PadOp>(std::move(before), std::move(after)), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("before"), py::arg("after"), py::arg("name"),
      "Adds zero padding of each row axis by (before, after); negative amounts crop.");
  m.def(
      "add_upsampling",
      [](Graph& g, int input, std::vector<int64_t> size, bool bilinear, bool channels_first,
         std::string name) {
        return g.add_node(std::make_shared<UpSamplingOp>(std::move(size), bilinear, channels_first),
                          {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("size"), py::arg("bilinear"),
      py::arg("channels_first"), py::arg("name"),
      "Adds nearest or bilinear upsampling by integer factors over 1 or 2 spatial axes.");
}

}  // namespace ember::bindings
