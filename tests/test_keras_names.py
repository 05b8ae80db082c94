"""Keras 3's public names, module by module, against ember's.

The test fails when Keras has a name that ember neither has nor lists below, and when a
name listed in NOT_YET now exists in ember (strike it from the list: the list only
shrinks). OUT_OF_SCOPE holds what ember leaves out by design (README: "Out of scope").
"""

import importlib

import pytest

MODULES = ["", "layers", "metrics", "losses", "optimizers", "optimizers.schedules",
           "initializers", "constraints", "regularizers", "activations", "callbacks", "utils",
           "saving", "models", "ops", "distribution", "backend", "random", "datasets"]


def _names(text):
    return set(text.split())


# What ember leaves out by design (issue 17, "Out of scope"), by module.
OUT_OF_SCOPE = {
    # Pretrained models, SavedModel/ONNX export, quantization, mixed precision and dtype
    # policies (ember computes in float32), the JAX/Flax/Torch/TF wrappers, Keras 2's
    # `legacy` namespace, knowledge distillation recipes, and Keras's source tree itself.
    "": _names("""
        applications export quantizers Quantizer mixed_precision dtype_policies DTypePolicy
        FloatDTypePolicy wrappers legacy distillation preprocessing src
    """)
    # Keras's multi-backend tracing machinery: ember records layers into its own C++ graph.
    | _names("Function Operation StatelessScope SymbolicScope RematScope remat"),
    "layers": _names("""
        AugMix AutoContrast CategoryEncoding CenterCrop
        ContrastLimitedAdaptiveHistogramEqualization CutMix Discretization Equalization
        HashedCrossing Hashing IntegerLookup MaxNumBoundingBoxes MelSpectrogram MixUp
        Pipeline RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter
        RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip
        RandomGaussianBlur RandomGrayscale RandomHue RandomInvert RandomPerspective
        RandomPosterization RandomRotation RandomSaturation RandomSharpness RandomShear
        RandomTranslation RandomZoom Rescaling Resizing STFTSpectrogram Solarization
        StringLookup TextVectorization
        FlaxLayer JaxLayer TFSMLayer TorchModuleWrapper
    """),
    "optimizers": _names("LossScaleOptimizer legacy"),  # mixed precision; Keras 2's API
    # The STFT initializer only serves STFTSpectrogram, a preprocessing layer.
    "initializers": _names("STFT STFTInitializer stft"),
    # Image/audio/text loading and preprocessing (TensorFlow-based in Keras) and Keras 2's API.
    "utils": _names("""
        FeatureSpace array_to_img img_to_array load_img save_img bounding_boxes legacy
        image_dataset_from_directory audio_dataset_from_directory text_dataset_from_directory
    """),
    # Orbax is a JAX checkpointing library.
    "callbacks": _names("OrbaxCheckpoint"),
    # The image-processing ops serve the preprocessing and augmentation layers.
    "ops": _names("image"),
}

# Names still to build, by module. Each group says which work covers it; strike a name
# when ember gains it (the test fails until then).
NOT_YET = {
    "": _names("config device name_scope tree"),
    "layers": (
        # issue 17: attention, normalization, core/reshaping/merging and dropout layers
        _names("""
        GroupQueryAttention MultiHeadAttention
        """)
        # the convolution/recurrent issue: 3-D and adaptive pooling/convolution, ConvLSTM,
        # RNN cells and the generic RNN layer
        | _names("""
        AdaptiveAveragePooling1D AdaptiveAveragePooling2D AdaptiveAveragePooling3D
        AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D AveragePooling3D
        AvgPool3D Conv3D Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution3D
        Convolution3DTranspose GRUCell GlobalAveragePooling3D GlobalAvgPool3D
        GlobalMaxPool3D GlobalMaxPooling3D LSTMCell MaxPool3D MaxPooling3D RNN SimpleRNNCell
        StackedRNNCells
        """)),
    # issue 17: optimizers. MultiOptimizer/OptimizerMap route variables to several
    # optimizers; the engine's training step holds one (tests/test_optimizers_muon.py).
    "optimizers": _names("MultiOptimizer OptimizerMap"),
    "callbacks": _names("BackupAndRestore RemoteMonitor SwapEMAWeights"),
    "utils": _names("""
        Config disable_interactive_logging enable_interactive_logging
        is_interactive_logging_enabled standardize_dtype
    """),
    "saving": _names("KerasFileEditor"),
    # issue 17: the whole backend-agnostic NumPy/NN API (and its nn/linalg/numpy namespaces)
    "ops": _names("dot_product_attention"),
    # the data-parallel work (Keras's distribution API): ember's fit/evaluate/predict shard
    # the data themselves; a tensor-level layout is not built yet.
    "distribution": _names("distribute_tensor"),
    "backend": _names("""
        get_uid image_data_format is_float_dtype is_int_dtype result_type set_epsilon
        set_floatx set_image_data_format standardize_dtype
    """),
    "random": _names("""
        SeedGenerator beta binomial categorical dropout gamma normal randint shuffle
        truncated_normal uniform
    """),
}

# Public names ember.ops has beyond Keras's: the type a layer's call() receives while
# ember records it, and mish (Keras has it only in keras.activations).
OPS_EXTRAS = {"GraphTensor", "mish"}


@pytest.fixture(scope="module")
def keras_names(keras):
    return {m: _public(importlib.import_module("keras" + ("." + m if m else "")))
            for m in MODULES}


def _public(module):
    return {n for n in dir(module) if not n.startswith("_")}


def _ember_names(module):
    try:
        return _public(importlib.import_module("ember" + ("." + module if module else "")))
    except ImportError:
        return set()


@pytest.mark.parametrize("module", MODULES, ids=[m or "keras" for m in MODULES])
def test_every_keras_name_is_in_ember_or_listed(keras_names, module):
    missing = keras_names[module] - _ember_names(module) - OUT_OF_SCOPE.get(module, set()) \
        - NOT_YET.get(module, set())
    assert not missing, (f"keras.{module or '<top>'} has names ember neither has nor lists "
                         f"in OUT_OF_SCOPE / NOT_YET: {sorted(missing)}")


@pytest.mark.parametrize("module", MODULES, ids=[m or "keras" for m in MODULES])
def test_not_yet_lists_only_names_ember_lacks(module):
    built = NOT_YET.get(module, set()) & _ember_names(module)
    assert not built, (f"ember.{module} now has {sorted(built)}: strike them from NOT_YET "
                       "in tests/test_keras_names.py")


@pytest.mark.parametrize("module", MODULES, ids=[m or "keras" for m in MODULES])
def test_the_lists_name_only_keras_names(keras_names, module):
    stale = (OUT_OF_SCOPE.get(module, set()) | NOT_YET.get(module, set())) - keras_names[module]
    assert not stale, f"not names of keras.{module or '<top>'}: {sorted(stale)}"


def test_ember_ops_exposes_only_keras_names(keras_names):
    import ember

    extra = _public(ember.ops) - keras_names["ops"] - OPS_EXTRAS
    assert not extra, f"ember.ops exposes names keras.ops lacks: {sorted(extra)}"
    # No leaked imports (np, math, ...): the only modules are Keras's own namespaces.
    assert not [n for n in _public(ember.ops) if type(getattr(ember.ops, n)).__name__ == "module"
                and n not in ("linalg", "nn", "numpy")]
