"""ember's model summary text must match Keras 3's ``model.summary()`` exactly."""

import contextlib
import io
import math
import os

import numpy as np
import pytest

# The summary does not depend on the backend; numpy needs no framework. Keep
# a backend that the session (or the user) has already chosen.
os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")

from ember.utils.summary_utils import (
    format_param_count,
    format_shape,
    print_summary,
    readable_memory_size,
)


def _dense_model():
    return keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(50, activation="relu"),
            keras.layers.Dense(50, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def _softmax_model():
    return keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(4, activation="softmax"),
        ],
        name="five_five_four",
    )


def _long_names_model():
    return keras.Sequential(
        [
            keras.Input(shape=(16,)),
            # A single word wider than the first column: cut with an ellipsis.
            keras.layers.Dense(32, name="a_really_long_layer_name_that_cannot_possibly_fit"),
            # Several words: wrapped over several lines of the cell.
            keras.layers.Dense(8, name="hidden layer with a long descriptive name of many words"),
            keras.layers.Dense(1, name="out"),
        ],
        name="a model whose name is long enough to need wrapping on an eighty column console "
        "and then some",
    )


def _mixed_model():
    frozen = keras.layers.Dense(6, name="frozen")
    frozen.trainable = False
    return keras.Sequential(
        [
            keras.Input(shape=(4, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(12345, name="wide"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            frozen,
        ]
    )


def _rows(model):
    """The (label, shape, params) rows Keras shows for each layer."""
    return [
        (
            f"{layer.name} ({type(layer).__name__})",
            format_shape(layer.output.shape),
            format_param_count(layer.count_params()),
        )
        for layer in model.layers
    ]


def _size(variables):
    return sum(math.prod(v.shape) for v in variables)


def _counts(model):
    trainable = _size(model.trainable_weights)
    non_trainable = _size(model.non_trainable_weights)
    return trainable + non_trainable, trainable, non_trainable


def _keras_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    assert len(lines) == 1  # Keras hands print_fn the whole summary at once
    return lines[0]


def _ember_text(model, **kwargs):
    lines = []
    print_summary(model.name, _rows(model), *_counts(model), print_fn=lines.append, **kwargs)
    assert len(lines) == 1
    return lines[0]


@pytest.mark.parametrize(
    "build",
    [_dense_model, _softmax_model, _long_names_model, _mixed_model],
    ids=lambda f: f.__name__,
)
def test_summary_matches_keras(build):
    model = build()
    expected = _keras_text(model)
    assert "┏" in expected and " Total params: " in expected
    assert _ember_text(model) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"line_length": 120},
        {"line_length": 40},  # header and shapes wrap, names get cut
        {"line_length": 70, "positions": [0.5, 0.75, 1.0]},
        {"line_length": 200},  # wider than the console: lines are cropped
    ],
)
def test_summary_layout_options_match_keras(kwargs):
    model = _long_names_model()
    assert _ember_text(model, **kwargs) == _keras_text(model, **kwargs)


def test_summary_respects_columns_env(monkeypatch):
    # COLUMNS drives both Keras's default line length and the console width
    # that rich wraps the title to and crops the table at.
    monkeypatch.setenv("COLUMNS", "50")
    model = _long_names_model()
    assert _ember_text(model) == _keras_text(model)
    assert _ember_text(model, line_length=90) == _keras_text(model, line_length=90)


def test_summary_to_stdout_matches_keras():
    model = _dense_model()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        model.summary()
    expected = out.getvalue()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        print_summary(model.name, _rows(model), *_counts(model))
    assert out.getvalue() == expected
    assert expected.startswith('Model: "')


def test_summary_of_model_without_layers_matches_keras():
    model = keras.Sequential([keras.Input(shape=(3,))], name="empty")
    assert _ember_text(model) == _keras_text(model)


def test_summary_with_built_optimizer_matches_keras():
    model = _softmax_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    variables = model.optimizer.variables
    optimizer_params = _size(variables)
    optimizer_bytes = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)
    total, trainable, non_trainable = _counts(model)
    lines = []
    print_summary(
        model.name,
        _rows(model),
        total + optimizer_params,
        trainable,
        non_trainable,
        print_fn=lines.append,
        optimizer_params=optimizer_params,
        optimizer_bytes=optimizer_bytes,
    )
    expected = _keras_text(model)
    assert " Optimizer params: " in expected
    assert lines == [expected]


def test_size_and_count_formatting_match_keras():
    from keras.src.utils import summary_utils as keras_summary

    for size in [0, 1, 1023, 1024, 10604, 2.5 * 1024**2, 1024**3 - 1, 7 * 1024**4, 3 * 1024**6]:
        assert readable_memory_size(size) == keras_summary.readable_memory_size(size)
    assert format_param_count(2651) == "2,651"
    assert format_param_count(0) == "0"
    assert format_shape((None, 50)) == "(None, 50)"
    assert format_shape((None,)) == "(None)"


def test_narrow_line_length_is_rejected_like_keras():
    model = _dense_model()
    with pytest.raises(ValueError, match="Insufficient console width"):
        _keras_text(model, line_length=8)
    with pytest.raises(ValueError, match="Insufficient console width"):
        _ember_text(model, line_length=8)
