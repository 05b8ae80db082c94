"""Objects to and from Keras 3's config dicts.

An object is saved as `{"module", "class_name", "config", "registered_name"}`
(plus "build_config" / "compile_config" for layers and models), exactly as
Keras 3 writes it, so either library reads the other's files. Nothing here
lists ember's classes: a class is found through the public module Keras names
in "module" ("keras.layers" -> `ember.layers`), through the registry of
`register_keras_serializable`, or through `custom_objects`. A new layer,
optimizer, loss or initializer plugs in by being exported from its public
module and defining `get_config` / `from_config`.

Files written by Keras's legacy `.h5` path and by Keras 2 carry only
`{"class_name", "config"}`; those are found by class name.
"""

import contextlib
import functools
import importlib
import inspect
import types

import numpy as np

from ember.saving import object_registration

PLAIN_TYPES = (str, int, float, bool)

# ember's public modules, in the order Keras's canonical export names prefer them
# ("keras.Sequential" before "keras.models.Sequential").
_PUBLIC_MODULES = ("", "layers", "models", "optimizers", "optimizers.schedules", "losses",
                   "metrics", "initializers", "regularizers", "constraints", "activations")

# Keras-internal class paths that Keras itself writes into files.
_KERAS_INTERNAL_ALIASES = {"Functional": "Model"}

_legacy_config = [False]


@contextlib.contextmanager
def legacy_config_scope():
    """Inside, models serialize their layers as `{"class_name", "config"}`, the
    form of the legacy `.h5` format's `model_config`."""
    _legacy_config.append(True)
    try:
        yield
    finally:
        _legacy_config.pop()


def in_legacy_config_scope():
    return _legacy_config[-1]


@functools.cache
def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _ember_module_for(keras_module):
    """`keras.layers` -> `ember.layers`; None for anything but the modelling modules, so
    a file cannot name, say, a callback or a utility to be built."""
    if keras_module == "keras":
        return _import("ember")
    if keras_module and keras_module.startswith("keras."):
        sub = keras_module[len("keras."):]
        if sub in _PUBLIC_MODULES:
            return _import("ember." + sub)
    return None


def _public_modules():
    for sub in _PUBLIC_MODULES:
        module = _import("ember." + sub if sub else "ember")
        if module is not None:
            yield ("keras." + sub if sub else "keras"), module


def public_name(obj):
    """(Keras module, name) of a class or function ember exports publicly, else None."""
    name = getattr(obj, "__name__", None)
    if name is None:
        return None
    for keras_module, module in _public_modules():
        if getattr(module, name, None) is obj:
            return keras_module, name
    return None


def _member(module, name):
    """A class or function `module` exports as `name` (never a submodule or a value)."""
    found = getattr(module, name, None) if module is not None else None
    return found if isinstance(found, (type, types.FunctionType)) else None


def _find_public(name):
    for _, module in _public_modules():
        found = _member(module, name)
        if found is not None:
            return found
    return None


def _is_functional(obj):
    from ember.models.model import Model
    return type(obj) is Model and bool(getattr(obj, "inputs", None))


def keras_class_name(obj):
    """The class name Keras writes for `obj`: "Functional" for a functional Model."""
    if _is_functional(obj):
        return "Functional"
    return object_registration.get_registered_name(type(obj))


# -- serialization ---------------------------------------------------------------
def serialize_dict(config):
    return {key: serialize_keras_object(value) for key, value in config.items()}


def serialize_keras_object(obj):
    """The config dict of an object, in Keras 3's form (plain values as they are)."""
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (np.generic, np.ndarray)):
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__",
                    "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
        return obj.item()
    if isinstance(obj, types.FunctionType):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj).__name__}: to be "
                        "serializable, a class must implement `get_config()`.")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The `get_config()` method of {obj!r} should return a dict. "
                        f"It returned: {config!r}")
    inner = serialize_dict(config)
    if _is_functional(obj):
        out = {"module": "keras.src.models.functional", "class_name": "Functional",
               "config": inner, "registered_name": "Functional"}
    else:
        cls = type(obj)
        registered = object_registration._GLOBAL_CUSTOM_NAMES.get(cls)
        public = None if registered else public_name(cls)
        if public is not None:
            out = {"module": public[0], "class_name": public[1], "config": inner,
                   "registered_name": None}
        else:
            out = {"module": cls.__module__, "class_name": cls.__name__, "config": inner,
                   "registered_name": object_registration.get_registered_name(cls)}
    _add_build_and_compile_config(obj, out)
    return out


def _serialize_function(fn):
    registered = object_registration._GLOBAL_CUSTOM_NAMES.get(fn)
    public = None if registered else public_name(fn)
    if public is not None:
        return {"module": public[0], "class_name": "function", "config": public[1],
                "registered_name": public[1]}
    if fn.__name__ == "<lambda>":
        raise ValueError("A Python lambda cannot be saved; use a named function registered with "
                         "`@ember.saving.register_keras_serializable()`.")
    name = object_registration.get_registered_name(fn)
    return {"module": fn.__module__, "class_name": "function", "config": name,
            "registered_name": name}


def _add_build_and_compile_config(obj, out):
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is not None:
            out["build_config"] = serialize_dict(build_config)
    if hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config is not None:
            out["compile_config"] = serialize_dict(compile_config)


