"""`ember.layers`: Keras's layers, running on the C++ engine."""

from ember.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from ember.layers.core import Activation, Dense, Input, InputLayer, Lambda
from ember.layers.layer import KerasTensor, Layer
from ember.layers.merging import (
                                  Add,
                                  Average,
                                  Concatenate,
                                  Maximum,
                                  Minimum,
                                  Multiply,
                                  Subtract,
                                  add,
                                  average,
                                  concatenate,
                                  maximum,
                                  minimum,
                                  multiply,
                                  subtract,
)
from ember.layers.normalization import BatchNormalization, LayerNormalization, Normalization
from ember.layers.regularization import ActivityRegularization, Dropout, GaussianNoise
from ember.layers.reshaping import Flatten, Reshape

__all__ = ["Activation", "Add", "Average", "Concatenate", "Dense", "Input", "InputLayer",
           "KerasTensor", "Lambda",
           "Layer", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "maximum", "minimum", "multiply", "subtract"]
__all__ += ["ActivityRegularization", "BatchNormalization", "Dropout", "Flatten",
            "GaussianNoise", "LayerNormalization", "Normalization", "Reshape"]
__all__ += ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]

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
