// The kernel boundary itself: device names, the backend registry, buffers, and the
// executor's refusal of an op its device's backend cannot run.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "check.h"
#include "ember/backend.h"
#include "ember/error.h"
#include "ember/graph.h"
#include "ember/ops.h"

using namespace ember;
using namespace ember::testing;

namespace {

// Runs f, which must throw ValueError with `needle` in its message.
template <class F>
void check_throws(F&& f, const std::string& needle, const std::string& what) {
  std::string message;
  try {
    f();
  } catch (const ValueError& e) {
    message = e.what();
  }
  check(!message.empty() && message.find(needle) != std::string::npos,
        what + " (got: '" + message + "')");
}

void test_device_names() {
  check(parse_device("cpu") == Device::cpu(), "'cpu' is the CPU");
  check(parse_device("CPU:0") == Device::cpu(), "'CPU:0' is the CPU");
  check(parse_device("gpu:1") == Device::cuda(1), "'gpu:1' is GPU 1");
  check(parse_device("cuda:0") == Device::cuda(0), "'cuda:0' is GPU 0");
  check(parse_device("gpu") == Device::cuda(0), "'gpu' is GPU 0");
  check(Device::cuda(3).str() == "gpu:3" && Device::cpu().str() == "cpu", "Keras's spelling");
  for (const char* bad : {"tpu", "gpu:x", "gpu:", "cpu:1", "gpu:-1", "gpu:9999999"})
    check_throws([&] { parse_device(bad); }, bad, std::string("'") + bad + "' is refused by name");
}

void test_registry() {
  const auto devices = available_devices();
  check(!devices.empty() && devices[0] == Device::cpu(), "the CPU is always the first device");
  size_t gpus = 0;
  for (int i = 0; i < device::cuda_device_count(); ++i) gpus += device::cuda_backend(i) ? 1 : 0;
  check(devices.size() == 1 + gpus, "then one device per GPU with a backend");
  check(&backend_for(Device::cpu()) == &cpu_backend(), "the CPU's backend is one object");
  if (!device::cuda_backend(0))
    check_throws([] { backend_for(Device::cuda(0)); }, "gpu:0",
                 "a GPU this process does not have is refused, naming it");
  check_throws([] { backend_for(Device::cuda(512)); }, "gpu:512", "a GPU index past the count");
}

void test_buffers() {
  Buffer<float> empty;
  check(empty.data() == nullptr && empty.size() == 0, "a default buffer holds nothing");
  Buffer<float> b(1000);
  bool zero = true;
  for (int64_t i = 0; i < b.size(); ++i) zero = zero && b[i] == 0.0f;
  check(zero, "a new buffer is zeroed");
  check(reinterpret_cast<uintptr_t>(b.data()) % 64 == 0, "host buffers are 64-byte aligned");
  for (int64_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) * 0.5f;
  Buffer<float> copy = b;
  check(copy.data() != b.data() && std::memcmp(copy.data(), b.data(), b.bytes()) == 0,
        "a copy is deep and equal");
  const float* storage = b.data();
  Buffer<float> moved = std::move(b);
  check(moved.data() == storage && b.data() == nullptr && b.size() == 0,  // NOLINT: moved-from
        "a move hands the storage over");
  copy = moved;
  check(copy[999] == 499.5f, "copy-assignment copies");

  std::mt19937 rng(7);
  const auto host = random_vector(rng, 24);
  Tensor t(Shape{4, 6}, host.data());
  std::vector<float> back(24);
  t.copy_to_host(back.data());
  check(back == host, "a tensor round-trips host values");
  t.fill(2.5f);
  t.copy_to_host(back.data());
  check(back == std::vector<float>(24, 2.5f), "fill goes through the backend");
}

// A backend for a made-up device that runs Dense only: what a partial GPU backend looks like.
class DenseOnlyBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda(7); }
  Allocator& allocator() override { return cpu_backend().allocator(); }
  bool supports(OpKind kind) const override { return kind == OpKind::Dense; }
  void call_gemm() {
    gemm(context(), false, false, 1, 1, 1, 1.0f, nullptr, nullptr, 0.0f, nullptr);
  }
};

void test_unsupported_ops() {
  auto kernel = std::make_shared<Variable>("kernel", Tensor(Shape{3, 2}, 0.5f));
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({3}, "x");
  const int d = g->add_node(std::make_shared<DenseOp>(kernel, nullptr, Activation()), {x}, "dense");
  const int a =
      g->add_node(std::make_shared<ActivationOp>(ActivationKind::Tanh), {d}, "activation_7");
  DenseOnlyBackend backend;
  check_throws([&] { Executor(g, {x}, {a}, backend); },
               "op Activation has no kernel on device gpu:7",
               "an executor refuses a graph with an op its device lacks, naming op and device");
  check_throws([&] { Executor(g, {x}, {a}, backend); }, "activation_7", "... and naming the layer");
  check_throws([&] { backend.call_gemm(); }, "op gemm has no kernel on device gpu:7",
               "a kernel a backend lacks throws, naming it and the device");
}

void test_forward_only_executor() {
  std::mt19937 rng(11);
  const auto w = random_vector(rng, 12);
  auto kernel = std::make_shared<Variable>("kernel", Tensor(Shape{4, 3}, w.data()));
  auto g = std::make_shared<Graph>();
  const int x = g->add_input({4}, "x");
  const int y = g->add_node(
      std::make_shared<DenseOp>(kernel, nullptr, Activation(ActivationKind::Gelu)), {x}, "dense");
  Executor train(g, {x}, {y});
  Executor infer(g, {x}, {y}, Device::cpu(), /*forward_only=*/true);
  check(infer.trainable().empty() && train.trainable().size() == 1,
        "a forward-only executor plans no gradients");
  const auto xs = random_vector(rng, 5 * 4);
  for (Executor* e : {&train, &infer}) {
    e->reserve(5);
    std::copy(xs.begin(), xs.end(), e->input_buffer(0));
    e->forward(5, false);
  }
  check(std::equal(train.output(0), train.output(0) + 15, infer.output(0)),
        "a forward-only executor computes what a training one does");
  check_throws([&] { infer.backward(5); }, "forward only",
               "a forward-only executor refuses backward");
  check_throws([&] { infer.request_input_gradient(0); }, "forward only", "... and input gradients");
}

void test_op_kinds() {
  std::set<std::string> names;
  for (size_t k = 0; k < kNumOpKinds; ++k) names.insert(op_kind_name(static_cast<OpKind>(k)));
  check(names.size() == kNumOpKinds && names.count("?") == 0, "every op kind has its own name");
  check(std::string(op_kind_name(OpKind::Dense)) == "Dense", "names are the kinds'");
  for (size_t k = 0; k < kNumOpKinds; ++k)
    check(cpu_backend().supports(static_cast<OpKind>(k)),
          std::string("the CPU runs ") + op_kind_name(static_cast<OpKind>(k)));
}

}  // namespace

int main() {
  test_device_names();
  test_registry();
  test_buffers();
  test_unsupported_ops();
  test_op_kinds();
  test_forward_only_executor();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
