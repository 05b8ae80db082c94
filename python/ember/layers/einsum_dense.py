"""EinsumDense: `activation(einsum(equation, inputs, kernel) + bias)`.

The shapes of the kernel, the bias and the output come from the equation as Keras 3's
EinsumDense derives them (its `_analyze_einsum_string`), so weights and files move between
the two. In the engine the contraction is one op (ops_einsum.h) that maps it onto a GEMM
with strided copies around it where the axes are out of order; Keras's `...` is expanded
into letters first, the batch axis being the input's first one."""

import copy
import re
import string

from ember import _core, activations, constraints, initializers, regularizers
from ember.layers.layer import Layer, deserialize_config_objects, weight_options_config


def _expand(equation, input_shape, output_shape):
    """Keras's shape analysis of an EinsumDense equation, plus the equation with its
    ellipsis spelled out for the engine. Returns (kernel shape, bias spec, full output shape,
    input axes, output axes, explicit equation); bias spec is (output spec, elided axes after
    it) for `_bias_shape`."""
    text = equation.replace("...", "0")
    forms = (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
             ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
             ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right"))
    for pattern, side in forms:
        match = re.fullmatch(pattern, text)
        if match:
            break
    else:
        raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form "
                         "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")
    x_spec, w_spec, out_spec = match.groups()
    for spec, what in ((x_spec, "input"), (w_spec, "kernel"), (out_spec, "output")):
        for c in spec:
            if spec.count(c) > 1:
                raise ValueError(f"EinsumDense: equation '{equation}' repeats the label '{c}' "
                                 f"in its {what}; ember does not take diagonals.")
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(x_spec)
    if side is None and elided != 0:
        raise ValueError(f"EinsumDense: equation '{equation}' names {len(x_spec)} input axes, "
                         f"but the input has shape {input_shape} ({len(input_shape)} axes).")
    if side == "left" and elided < 1:
        raise ValueError(f"EinsumDense: in equation '{equation}' the '...' must cover at least "
                         f"the batch axis; the input has shape {input_shape}.")
    if side == "right" and elided < 0:
        raise ValueError(f"EinsumDense: equation '{equation}' names more input axes than the "
                         f"input of shape {input_shape} has.")
    output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output_shape.insert(0, input_shape[0])
    if side == "left":
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif side == "right":
        output_shape.extend(input_shape[len(input_shape) - elided:])
    if side == "left":
        input_map = {d: i + elided for i, d in enumerate(x_spec)}
        output_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        input_map = {d: i for i, d in enumerate(x_spec)}
        output_map = {d: i for i, d in enumerate(out_spec)}
    if len(output_shape) != len(out_spec) + (elided if side else 0):
        raise ValueError(
            f"EinsumDense: `output_shape` gives {len(output_shape) - 1 - (elided if side else 0)}"
            f" axes but the output '{out_spec}' of equation '{equation}' has "
            f"{len(out_spec) - (0 if side == 'left' else 1)} besides the batch axis.")
    for d in x_spec:
        if d in output_map:
            have, want = input_shape[input_map[d]], output_shape[output_map[d]]
            if want is not None and have is not None and want != have:
                raise ValueError(f"Input shape and output shape do not match at shared "
                                 f"dimension '{d}'. Input shape is {have}, and output shape "
                                 f"is {want}.")
            output_shape[output_map[d]] = have
    for d in out_spec:
        if d not in x_spec and d not in w_spec:
            raise ValueError(f"Dimension '{d}' was specified in the output '{out_spec}' but has "
                             f"no corresponding dim in the input spec '{x_spec}' or weight spec "
                             f"'{w_spec}'")
    kernel_shape, input_axes, output_axes = [], [], []
    for i, d in enumerate(w_spec):
        if d in output_map:
            kernel_shape.append(output_shape[output_map[d]])
            output_axes.append(i)
        elif d in input_map:
            kernel_shape.append(input_shape[input_map[d]])
            input_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{d}' did not have a match in either the input "
                             f"spec '{x_spec}' or the output spec '{out_spec}'. For this layer, "
                             "the weight must be fully specified.")
        if kernel_shape[-1] is None:
            raise ValueError(f"EinsumDense: the kernel's axis '{d}' has no known length; give it "
                             "in `output_shape` or the input's shape.")
    for d in x_spec[1 if side != "left" else 0:]:
        if d not in w_spec and d not in out_spec:
            raise NotImplementedError(
                f"EinsumDense: equation '{equation}' sums over the input's axis '{d}' (it is "
                "in neither the kernel nor the output); ember does not support that.")
    if side != "left" and (x_spec[0] != out_spec[0] or x_spec[0] in w_spec):
        raise ValueError(f"EinsumDense: in equation '{equation}' the input's first label "
                         f"'{x_spec[0]}' is the batch axis: it must also be the output's first "
                         "label and must not be in the kernel.")
    spare = [c for c in string.ascii_letters if c not in text]
    fill = "".join(spare[:max(elided, 0)])
    if side == "left":
        explicit = f"{fill}{x_spec},{w_spec}->{fill}{out_spec}"
    elif side == "right":
        explicit = f"{x_spec}{fill},{w_spec}->{out_spec}{fill}"
    else:
        explicit = f"{x_spec},{w_spec}->{out_spec}"
    num_left = elided if side == "left" else 0
    extent = {c: output_shape[i + num_left] for i, c in enumerate(out_spec)}
    trailing = elided if side == "right" else 0
    return (kernel_shape, (out_spec, extent, trailing), tuple(output_shape), input_axes,
            output_axes, explicit)


