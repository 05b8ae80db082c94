"""Bit-for-bit A/B of two ember builds: trains the same small models on each and
compares the weights and loss histories bit for bit.

For refactors that must not change a single bit of the numerics (moving kernels
between files, sharing per-element math with another backend). Every activation
(fused into Dense, and as an op of its own, parameters included), every loss (with
its options: logits, label smoothing, class balancing, sample weights) and every
optimizer (with momentum, Nesterov, amsgrad, centered, clipnorm, global_clipnorm,
clipvalue, weight decay) trains a few epochs from the same initial weights.

    python benchmarks/ab_bitwise.py --a /work/ab/old --b python

--a and --b are PYTHONPATH entries holding an `ember` package (with its _core).
Each build runs in a subprocess of its own; the script exits 1 if any case differs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SAMPLES, FEATURES, UNITS, CLASSES, BATCH, EPOCHS = 90, 7, 12, 4, 16, 3
WIDE = 6000  # a (16, 6000) activation and 42k-element variables: past the kernels' thread threshold

ACTIVATIONS = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "sigmoid", "hard_sigmoid",
    "log_sigmoid", "sparse_sigmoid", "tanh", "hard_tanh", "tanh_shrink", "softplus",
    "sparse_plus", "squareplus", "softsign", "silu", "hard_silu", "gelu", "mish", "exponential",
    "hard_shrink", "soft_shrink", "softmax", "log_softmax",
]
# Activations with parameters, through the engine's Activation op: (name, parameters).
PARAMETRISED = [
    ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 0.6}),
    ("relu", {"threshold": 0.2}), ("relu", {"max_value": 6.0}),
    ("relu", {"negative_slope": 0.1, "max_value": 0.8, "threshold": 0.1}),
    ("leaky_relu", {"negative_slope": 0.05}), ("elu", {"alpha": 0.7}), ("celu", {"alpha": 1.7}),
    ("gelu", {"approximate": True}), ("squareplus", {"b": 2.5}),
    ("hard_shrink", {"threshold": 0.2}), ("soft_shrink", {"threshold": 0.2}),
]
# (loss, its arguments, target kind)
LOSSES = [
    ("MeanSquaredError", {}, "real"), ("MeanAbsoluteError", {}, "real"),
    ("MeanAbsolutePercentageError", {}, "real"), ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {}, "real"), ("Huber", {"delta": 0.3}, "real"), ("LogCosh", {}, "real"),
    ("BinaryCrossentropy", {}, "binary_prob"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary_prob"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "binary"),
    ("BinaryFocalCrossentropy", {}, "binary_prob"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "gamma": 1.5}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4,
                                 "label_smoothing": 0.1}, "binary_prob"),
    ("CategoricalCrossentropy", {}, "onehot_prob"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot_prob"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse_prob"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "sparse"),
    ("KLDivergence", {}, "distribution"), ("Poisson", {}, "positive"),
    ("Hinge", {}, "binary"), ("Hinge", {}, "signed"), ("SquaredHinge", {}, "binary"),
    ("SquaredHinge", {}, "signed"), ("CategoricalHinge", {}, "onehot"),
    ("CosineSimilarity", {}, "real"),
]
OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.05}), ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"learning_rate": 0.01}), ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"learning_rate": 0.005}), ("RMSprop", {"learning_rate": 0.005, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.005, "centered": True}),
    ("RMSprop", {"learning_rate": 0.005, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"learning_rate": 0.05}), ("Adadelta", {"learning_rate": 1.0}),
    ("Adamax", {"learning_rate": 0.01}), ("Nadam", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.003}),
    ("Adam", {"learning_rate": 0.01, "clipnorm": 0.05}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "global_clipnorm": 0.2}),
    ("RMSprop", {"learning_rate": 0.005, "clipvalue": 0.02}),
    ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.5}),
    ("Lion", {"learning_rate": 0.003, "weight_decay": 0.2}),
]


def _data(rng, target):
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    if target == "real":
        return x, rng.normal(size=(SAMPLES, CLASSES)).astype(np.float32), CLASSES
    if target == "positive":
        return x, rng.uniform(0.1, 3.0, size=(SAMPLES, CLASSES)).astype(np.float32), CLASSES
    if target in ("binary", "binary_prob"):
        return x, rng.integers(0, 2, size=(SAMPLES, 1)).astype(np.float32), 1
    if target == "signed":
        return x, rng.choice([-1.0, 1.0], size=(SAMPLES, 1)).astype(np.float32), 1
    labels = rng.integers(0, CLASSES, size=SAMPLES)
    if target in ("sparse", "sparse_prob"):
        return x, labels.astype(np.float32), CLASSES
    if target == "distribution":
        t = rng.uniform(0.05, 1.0, size=(SAMPLES, CLASSES)).astype(np.float32)
        return x, t / t.sum(axis=1, keepdims=True), CLASSES
    return x, np.eye(CLASSES, dtype=np.float32)[labels], CLASSES  # onehot, onehot_prob


def _output_activation(target):
    return {"binary_prob": "sigmoid", "onehot_prob": "softmax", "sparse_prob": "softmax",
            "distribution": "softmax", "positive": "softplus"}.get(target, "linear")


def _train(ember, seed, hidden, output, loss, optimizer, target="real", sample_weight=False):
    """Fits Dense(hidden) -> Dense(output) from seeded weights; returns weights and losses."""
    rng = np.random.default_rng(seed)
    x, y, out = _data(rng, target)
    layers = [ember.layers.Input((FEATURES,))]
    layers += hidden
    layers += [ember.layers.Dense(out, activation=output)]
    model = ember.models.Sequential(layers)
    # A wide layer's outputs get 1/sqrt(fan-in) weights, so that its training stays finite.
    model.set_weights([rng.normal(scale=min(0.4, w.shape[0] ** -0.5), size=w.shape)
                       .astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer=optimizer, loss=loss)
    weights = rng.uniform(0.2, 2.0, size=SAMPLES).astype(np.float32) if sample_weight else None
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                        sample_weight=weights)
    return [np.asarray(w) for w in model.get_weights()] + [np.asarray(history.history["loss"])]


def _cases(ember):
    """name -> a function training one model and returning its arrays."""
    layers, ops, opt, losses = ember.layers, ember.ops, ember.optimizers, ember.losses
    cases = {}
    for i, act in enumerate(ACTIVATIONS):
        # Fused into Dense's epilogue, and as an op of its own after a linear Dense.
        cases[f"dense[{act}]"] = lambda act=act, i=i: _train(
            ember, 100 + i, [layers.Dense(UNITS, activation=act)], "linear", "mse",
            opt.SGD(learning_rate=0.02))
        cases[f"activation[{act}]"] = lambda act=act, i=i: _train(
            ember, 200 + i, [layers.Dense(UNITS), layers.Activation(act)], "linear", "mse",
            opt.Adam(learning_rate=0.01))
    for i, (act, params) in enumerate(PARAMETRISED):
        def fn(t, act=act, params=params):
            return ops._activation(act, t, **params)
        cases[f"op[{act}{params}]"] = lambda fn=fn, i=i: _train(
            ember, 300 + i, [layers.Dense(UNITS), layers.Lambda(fn)], "linear", "mse",
            opt.SGD(learning_rate=0.02))
    cases["layer[ReLU(0.1, 0.8, 0.1)]"] = lambda: _train(
        ember, 350, [layers.Dense(UNITS), layers.ReLU(max_value=0.8, negative_slope=0.1,
                                                      threshold=0.1)],
        "linear", "mse", opt.SGD(learning_rate=0.02))
    cases["layer[PReLU]"] = lambda: _train(
        ember, 351, [layers.Dense(UNITS), layers.PReLU(alpha_initializer="ones")], "linear",
        "mse", opt.SGD(learning_rate=0.02))
    for i, (name, args, target) in enumerate(LOSSES):
        for weighted in (False, True):
            cases[f"loss[{name}{args}, {target}{', weighted' if weighted else ''}]"] = (
                lambda name=name, args=args, target=target, i=i, weighted=weighted: _train(
                    ember, 400 + i, [layers.Dense(UNITS, activation="tanh")],
                    _output_activation(target), getattr(losses, name)(**args),
                    opt.SGD(learning_rate=0.02), target, weighted))
    for i, (name, args) in enumerate(OPTIMIZERS):
        # Narrow, and wide enough that updates and activations split across threads.
        # SGD's step grows with the width (the output's gradient sums over it): scaled down.
        for width in (UNITS, WIDE):
            kwargs = dict(args, learning_rate=args["learning_rate"] / 100) if (
                width == WIDE and name == "SGD") else args
            cases[f"optimizer[{name}{kwargs}, {width} units]"] = (
                lambda name=name, kwargs=kwargs, i=i, width=width: _train(
                    ember, 500 + i, [layers.Dense(width, activation="gelu")], "linear", "mse",
                    getattr(opt, name)(**kwargs)))
    return cases


def _worker(out_dir):
    import ember

    print(f"ember from {os.path.dirname(ember.__file__)}", file=sys.stderr)
    names = {}
    for k, (name, run) in enumerate(_cases(ember).items()):
        np.savez(os.path.join(out_dir, f"{k}.npz"), *run())
        names[name] = f"{k}.npz"
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(names, f)


def _run(path, out_dir):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(path))
    subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", out_dir], env=env,
                   check=True)
    with open(os.path.join(out_dir, "cases.json")) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", help="PYTHONPATH of build A")
    parser.add_argument("--b", help="PYTHONPATH of build B")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.worker)
    if not (args.a and args.b):
        parser.error("--a and --b are required")
    with tempfile.TemporaryDirectory() as a_dir, tempfile.TemporaryDirectory() as b_dir:
        a_cases, b_cases = _run(args.a, a_dir), _run(args.b, b_dir)
        differ = [name for name in a_cases if name not in b_cases]
        finite, nonfinite = 0, []
        for name, file in a_cases.items():
            if name not in b_cases:
                continue
            with np.load(os.path.join(a_dir, file)) as a, \
                 np.load(os.path.join(b_dir, b_cases[name])) as b:
                # Bytes, not values: -0.0 against 0.0, or another NaN, is a difference too.
                same = len(a.files) == len(b.files) and all(
                    a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
                    and a[k].tobytes() == b[k].tobytes() for k in a.files)
                if all(np.isfinite(a[k]).all() for k in a.files):
                    finite += 1
                else:
                    nonfinite.append(name)
            if not same:
                differ.append(name)
        print(f"{len(a_cases) - len(differ)} of {len(a_cases)} cases bit-identical "
              f"({finite} of them all finite)")
        for name in nonfinite:
            print(f"not finite (NaN/inf compared as bytes): {name}")
        for name in differ:
            print(f"DIFFERS: {name}")
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
