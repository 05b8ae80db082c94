"""`ember.utils`: to_categorical, set_random_seed, Progbar, get_file, plot_model,
PyDataset (alias Sequence)."""

from ember.utils.file_utils import get_file
from ember.utils.model_visualization import model_to_dot, plot_model
from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.py_dataset import PyDataset, Sequence
from ember.utils.rng_utils import set_random_seed

__all__ = ["Progbar", "get_file", "model_to_dot", "normalize", "plot_model", "set_random_seed",
           "to_categorical"]
# streaming data (issue 11)
__all__ += ["PyDataset", "Sequence"]
