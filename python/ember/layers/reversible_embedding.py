"""ReversibleEmbedding: an Embedding that can also map vectors back to logits over its
vocabulary (`layer(x, reverse=True)`), as language models tie their input and output
embeddings.

The reverse call is one EinsumDense contraction in the engine (ops_einsum.h): with
tie_weights, `x @ embeddings^T`, the (vocab, dim) table read transposed by the GEMM (no
copy); otherwise `x @ reverse_embeddings`, a (dim, vocab) weight of its own."""

import numpy as np

from ember import _core
from ember.layers.embedding import Embedding
from ember.layers.layer import KerasTensor, emit_layer_call


class ReversibleEmbedding(Embedding):
    """`layer(ids)` looks rows up as Embedding does; `layer(x, reverse=True)` gives logits
    (batch, ..., input_dim) for x (batch, ..., output_dim); with logit_soft_cap c the logits
    become `tanh(logits / c) * c`."""

    def __init__(self, input_dim, output_dim, tie_weights=True,
                 embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        if reverse_dtype not in (None, "float32"):
            raise NotImplementedError(f"ReversibleEmbedding: reverse_dtype={reverse_dtype!r} is "
                                      "not supported; ember computes in float32.")
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, bool) or not isinstance(
                logit_soft_cap, (int, float)) or logit_soft_cap <= 0):
            raise ValueError("ReversibleEmbedding: `logit_soft_cap` must be a positive number or "
                             f"None, got {logit_soft_cap!r}")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap
        self.reverse_embeddings = None
        self._call_options = {}

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights and self.reverse_embeddings is None:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim), initializer=self.embeddings_initializer,
                name="reverse_embeddings")
        self.built = True

    def __call__(self, inputs, reverse=False, **kwargs):
        options = {"reverse": True} if reverse else {}
        if isinstance(inputs, KerasTensor):
            self._call_options = options
            try:
                out = super().__call__(inputs, **kwargs)
            finally:
                self._call_options = {}
            out._call.kwargs = options
            return out
        if not reverse:
            return super().__call__(inputs, **kwargs)
        x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
        if x.ndim < 2:
            raise ValueError(f"{self.name}: reverse=True needs inputs (batch, ..., "
                             f"{self.output_dim}), got shape {x.shape}")
        self._maybe_build(None)
        graph = _core.Graph()
        nodes = [graph.add_input(list(x.shape[1:]), "input")]
        outs, _, _ = emit_layer_call(self, graph, nodes, call_kwargs=options)
        return _core.Model(graph, nodes, outs).predict([x], max(len(x), 1))[0]

    # A forward call is an Embedding call: the engine builds it from Embedding's part of the
    # config and the table alone; a reverse call (logits) is emitted here.
    def _builds_in_engine(self, reverse=False, **call_kwargs):
        return not reverse and super()._builds_in_engine()

    def _engine_config(self):
        return Embedding.get_config(self)

    def _engine_weights(self):
        return [self.embeddings]

    def _wanted_input_dtype(self, index, reverse=False):
        return "float32" if reverse else "int32"

    def compute_output_shape(self, input_shape):
        if self._call_options.get("reverse"):
            if input_shape[-1] != self.output_dim:
                raise ValueError(f"{self.name}: reverse=True needs inputs whose last axis is "
                                 f"output_dim={self.output_dim}, got shape {tuple(input_shape)}")
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return super().compute_output_shape(input_shape)

    def compute_mask(self, inputs, previous_mask=None):
        if self._call_options.get("reverse"):
            return None
        return super().compute_mask(inputs, previous_mask)

    def _emit(self, graph, input_nodes, reverse=False):
        if not reverse:
            return super()._emit(graph, input_nodes)
        row = list(graph.row_shape(input_nodes[0]))
        if not row or row[-1] != self.output_dim:
            raise ValueError(f"{self.name}: reverse=True needs inputs whose last axis is "
                             f"output_dim={self.output_dim}, got row shape {tuple(row)}")
        # Labels: the batch, the inner axes, then d (features) against v (vocabulary).
        inner = "bcefghijklmnopqrstuw"[:len(row) - 1]
        if self.tie_weights:
            equation, kernel = f"a{inner}d,vd->a{inner}v", self.embeddings
        else:
            equation, kernel = f"a{inner}d,dv->a{inner}v", self.reverse_embeddings
        node = _core.add_einsum_dense(graph, input_nodes[0], equation, kernel._core, None,
                                      f"{self.name}/logits")
        if self.logit_soft_cap is not None:
            cap = _core.Variable("logit_soft_cap", np.float32(self.logit_soft_cap), False)
            node = _core.add_binary(graph, "divide", [node], None, cap, f"{self.name}/soft_cap")
            node = graph.add_activation(node, "tanh", f"{self.name}/soft_cap_tanh")
            node = _core.add_binary(graph, "multiply", [node], None, cap,
                                    f"{self.name}/soft_cap_scale")
        return node

    def _emit_mask(self, graph, input_nodes, mask_nodes, reverse=False):
        if reverse:
            return None
        return super()._emit_mask(graph, input_nodes, mask_nodes)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights,
                "reverse_dtype": self.reverse_dtype, "logit_soft_cap": self.logit_soft_cap}
