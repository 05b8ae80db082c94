"""The registry of custom classes and functions, as `keras.saving` has it.

A class registered with `@register_keras_serializable(package="my_pkg")` is
saved under the name "my_pkg>ClassName" and found again when loading without
any `custom_objects`; `custom_objects={...}` and `custom_object_scope({...})`
make other objects findable by their class name for one load.
"""

import inspect

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_scope_stack = [{}]


class CustomObjectScope:
    """Makes `custom_objects` findable by deserialization inside a `with` block:

        with ember.saving.custom_object_scope({"MyLayer": MyLayer}):
            model = ember.models.load_model("model.keras")
    """

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scope_stack.append({**_scope_stack[-1], **self.custom_objects})
        return self

    def __exit__(self, *exc):
        _scope_stack.pop()


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The live global dict of registered objects ("package>Name" -> object)."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Class or function decorator: saved under "package>name" (name defaults to
    the object's `__name__`), and found again by that name when loading."""

    def decorator(obj):
        registered_name = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered_name
        return obj

    return decorator


def get_registered_name(obj):
    """"package>Name" for a registered object, else its `__name__`."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def merged_custom_objects(custom_objects=None):
    """What a lookup by name sees: the objects passed to this load, the enclosing
    `custom_object_scope`s, then the global registry."""
    return {**_GLOBAL_CUSTOM_OBJECTS, **_scope_stack[-1], **(custom_objects or {})}


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or passed in `custom_objects`) under `name`, or None."""
    if name is None:
        return None
    found = merged_custom_objects(custom_objects).get(name)
    if found is not None:
        return found
    if module_objects is not None:
        return module_objects.get(name)
    return None
