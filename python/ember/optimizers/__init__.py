"""`ember.optimizers`: Keras 3's optimizers and learning-rate schedules.

Each optimizer is a handle on an engine optimizer: the update math, gradient
clipping, weight decay and schedules run in C++ (cpp/src/optimizers.cpp,
cpp/src/schedules.cpp, cpp/src/cpu/optimizer_kernels.cpp).
"""

from ember.optimizers import schedules
from ember.optimizers.adadelta import Adadelta
from ember.optimizers.adafactor import Adafactor
from ember.optimizers.adagrad import Adagrad
from ember.optimizers.adam import Adam
from ember.optimizers.adamax import Adamax
from ember.optimizers.adamw import AdamW
from ember.optimizers.ftrl import Ftrl
from ember.optimizers.lamb import Lamb
from ember.optimizers.lion import Lion
from ember.optimizers.muon import Muon
from ember.optimizers.nadam import Nadam
from ember.optimizers.optimizer import Optimizer
from ember.optimizers.rmsprop import RMSprop
from ember.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from ember.optimizers.sgd import SGD

ALL_OBJECTS = {Optimizer, Adam, SGD, RMSprop, Adadelta, AdamW, Adagrad, Adamax, Nadam, Lion, Ftrl,
               Lamb, Adafactor, ScheduleFreeAdamW, Muon}
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}

__all__ = [
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "Muon",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "ScheduleFreeAdamW",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]


def serialize(optimizer):
    """The optimizer's configuration as Keras's serialized dict."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Could not serialize optimizer: {optimizer!r}")
    cls = type(optimizer)
    built_in = ALL_OBJECTS_DICT.get(cls.__name__.lower()) is cls
    return {
        "module": "keras.optimizers" if built_in else cls.__module__,
        "class_name": cls.__name__,
        "config": optimizer.get_config(),
        "registered_name": None if built_in else cls.__name__,
    }


def deserialize(config, custom_objects=None):
    """An optimizer from `serialize`'s dict; built-in class names in any case."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name ("adam"), a serialized dict, or an instance (returned as is)."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in ALL_OBJECTS_DICT:
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")
