"""Attention (Luong-style dot-product) and AdditiveAttention (Bahdanau-style).

Both take `[query, value]` or `[query, value, key]` (batch, ..., T, dim) and compute, as
Keras 3 does step for step: scores (batch, ..., Tq, Tv), masked where the value mask is 0
or (use_causal_mask) above the diagonal by subtracting 1e9, a softmax, dropout in training,
then `weights @ value`, zeroed where the query mask is 0. In the engine that is a chain of
ops - per-sample batched GEMMs, the elementwise engine, the masked softmax
(ops_score_attention.h) - so nothing runs in Python per step.

Masks come as Keras's `mask=[query_mask, value_mask]` with array inputs, or from the
inputs themselves (Embedding(mask_zero=True), Masking) in a model."""

import numpy as np

from ember import _core
from ember.layers.layer import KerasTensor, Layer
from ember.layers.regularization import _layer_seed, _op_seed


class Attention(Layer):
    """Dot-product attention: scores are `query @ key^T` (times the trainable scalar `scale`
    with use_scale), or with score_mode="concat" `concat_score_weight *
    sum(tanh(scale * (query + key)), -1)`."""

    _consumes_mask = True
    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = use_scale
        self.score_mode = score_mode
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"Invalid value received for argument `dropout`: it must be a float "
                             f"between 0 and 1. Received: dropout={dropout!r}")
        self.dropout = dropout
        self.seed = seed
        self._seed = _layer_seed(seed)
        self._eager_draws = 0
        if self.score_mode not in ["dot", "concat"]:
            raise ValueError("Invalid value for argument score_mode. Expected one of {'dot', "
                             f"'concat'}}. Received: score_mode={score_mode}")
        self.scale = None
        self.concat_score_weight = None
        self._call_options = {}

    # -- shapes -------------------------------------------------------------------------
    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely [query, "
                             f"value] or [query, value, key]. Received: inputs={inputs}.")
        if len(inputs) < 2 or len(inputs) > 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             f"[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                                 f"value_mask]. Received: mask={mask}.")
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. Received: "
                                 f"inputs={inputs}, mask={mask}.")

    def _check_shapes(self, input_shape):
        self._validate_inputs(input_shape)
        q, v = tuple(input_shape[0]), tuple(input_shape[1])
        k = tuple(input_shape[2]) if len(input_shape) > 2 else v
        name = type(self).__name__
        for shape in (q, v, k):
            if len(shape) < 3:
                raise ValueError(f"{name}: inputs must have shape (batch, ..., steps, dim); got "
                                 f"{shape}")
        if not len(q) == len(v) == len(k) or q[1:-2] != v[1:-2] or v[1:-2] != k[1:-2]:
            raise ValueError(f"{name}: query {q}, value {v} and key {k} must have the same rank "
                             "and leading axes")
        if k[-2] != v[-2]:
            raise ValueError(f"{name}: key {k} and value {v} must have the same number of "
                             f"steps ({k[-2]} != {v[-2]})")
        if q[-1] != k[-1]:
            raise ValueError(f"{name}: query {q} and key {k} must have the same last dimension "
                             f"({q[-1]} != {k[-1]})")
        return q, v, k

    def build(self, input_shape):
        self._check_shapes(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones")
        self.built = True

    def compute_output_shape(self, input_shape):
        q, v, k = self._check_shapes(input_shape)
        out = (*q[:-1], v[-1])
        if self._call_options.get("return_attention_scores"):
            return [out, (*q[:-1], k[-2])]
        return out

    def compute_mask(self, inputs, mask=None):
        self._validate_inputs(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        if self._call_options.get("return_attention_scores"):
            return [mask[0], None]
        return mask[0]

    # -- calling ------------------------------------------------------------------------
    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False,
                 use_causal_mask=False, **kwargs):
        self._validate_inputs(inputs, mask)
        options = {}
        if return_attention_scores:
            options["return_attention_scores"] = True
        if use_causal_mask:
            options["use_causal_mask"] = True
        flat = list(inputs)
        if any(isinstance(t, KerasTensor) for t in flat):
            if mask is not None and any(m is not None for m in mask):
                raise NotImplementedError(
                    f"{self.name}: an explicit symbolic `mask` is not supported; in a model, "
                    "masks reach Attention from its inputs (Embedding(mask_zero=True), "
                    "Masking). With arrays, pass `mask=[query_mask, value_mask]`.")
            self._call_options = options
            try:
                out = super().__call__(list(inputs), training=training, **kwargs)
            finally:
                self._call_options = {}
            first = out[0] if isinstance(out, list) else out
            first._call.kwargs = options
            return tuple(out) if isinstance(out, list) else out
        return self._call_arrays(list(inputs), mask, training, options)

    def _call_arrays(self, inputs, mask, training, options):
        if training and self.dropout > 0:
            raise NotImplementedError(f"{self.name}: calling the layer on arrays with "
                                      "training=True and dropout is not supported; train it in "
                                      "a model.")
        arrays = [np.ascontiguousarray(np.asarray(x, dtype=np.float32)) for x in inputs]
        shapes = [(None,) + a.shape[1:] for a in arrays]
        self._maybe_build(shapes)
        self._check_shapes(shapes)
        graph = _core.Graph()
        nodes = [graph.add_input(list(a.shape[1:]), f"input_{i}") for i, a in enumerate(arrays)]
        mask_nodes = [None] * len(arrays)
        for i, m in enumerate(list(mask or [])[:2]):
            if m is None:
                continue
            m = np.asarray(m)
            want = arrays[i].shape[:-1]
            if m.shape != want:
                raise ValueError(f"{self.name}: mask {i} must have shape {want} (the input's "
                                 f"without its last axis), got {m.shape}")
            arrays.append(np.ascontiguousarray(m.astype(bool).astype(np.float32)))
            mask_nodes[i] = graph.add_input(list(want[1:]), f"mask_{i}")
        outs = self._emit(graph, nodes, mask_nodes=mask_nodes, **options)
        outs = outs if isinstance(outs, list) else [outs]
        model = _core.Model(graph, nodes + [n for n in mask_nodes if n is not None], outs)
        results = model.predict(arrays, max(len(arrays[0]), 1))
        return tuple(results) if len(results) > 1 else results[0]

    # -- the engine graph ---------------------------------------------------------------
    def _scores(self, graph, q, k):
        """(batch, ..., Tq, Tv) scores of query q against key k."""
        if self.score_mode == "dot":
            scores = _core.add_batch_matmul(graph, q, k, True, f"{self.name}/scores")
            if self.scale is not None:
                scores = _core.add_binary(graph, "multiply", [scores], None, self.scale._core,
                                          f"{self.name}/scale")
            return scores
        pairs = self._pairs(graph, q, k)
        if self.scale is not None:
            pairs = _core.add_binary(graph, "multiply", [pairs], None, self.scale._core,
                                     f"{self.name}/scale")
        pairs = graph.add_activation(pairs, "tanh", f"{self.name}/tanh")
        summed = self._sum_last(graph, pairs)
        return _core.add_binary(graph, "multiply", [summed], None, self.concat_score_weight._core,
                                f"{self.name}/concat_score_weight")

    def _pairs(self, graph, q, k):
        """query[..., :, None, :] + key[..., None, :, :]: (batch, ..., Tq, Tv, dim)."""
        qr, kr = list(graph.row_shape(q)), list(graph.row_shape(k))
        q4 = _core.add_reshape(graph, q, qr[:-1] + [1, qr[-1]], f"{self.name}/query_pairs")
        k4 = _core.add_reshape(graph, k, kr[:-2] + [1] + kr[-2:], f"{self.name}/key_pairs")
        return _core.add_binary(graph, "add", [q4, k4], None, None, f"{self.name}/pairs")

    def _sum_last(self, graph, node):
        rank = len(graph.row_shape(node))
        return _core.add_reduce(graph, "sum", node, [rank - 1], False, f"{self.name}/sum")

    def _emit(self, graph, input_nodes, mask_nodes=None, return_attention_scores=False,
              use_causal_mask=False):
        q, v = input_nodes[0], input_nodes[1]
        k = input_nodes[2] if len(input_nodes) > 2 else v
        masks = list(mask_nodes or []) + [None, None]
        q_mask, v_mask = masks[0], masks[1]
        scores = self._scores(graph, q, k)
        weights = _core.add_masked_softmax(graph, scores, -1 if v_mask is None else v_mask,
                                           bool(use_causal_mask), f"{self.name}/softmax")
        used = weights
        if self.dropout > 0:
            used = _core.add_dropout(graph, weights, float(self.dropout), [],
                                     _op_seed(self, graph), f"{self.name}/dropout")
        out = _core.add_batch_matmul(graph, used, v, False, f"{self.name}/output")
        if q_mask is not None:
            row = list(graph.row_shape(q_mask))
            column = _core.add_reshape(graph, q_mask, row + [1], f"{self.name}/query_mask")
            out = _core.add_binary(graph, "multiply", [out, column], None, None,
                                   f"{self.name}/masked_output")
        return [out, weights] if return_attention_scores else out

    def _emit_mask(self, graph, input_nodes, mask_nodes, **call_kwargs):
        return mask_nodes[0] if mask_nodes else None

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention: scores are `sum(scale * tanh(query + key), -1)`, `scale` a
    trainable (dim,) vector with use_scale (the default)."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        q, _, _ = self._check_shapes(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(q[-1],),
                                         initializer="glorot_uniform")
        self.built = True

    def _scores(self, graph, q, k):
        pairs = graph.add_activation(self._pairs(graph, q, k), "tanh", f"{self.name}/tanh")
        if self.scale is not None:
            pairs = _core.add_binary(graph, "multiply", [pairs], None, self.scale._core,
                                     f"{self.name}/scale")
        return self._sum_last(graph, pairs)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
