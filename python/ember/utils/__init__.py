"""`ember.utils`: to_categorical, set_random_seed, Progbar."""

from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.rng_utils import set_random_seed

__all__ = ["Progbar", "normalize", "set_random_seed", "to_categorical"]