def _bias_shape(bias_axes, bias_spec):
    """Keras's bias shape: the output axes from the first bias axis on, 1 where the bias does
    not vary, and 1 for each axis a trailing '...' stands for."""
    out_spec, extent, trailing = bias_spec
    for c in bias_axes:
        if c not in out_spec:
            raise ValueError(f"Bias dimension '{c}' was requested, but is not part of the "
                             f"output spec '{out_spec}'")
    first = min(out_spec.find(c) for c in bias_axes)
    return [extent[c] if c in bias_axes else 1 for c in out_spec[first:]] + [1] * trailing


class EinsumDense(Layer):
    """A layer whose computation is `einsum(equation, inputs, kernel)` (+ bias, activation):
    `EinsumDense("abc,cde->abde", output_shape=(None, 4, 16), bias_axes="de")` projects
    (batch, T, features) to (batch, T, 4, 16). `output_shape` excludes the batch axis (and
    the axes a '...' stands for); `None` entries are taken from the input."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 gptq_unpacked_column_size=None, quantization_config=None,
                 activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                           ("gptq_unpacked_column_size", gptq_unpacked_column_size),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"EinsumDense: `{arg}` is not supported yet")
        if not isinstance(equation, str):
            raise TypeError(f"EinsumDense: `equation` must be a string, got {equation!r}")
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(f"EinsumDense: `bias_axes` must be a string or None, got "
                            f"{bias_axes!r}")
        self.equation = equation
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            self.partial_output_shape = (output_shape,)
        else:
            try:
                self.partial_output_shape = tuple(output_shape)
            except TypeError:
                raise TypeError("EinsumDense: `output_shape` must be an int or a tuple of ints "
                                f"and None, got {output_shape!r}") from None
        for d in self.partial_output_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0):
                raise ValueError("EinsumDense: `output_shape` entries must be positive ints or "
                                 f"None, got {output_shape!r}")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:  # fail here, not when the model is built
            regularizers.engine_factors(self.activity_regularizer, self.name)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank = None
        self.lora_enabled = False
        self.kernel = None
        self.bias = None

    def _analysis(self, input_shape):
        return _expand(self.equation, input_shape, self.partial_output_shape)

    def build(self, input_shape):
        kernel_shape, bias_spec, _, input_axes, output_axes, _ = self._analysis(input_shape)
        init = self.kernel_initializer
        # As Keras: a variance-scaling kernel's fans are those of the contracted (input) and
        # produced (output) axes, not of the kernel's first and last.
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            init = copy.copy(init)
            init.input_axes, init.output_axes = input_axes, output_axes
        self.kernel = self.add_weight(name="kernel", shape=tuple(kernel_shape), initializer=init,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.bias_axes is not None:
            self.bias = self.add_weight(name="bias", shape=tuple(_bias_shape(self.bias_axes,
                                                                             bias_spec)),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        raise NotImplementedError("EinsumDense: LoRA is not supported yet")

    def compute_output_shape(self, input_shape):
        shape = self._analysis(input_shape)[2]
        if self.kernel is not None:
            kernel_shape = tuple(self._analysis(input_shape)[0])
            if kernel_shape != tuple(self.kernel.shape):
                raise ValueError(f"Layer '{self.name}' was built with a kernel of shape "
                                 f"{tuple(self.kernel.shape)}; an input of shape "
                                 f"{tuple(input_shape)} needs {kernel_shape}.")
        return shape

    def _emit(self, graph, input_nodes):
        row = list(graph.row_shape(input_nodes[0]))
        equation = self._analysis([None] + row)[5]
        node = _core.add_einsum_dense(graph, input_nodes[0], equation, self.kernel._core,
                                      None if self.bias is None else self.bias._core, self.name)
        if self.activation is not activations.linear:
            node = activations.emit(graph, node, self.activation, f"{self.name}/activation")
        if self.activity_regularizer is not None:
            l1, l2 = regularizers.engine_factors(self.activity_regularizer, self.name)
            node = _core.add_activity_regularization(graph, node, l1, l2,
                                                     f"{self.name}/activity_regularizer")
        return node

    def get_config(self):
        return {**super().get_config(), "output_shape": self.partial_output_shape,
                "equation": self.equation, "activation": activations.serialize(self.activation),
                "bias_axes": self.bias_axes, **weight_options_config(self, "kernel", "bias"),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "quantization_config": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        deserialize_config_objects(config, ("kernel_initializer", "bias_initializer"),
                                   initializers)
        deserialize_config_objects(config, ("kernel_regularizer", "bias_regularizer",
                                            "activity_regularizer"), regularizers)
        deserialize_config_objects(config, ("kernel_constraint", "bias_constraint"),
                                   constraints)
        return super().from_config(config)
