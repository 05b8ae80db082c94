"""`TensorBoard`: Keras 3's callback, writing event files without TensorFlow.

Keras's callback needs TensorFlow's summary writer; ember writes the same records
with tensorboardX, an optional dependency (`pip install "ember[tensorboard]"`).
The run layout and the tags are Keras's, so TensorBoard shows an ember run beside
a Keras run under the same names:

    log_dir/train/       epoch_loss, epoch_<metric>, epoch_learning_rate, batch_<metric>,
                         <layer>/<weight>/histogram (and /image), the model's config
    log_dir/validation/  epoch_loss, epoch_<metric>, evaluation_<metric>_vs_iterations

Steps are Keras's too: the epoch index for `epoch_*`, the global batch count
(from 1) for `batch_*`, the optimizer's iterations for `evaluation_*`.
"""

import os
import time

import numpy as np

from ember.callbacks import Callback, _optimizers_of
from ember.visualization import check_update_freq

__all__ = ["TensorBoard"]

# TensorFlow's DataType for strings, which the graph_keras_model plugin reads.
_DT_STRING = 7


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "ember.callbacks.TensorBoard writes its event files with tensorboardX, which is "
            "not installed: `pip install tensorboardX` (or `pip install \"ember[tensorboard]\"`, "
            "which also installs TensorBoard itself to view them).") from None
    return SummaryWriter


class TensorBoard(Callback):
    """Logs losses, metrics, the learning rate, weight histograms and the model's graph for
    TensorBoard (`tensorboard --logdir log_dir`).

    Args:
        log_dir: the folder of the run; `train/` and `validation/` are written inside it.
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the model's config, which TensorBoard's graph tab draws.
        write_images: with histograms, also write each weight as an image.
        write_steps_per_second: also log training steps per second.
        update_freq: `"epoch"`, `"batch"` or an integer N: write `batch_*` scalars every N
            training batches (which makes fit return to Python after each batch).
        profile_batch: must be 0: ember has no profiler to trace with.
        embeddings_freq, embeddings_metadata: must be 0 / None: ember has no Embedding
            layer to project.
    """

    _rank_zero_only = True  # under ember.distribution: rank 0 writes (and draws)

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        if embeddings_freq or embeddings_metadata:
            raise NotImplementedError(
                "TensorBoard(embeddings_freq=...) is not supported by ember: it projects "
                "Embedding layers, which ember does not have. Pass embeddings_freq=0.")
        if profile_batch:
            raise NotImplementedError(
                "TensorBoard(profile_batch=...) is not supported by ember: there is no "
                f"profiler to trace batches with. Pass profile_batch=0 (got {profile_batch!r}).")
        update_freq = check_update_freq(update_freq)
        for name, value in (("histogram_freq", histogram_freq),
                            ("embeddings_freq", embeddings_freq)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}")
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._epoch_start_iterations = 0

    # -- writers ----------------------------------------------------------------
    def _writer(self, which):
        if which not in self._writers:
            folder = os.path.join(self.log_dir, "train" if which == "train" else "validation")
            # Flushed at each epoch's end and when fit ends; never on a timer thread.
            self._writers[which] = self._writer_class(folder, flush_secs=10 ** 6)
        return self._writers[which]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        if self.write_graph and model is not None and getattr(model, "outputs", None):
            self._write_model_config()

    def _write_model_config(self):
        """The model's JSON under the tag `keras`, as Keras's `keras_model_summary` writes it:
        TensorBoard's graph tab draws it as a conceptual graph."""
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        try:
            text = self.model.to_json()
        except Exception as e:  # an unserializable custom layer must not stop training
            import warnings
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {e}", stacklevel=2)
            return
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = TensorProto(dtype=_DT_STRING, string_val=[text.encode("utf-8")],
                             tensor_shape=TensorShapeProto())
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        self._writer("train")._get_file_writer().add_summary(summary, 0)

    # -- per batch only when asked -------------------------------------------------
    def _listens_per_batch(self, mode):
        return mode == "train" and (self.update_freq != "epoch" or self.write_steps_per_second)

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._batch_start_time
            writer.add_scalar("batch_steps_per_second", 1.0 / max(elapsed, 1e-9), step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations"):
            return
        writer = self._writer("validation")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value),
                              int(optimizer.iterations))
        writer.flush()  # evaluate() alone never reaches on_train_end's close

    # -- per epoch -------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = int(self.model.optimizer.iterations)
            self._epoch_start_time = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, dict(logs or {}))
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if self.model.optimizer is not None:
            for name, opt in _optimizers_of(self.model):
                train[f"learning_rate_{name}" if name else "learning_rate"] = \
                    float(opt.learning_rate)
        if self.write_steps_per_second:
            steps = int(self.model.optimizer.iterations) - self._epoch_start_iterations
            train["steps_per_second"] = steps / max(time.perf_counter()
                                                    - self._epoch_start_time, 1e-9)
        for which, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = np.asarray(weight.numpy(), dtype=np.float32)
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        writer.add_image(f"{name}/image", image, epoch, dataformats="HWC")


def _weight_image(weight):
    """A weight as a one-channel image laid out as Keras lays it (a bias as one column,
    a kernel with its longer axis across), values clipped to [0, 1] as TensorFlow's image
    summary saturates floats."""
    w = np.squeeze(weight)
    if w.ndim == 1:
        w = w.reshape(w.shape[0], 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
    else:
        return None
    return np.clip(w, 0.0, 1.0)[:, :, None]