def legacy_serialize(obj):
    """`{"class_name", "config"}`: the legacy `.h5` format's form of a layer or model."""
    return {"class_name": keras_class_name(obj), "config": obj.get_config()}


def serialize_layer(layer):
    """A layer inside a model's config, in whichever form is being written."""
    return legacy_serialize(layer) if in_legacy_config_scope() else serialize_keras_object(layer)


# -- deserialization -------------------------------------------------------------
def _not_found(kind, name, module, config):
    if module and (module == "keras" or module.startswith("keras.")):
        where = f": ember has no {module}.{name}"
    else:
        where = f" (module '{module}')" if module else ""
    return TypeError(
        f"Could not locate {kind} '{name}'{where}. If it is a custom {kind}, decorate it with "
        f"`@ember.saving.register_keras_serializable()` and import it before loading, or pass "
        f"it when loading: `ember.models.load_model(path, custom_objects={{'{name}': {name}}})`. "
        f"Full object config: {config}"
    )


def _retrieve(name, registered_name, module, kind, config, custom_objects, module_objects):
    found = object_registration.get_registered_object(registered_name, custom_objects)
    if found is None:
        found = object_registration.get_registered_object(name, custom_objects)
    if found is not None:
        return found
    if module is None and module_objects is not None and isinstance(
            module_objects.get(name), (type, types.FunctionType)):
        return module_objects[name]
    if module is not None:
        found = _member(_ember_module_for(module), name)
        if found is not None:
            return found
        if kind == "function" and module == "builtins":
            module = None  # a built-in function saved by name only: search every module
    if module is None or module == "keras" or module.startswith("keras."):
        found = _find_public(_KERAS_INTERNAL_ALIASES.get(name, name))
        if found is not None:
            return found
    raise _not_found(kind, name, module, config)


def _drop_unset_unknown_args(cls, config):
    """Newer Keras versions add constructor arguments (e.g. GlorotUniform's
    `input_axes`) that are None when unused; a class without **kwargs that lacks
    them gets the config without those None entries."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return config
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return config
    return {k: v for k, v in config.items() if k in params or v is not None}


def _decode_special(class_name, inner):
    if class_name == "__tuple__":
        return tuple(inner)
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__lambda__":
        raise ValueError("The file holds a Python lambda, which ember does not deserialize: "
                         "replace it with a registered named function.")
    raise TypeError(f"Cannot deserialize a '{class_name}' object.")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None,
                             **kwargs):
    """The object a config dict describes (the reverse of `serialize_keras_object`).

    `custom_objects` maps names to classes or functions that are not built in;
    `module_objects` is a namespace searched by class name for configs that carry
    no "module" (Keras's legacy form)."""
    if config is None:
        return None
    if isinstance(config, str):
        found = object_registration.get_registered_object(config, custom_objects, module_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, module_objects)
                for x in config]
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode, module_objects)
                for k, v in config.items()}
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        raise TypeError(f"Expected 'class_name' to be a string, got {class_name!r} in the config "
                        f"{_short(config)}")
    inner = config["config"] if config["config"] is not None else {}
    if class_name.startswith("__") and class_name.endswith("__"):
        return _decode_special(class_name, inner)
    module = config.get("module")
    registered_name = config.get("registered_name") or class_name
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected a function name as 'config' of {config}")
        return _retrieve(inner, registered_name, module, "function", config, custom_objects,
                         module_objects)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name}, got {inner!r}")
    cls = _retrieve(class_name, registered_name, module, "class", config, custom_objects,
                    module_objects)
    if isinstance(cls, types.FunctionType):
        return cls
    if not isinstance(cls, type) and not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}' because the class "
                        f"is missing a `from_config()` method. Full object config: {config}")
    # Keras's base classes all define from_config as cls(**config); a class without one
    # gets that.
    from_config = getattr(cls, "from_config", None) or (lambda c: cls(**c))
    with object_registration.CustomObjectScope(custom_objects):
        instance = from_config(_drop_unset_unknown_args(cls, inner))
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True) and hasattr(
                instance, "build_from_config"):
            instance.build_from_config(build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


def _short(config, limit=200):
    text = repr(config)
    return text if len(text) <= limit else text[:limit] + " ..."


def layer_namespace():
    """Names a layer config without "module" may use: every public layer, and the
    model classes under the names Keras 2 and 3 give them."""
    from ember import layers
    from ember.models import Model, Sequential
    namespace = {k: v for k, v in vars(layers).items() if isinstance(v, type)}
    namespace.update({"Sequential": Sequential, "Functional": Model, "Model": Model})
    return namespace


def deserialize_layer(config, custom_objects=None):
    """A layer (or model) from its config in either form: Keras 3's, or the legacy
    `{"class_name", "config"}` of `.h5` files, whose Keras 2 spellings
    (`batch_input_shape`) are translated as Keras 3 translates them."""
    if isinstance(config, dict) and "module" not in config and "config" in config:
        config = dict(config)
        inner = dict(config["config"])
        batch_input_shape = inner.pop("batch_input_shape", None)
        if batch_input_shape is not None:
            if config.get("class_name") == "InputLayer":
                inner["batch_shape"] = batch_input_shape
            else:
                inner["input_shape"] = tuple(batch_input_shape[1:])
        config["config"] = inner
    return deserialize_keras_object(config, custom_objects, module_objects=layer_namespace())
