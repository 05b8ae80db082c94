"""SpectralNormalization: a Dense layer whose kernel is divided by its spectral norm in
training, as Keras 3 does it on the jax backend.

There, each training step computes u, v by power iteration from the stored `vector_u` (a
non-trainable (1, units) weight that keeps the new u) and runs the wrapped layer with
kernel / sigma, sigma = v W u^T with u and v held constant - the gradient flows through
sigma too; the stored kernel is never rescaled (jax's trainer keeps no assignment to a
trainable variable made inside call()), and inference uses it as it is. In the engine the
wrapped Dense becomes x @ kernel, times the SpectralNormScale op's 1 / sigma (1 outside
training), plus the bias, then the activation."""

from ember import _core, activations, initializers
from ember.layers.core import Dense
from ember.layers.wrapper import Wrapper


class SpectralNormalization(Wrapper):
    """`SpectralNormalization(Dense(...), power_iterations=1)`. ember wraps Dense layers (the
    convolutions and embeddings Keras also takes raise NotImplementedError)."""

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) \
                or power_iterations <= 0:
            raise ValueError("`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations}`")
        if not isinstance(layer, Dense):
            raise NotImplementedError(f"SpectralNormalization: ember wraps Dense layers only, "
                                      f"got {type(layer).__name__}")
        self.power_iterations = power_iterations
        self.vector_u = None

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.layer.kernel
        self.vector_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02), trainable=False,
            name="vector_u")
        self.built = True

    # Keras tracks the wrapped kernel as this layer's own variable too (`self.kernel`): its
    # weights read kernel, vector_u, then the rest of the wrapped layer's, and its own group
    # of a weights file holds kernel and vector_u (the kernel saved twice, as Keras does).
    def _all_weights(self):
        if self.vector_u is None:
            return super()._all_weights()
        kernel = self.layer.kernel
        return [kernel, self.vector_u] + [w for w in self.layer.weights if w is not kernel]

    def _variables_in_saving_order(self):
        return [] if self.vector_u is None else [self.layer.kernel, self.vector_u]

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def _emit(self, graph, input_nodes):
        x, dense = input_nodes[0], self.layer
        z = _core.add_matmul(graph, [x], dense.kernel._core, f"{self.name}/matmul")
        scale = _core.add_spectral_norm_scale(graph, x, dense.kernel._core, self.vector_u._core,
                                              self.power_iterations, f"{self.name}/scale")
        z = _core.add_binary(graph, "multiply", [z, scale], None, None, f"{self.name}/scaled")
        if dense.bias is not None:
            z = _core.add_binary(graph, "add", [z], None, dense.bias._core, f"{self.name}/bias")
        if dense.activation is not activations.linear:
            z = activations.emit(graph, z, dense.activation, f"{self.name}/activation")
        return z

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
