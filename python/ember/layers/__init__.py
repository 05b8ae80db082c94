"""`ember.layers`: Keras's layers, running on the C++ engine."""

from ember.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from ember.layers.core import Activation, Dense, Identity, Input, InputLayer, Lambda

# sequences (issue 11)
from ember.layers.embedding import Embedding
from ember.layers.input_spec import InputSpec
from ember.layers.layer import KerasTensor, Layer
from ember.layers.masking import Masking
from ember.layers.merging import (
                                  Add,
                                  Average,
                                  Concatenate,
                                  Dot,
                                  Maximum,
                                  Minimum,
                                  Multiply,
                                  Subtract,
                                  add,
                                  average,
                                  concatenate,
                                  dot,
                                  maximum,
                                  minimum,
                                  multiply,
                                  subtract,
)
from ember.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    Normalization,
    RMSNormalization,
    UnitNormalization,
)
from ember.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN  # issue 11
from ember.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
)
from ember.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from ember.layers.time_distributed import TimeDistributed

__all__ = ["Activation", "Add", "Average", "Concatenate", "Dense", "Input", "InputLayer",
           "KerasTensor", "Lambda",
           "Layer", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "maximum", "minimum", "multiply", "subtract"]
__all__ += ["ActivityRegularization", "BatchNormalization", "Dropout", "Flatten",
            "GaussianNoise", "LayerNormalization", "Normalization", "Reshape"]
__all__ += ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]

# pooling and shape layers (issue 11)
from ember.layers.image_reshaping import (  # noqa: E402
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from ember.layers.pooling import (  # noqa: E402
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from ember.layers.regularization import (  # noqa: E402
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)

__all__ += ["AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "Cropping1D",
            "Cropping2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D",
            "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
            "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
            "SpatialDropout1D", "SpatialDropout2D", "UpSampling1D", "UpSampling2D",
            "ZeroPadding1D", "ZeroPadding2D"]
# sequences (issue 11)
__all__ += ["Embedding", "Masking", "TimeDistributed"]
__all__ += ["Bidirectional", "GRU", "LSTM", "SimpleRNN"]  # recurrent (issue 11)
# convolution (issue 11)
from ember.layers.convolutional import (  # noqa: E402
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)

__all__ += ["Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Convolution1D",
            "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
            "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
            "SeparableConvolution1D", "SeparableConvolution2D"]
__all__ += ["InputSpec"]  # issue 17
__all__ += ["GroupNormalization", "Identity", "Permute", "RMSNormalization", "RepeatVector",
            "UnitNormalization", "AlphaDropout", "GaussianDropout", "Dot", "dot"]  # issue 17
__all__ += ["Cropping3D", "SpatialDropout3D", "UpSampling3D", "ZeroPadding3D"]
# EinsumDense, score attention and the reversible embedding (issue 17)
from ember.layers.attention import AdditiveAttention, Attention  # noqa: E402
from ember.layers.einsum_dense import EinsumDense  # noqa: E402
from ember.layers.reversible_embedding import ReversibleEmbedding  # noqa: E402
from ember.layers.spectral_normalization import SpectralNormalization  # noqa: E402
from ember.layers.wrapper import Wrapper  # noqa: E402

__all__ += ["AdditiveAttention", "Attention", "EinsumDense", "ReversibleEmbedding", "Wrapper"]
__all__ += ["SpectralNormalization"]


def serialize(layer):
    """A layer's config in Keras 3's form (`keras.layers.serialize`)."""
    from ember.saving import serialization_lib

    return serialization_lib.serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """The layer a config describes (either Keras form); ValueError if it is not a layer."""
    from ember.saving import serialization_lib

    obj = serialization_lib.deserialize_layer(config, custom_objects)
    if not isinstance(obj, Layer):
        raise ValueError(f"`keras.layers.deserialize` was passed a `config` object that is not "
                         f"a `keras.layers.Layer`. Received: {config}")
    return obj


__all__ += ["deserialize", "serialize"]
