"""fit/evaluate/predict's data: x, y and sample weights turned into the engine's
float32 arrays (by ember._data) and checked against the model's inputs, outputs and
losses."""

import numpy as np

from ember import _data
from ember import losses as losses_module
from ember.layers.layer import is_int_dtype


class DataHandler:
    """The model's data preparation (mixed into Trainer)."""

    def _prepare_inputs(self, x):
        if self._core is None:
            with self._run_lock:  # two threads' first predict build a Sequential once
                self._ensure_built(x)
        names, int_inputs = self._input_meta()
        arrays = _data.to_arrays(x, "x", len(self.inputs), names, int_inputs)
        for i, (a, t) in enumerate(zip(arrays, self.inputs)):
            expected = t.shape[1:]
            if a.shape[1:] != expected:
                if a.ndim == 1 and expected == (1,):
                    arrays[i] = a.reshape(-1, 1)
                    continue
                raise ValueError(
                    f'Input {i} of layer "{self.name}" is incompatible with the layer: '
                    f"expected shape={t.shape}, found shape={a.shape}"
                )
        return arrays

    def _input_meta(self):
        """(input names, which inputs are integer ones - None when none is), worked out once
        per list of inputs: a one-row predict pays for it on every call otherwise."""
        meta = self.__dict__.get("_input_meta_cache")
        if meta is None or meta[0] is not self.inputs:
            names = [t._call.layer.name for t in self.inputs]
            # Integer inputs (issue 11) take their arrays' int32 bits.
            ints = [is_int_dtype(t.dtype) for t in self.inputs]
            meta = (self.inputs, names, ints if any(ints) else None)
            self.__dict__["_input_meta_cache"] = meta
        return meta[1], meta[2]

    def _prepare_targets(self, y, samples):
        if y is None:
            raise ValueError("`y` is required to train or evaluate this model.")
        arrays = _data.to_arrays(y, "y", len(self.outputs), self._output_names())
        losses = self._losses_per_output()
        for o, (t, out, loss) in enumerate(zip(arrays, self.outputs, losses)):
            if t.shape[0] != samples:
                raise ValueError(
                    f"x and y must have the same number of samples; got {samples} and {t.shape[0]}."
                )
            spec = losses_module.engine_spec(loss)
            kernel = spec.name
            if losses_module.custom_loss(loss) is not None:
                continue  # a custom loss takes the targets as they come
            out_shape = out.shape[1:]
            if kernel == "ctc":
                if len(out_shape) != 2 or t.ndim != 2:
                    raise ValueError(
                        f"ctc expects an output of shape (batch_size, max_length, num_classes) "
                        f"and labels of shape (batch_size, max_length); got y of shape "
                        f"{t.shape} for output shape {out.shape}.")
                continue
            if kernel in ("categorical_generalized_cross_entropy", "circle"):
                labels_shape = out_shape[:-1]
                if t.shape[1:] not in (labels_shape, labels_shape + (1,)):
                    raise ValueError(
                        f"{kernel} expects integer labels of shape {(None,) + labels_shape}, "
                        f"got y of shape {t.shape} for output shape {out.shape}.")
                if kernel == "circle":
                    arrays[o] = np.trunc(np.asarray(t, np.float32)).reshape(samples, -1)
                else:
                    losses_module.check_sparse_labels(t, out_shape[-1])
                    arrays[o] = t.reshape(samples, -1)
                continue
            if kernel == "sparse_categorical_crossentropy":
                labels_shape = out_shape[:-1]
                if t.shape[1:] not in (labels_shape, labels_shape + (1,)):
                    raise ValueError(
                        f"sparse_categorical_crossentropy expects integer labels of shape "
                        f"{(None,) + labels_shape}, got y of shape {t.shape} for output "
                        f"shape {out.shape}."
                    )
                losses_module.check_sparse_labels(t, out_shape[-1], spec.ignore_class)
                arrays[o] = t.reshape(samples, -1)
            elif t.shape[1:] != out_shape:
                if t.shape[1:] + (1,) == out_shape:
                    arrays[o] = t.reshape((samples,) + out_shape)
                    continue
                hint = ""
                if kernel == "categorical_crossentropy" and t.shape[1:] in ((), (1,)):
                    hint = (" The targets look like class indices: one-hot encode them with "
                            "`ember.utils.to_categorical`, or use "
                            "loss='sparse_categorical_crossentropy'.")
                raise ValueError(
                    f"Target shape {t.shape} does not match the model's output shape "
                    f"{out.shape} for loss {kernel}.{hint}"
                )
        return arrays

    @staticmethod
    def _batch_size(batch_size, default=32):
        if batch_size is None:
            return default
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}")
        return int(min(batch_size, 2**62))  # a batch past the data is the data: no overflow

    def _prepare_sample_weights(self, sample_weight, class_weight, ys, n):
        """fit/evaluate's `sample_weight` and `class_weight` -> one (n,) float32 array (or
        None) per output for the engine, or None when nothing is weighted. As Keras: one
        array weights every output; class weights (single output only) come from the
        labels (argmax of one-hot rows, else the rounded value) and multiply."""
        if sample_weight is None and class_weight is None:
            return None
        outputs = len(self.outputs)
        if sample_weight is None:
            weights = [None] * outputs
        elif isinstance(sample_weight, dict):
            weights = [sample_weight.get(name) for name in self._output_names()]
        elif outputs > 1 and isinstance(sample_weight, (list, tuple)):
            if len(sample_weight) != outputs:
                raise ValueError(f"`sample_weight` has {len(sample_weight)} entries for a model "
                                 f"with {outputs} outputs.")
            weights = list(sample_weight)
        else:
            weights = [sample_weight] * outputs
        for o, w in enumerate(weights):
            if w is None:
                continue
            w = _data.to_array(w, "sample_weight")
            if w.shape[0] != n or w.size != n:
                raise ValueError(f"`sample_weight` must hold one weight per sample, shape ({n},); "
                                 f"got shape {w.shape}.")
            weights[o] = w.reshape(n)
        if class_weight is not None:
            if outputs > 1:
                raise ValueError("`class_weight` is only supported for Models with a single "
                                 "output.")
            if not isinstance(class_weight, dict):
                raise ValueError(f"`class_weight` must be a dict mapping class ids to weights, "
                                 f"got {type(class_weight).__name__}.")
            y = ys[0]
            labels = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
            labels = np.round(labels).astype(np.int64)
            from_classes = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
            weights[0] = from_classes if weights[0] is None else weights[0] * from_classes
        return [None if w is None else np.ascontiguousarray(w, np.float32) for w in weights]
