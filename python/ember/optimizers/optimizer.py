"""The optimizer base class: Keras 3's common arguments and state over an engine
optimizer (`self._core`), which does each step's work in C++ - the learning rate
(a schedule evaluated at the iteration count), gradient clipping, weight decay
and the update itself (cpp/src/optimizers.cpp, cpu/optimizer_kernels.cpp).
"""

import warnings

import numpy as np

from ember import _core, constraints
from ember.layers.layer import to_snake_case, unique_name
from ember.optimizers.schedules import learning_rate_schedule as lrs


def _is_number(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _engine_schedule(learning_rate):
    """The engine schedule computing a schedule or callable learning rate."""
    if isinstance(learning_rate, lrs.LearningRateSchedule):
        if type(learning_rate).__call__ is lrs._engine_call:
            return learning_rate._core
        # A Python schedule: the engine calls back once per step, with the step.
        return _core.PythonSchedule(
            lambda step: float(np.asarray(learning_rate(np.int64(step)))))
    return _core.PythonSchedule(lambda step: float(np.asarray(learning_rate())))


def _core_variable(variable):
    core = getattr(variable, "_core", variable)
    if not isinstance(core, _core.Variable):
        raise TypeError(f"Expected an ember variable, got {variable!r}")
    return core


def _optional_float(x):
    return None if x is None else float(x)


class Optimizer:
    """Base class of the optimizers.

    Args:
        learning_rate: A float, a `ember.optimizers.schedules.LearningRateSchedule`
            instance, or a callable that takes no arguments and returns the value to use.
        weight_decay: Float. If set, each step first shrinks every variable:
            `w -= w * weight_decay * learning_rate`.
        clipnorm: Float. If set, the gradient of each weight is individually clipped so
            that its norm is no higher than this value.
        clipvalue: Float. If set, the gradient of each weight is clipped to be no higher
            than this value.
        global_clipnorm: Float. If set, the gradient of all weights is clipped so that
            their global norm is no higher than this value.
        use_ema, ema_momentum, ema_overwrite_frequency: Keras's weight averaging; not
            supported yet (`use_ema=True` raises NotImplementedError).
        loss_scale_factor: Float or None. Keras scales the loss by it and the gradients
            back; in float32 that changes nothing, so it is kept for the config only.
        gradient_accumulation_steps: not supported yet (raises NotImplementedError).
        name: String; defaults to the snake-cased class name, made unique.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if gradient_accumulation_steps:
            if not gradient_accumulation_steps >= 2:
                raise ValueError(
                    "`gradient_accumulation_steps` must be an integer >= 2. "
                    f"Received: gradient_accumulation_steps={gradient_accumulation_steps}")
            raise NotImplementedError("`gradient_accumulation_steps` is not supported yet")
        if use_ema:
            raise NotImplementedError("`use_ema=True` (weight averaging) is not supported yet")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self._check_learning_rate(learning_rate)
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False  # True once trained with (Keras's optimizer.built)
        self._engine = None
        self._built_variables = None  # set by build(); the Model builds the engine itself
        self._learning_rate = learning_rate
        self._pending = (weight_decay, clipnorm, clipvalue, global_clipnorm)

    def _attach(self, engine):
        """Adopts the subclass's engine optimizer and applies the common arguments."""
        weight_decay, clipnorm, clipvalue, global_clipnorm = self._pending
        del self._pending
        self._engine = engine
        self._set_engine_learning_rate(self._learning_rate)
        engine.weight_decay = _optional_float(weight_decay)
        engine.set_clipping(_optional_float(clipnorm), _optional_float(clipvalue),
                            _optional_float(global_clipnorm))

    @property
    def _core(self):
        if self._engine is None:
            if type(self).update_step is Optimizer.update_step:
                raise NotImplementedError(
                    f"{type(self).__name__} has no engine optimizer and no `update_step`: "
                    "subclass ember.optimizers.Optimizer with `build(var_list)` and "
                    "`update_step(gradient, variable, learning_rate)`")
            # A Keras-style subclass: the engine does the learning rate, clipping, weight
            # decay and step count, and calls update_step for each variable (Python per
            # step; see the README's "Custom optimizers").
            self._attach(_core.PythonOptimizer(self._engine_update))
        return self._engine

    # -- Keras's subclassing API (build + update_step) ---------------------------------
    def update_step(self, gradient, variable, learning_rate):
        """One variable's update, for a subclass to write with ember.ops and `assign`:
        `gradient` (a NumPy array shaped like the variable), `variable`, and
        `learning_rate` (float32). Built-in optimizers update in the engine instead."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update_step")

    def _engine_update(self, address, gradient, step, learning_rate):
        variable = self._by_address.get(address)
        if variable is None:
            raise ValueError(f"{type(self).__name__}: the engine stepped a variable the "
                             "optimizer was not built with")
        self.update_step(gradient, variable, np.float32(learning_rate))

    @property
    def variables(self):
        """The optimizer's own variables (add_variable's), as Keras lists them."""
        return list(self.__dict__.get("_own_variables", []))

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None):
        """A new optimizer variable (state kept in Python for a subclass's update_step)."""
        from ember import initializers
        from ember.variables import Variable

        shape = tuple(int(d) for d in shape)
        value = np.asarray(initializers.get(initializer)(shape), np.float32)
        own = self.__dict__.setdefault("_own_variables", [])
        name = name or f"variable_{len(own)}"
        variable = Variable(_core.Variable(name, value, False), f"{self.name}/{name}")
        own.append(variable)
        return variable

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A new variable shaped like `reference_variable`, named after it."""
        base = getattr(reference_variable, "path", None) or reference_variable.name
        return self.add_variable(reference_variable.shape, initializer=initializer,
                                 name=f"{base.replace('/', '_')}_{name}" if name else None)

    def assign(self, variable, value):
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    def _get_variable_index(self, variable):
        core = _core_variable(variable)
        for i, v in enumerate(self._built_variables or []):
            if _core_variable(v) is core:
                return i
        raise KeyError(f"{variable!r} is not a variable this optimizer was built with")

    def _prepare_variables(self, variables):
        """Called by `compile`/`fit` with the model's trainable variables, before the
        engine builds its state: a Python subclass builds its own (`build`) here."""
        if type(self).update_step is Optimizer.update_step:
            return
        variables = list(variables)
        if not self.built:
            self.build(variables)
        self._by_address = {_core_variable(v).address: v for v in variables}

    # -- learning rate ------------------------------------------------------------
    @staticmethod
    def _check_learning_rate(learning_rate):
        if isinstance(learning_rate, lrs.LearningRateSchedule) or callable(learning_rate):
            return
        if not _is_number(learning_rate):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance "
                "of LearningRateSchedule, or a callable "
                "(that takes in the current iteration value "
                "and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={learning_rate}")
        if not learning_rate >= 0:
            raise ValueError(
                f"Argument `learning_rate` must be a non-negative float, got {learning_rate}")

    def _set_engine_learning_rate(self, learning_rate):
        if _is_number(learning_rate):
            self._core.schedule = None
            self._core.learning_rate = float(learning_rate)
        else:
            self._core.schedule = _engine_schedule(learning_rate)

    @property
    def learning_rate(self):
        """The rate the next step uses: for a schedule, its value at `iterations`."""
        return np.float32(self._core.learning_rate)

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self._check_learning_rate(learning_rate)
        if isinstance(self._learning_rate, lrs.LearningRateSchedule) and _is_number(learning_rate):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule`"
                " object as its `learning_rate` constructor argument, "
                "hence its learning rate is not settable. If you need the"
                " learning rate to be settable, you should instantiate "
                "the optimizer with a float `learning_rate` argument.")
        self._set_engine_learning_rate(learning_rate)
        self._learning_rate = learning_rate

    @property
    def iterations(self):
        """How many steps the optimizer has taken."""
        return self._core.iterations

    # -- common arguments, kept by the engine ---------------------------------------
    @property
    def weight_decay(self):
        return self._core.weight_decay

    @weight_decay.setter
    def weight_decay(self, value):
        self._core.weight_decay = _optional_float(value)

    def _set_clipping(self, **changed):
        clipping = {"clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                    "global_clipnorm": self.global_clipnorm, **changed}
        self._core.set_clipping(*(_optional_float(clipping[k])
                                  for k in ("clipnorm", "clipvalue", "global_clipnorm")))

    clipnorm = property(lambda self: self._core.clipnorm,
                        lambda self, v: self._set_clipping(clipnorm=v))
    clipvalue = property(lambda self: self._core.clipvalue,
                         lambda self, v: self._set_clipping(clipvalue=v))
    global_clipnorm = property(lambda self: self._core.global_clipnorm,
                               lambda self, v: self._set_clipping(global_clipnorm=v))

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay.

        Args:
            var_list: A list of variables to exclude from weight decay.
            var_names: A list of strings (regular expressions). A variable whose name
                contains a match is excluded, e.g. `var_names=["bias"]`.
        """
        self._core.exclude_from_weight_decay([_core_variable(v) for v in var_list or []],
                                             [str(n) for n in var_names or []])

    # -- applying gradients directly ------------------------------------------------
    def _keras_slot_shape(self, slot, shape):
        """The shape of slot `slot` for a variable of this shape, as Keras keeps it: the
        variable's own unless an optimizer keeps smaller slots (Adafactor)."""
        return tuple(shape)

    def build(self, variables):
        """Creates the optimizer's state (slots) for these variables (a subclass creates
        its own with `add_variable_from_reference` after calling this)."""
        variables = list(variables)
        self._core.build([_core_variable(v) for v in variables])
        self._built_variables = variables
        self._by_address = {_core_variable(v).address: v for v in variables}
        self.built = True

    def apply(self, grads, trainable_variables=None):
        """One step: updates the variables from their gradients (built on first use)."""
        if trainable_variables is None:
            if self._built_variables is None:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. "
                    "Call `optimizer.build(trainable_variables)` first. ")
            trainable_variables = self._built_variables
        trainable_variables = list(trainable_variables)
        if self._built_variables is None:
            self.build(trainable_variables)
        known = {id(_core_variable(v)) for v in self._built_variables}
        cores = [_core_variable(v) for v in trainable_variables]
        if len(cores) != len(known) or any(id(c) not in known for c in cores):
            raise ValueError(
                "This optimizer can only be called for the variables it was originally built "
                "with. When working with a new set of variables, you should recreate a new "
                "optimizer instance.")
        order = {id(_core_variable(v)): i for i, v in enumerate(trainable_variables)}
        grads = list(grads)
        self._core.apply(
            [_core_variable(v) for v in self._built_variables],
            [np.asarray(grads[order[id(_core_variable(v))]], np.float32)
             for v in self._built_variables])
        constraints.apply_constraints(trainable_variables)  # after the update, as Keras

    def apply_gradients(self, grads_and_vars):
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(grads, trainable_variables)
        return self.iterations

    def scale_loss(self, loss):
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def finalize_variable_values(self, var_list):
        """Keras overwrites the variables with their moving averages here; without EMA
        there is nothing to do."""

    # -- config ---------------------------------------------------------------------
    def get_config(self):
        if isinstance(self._learning_rate, lrs.LearningRateSchedule):
            learning_rate = lrs.serialize(self._learning_rate)
        elif callable(self._learning_rate):
            learning_rate = self._learning_rate
        else:
            learning_rate = float(self._core.learning_rate)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = lrs.deserialize(config["learning_rate"],
                                                      custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def engine_hyperparameter(name, doc=None):
    """A hyperparameter attribute read from and written to the engine optimizer, so a
    change (`optimizer.beta_1 = 0.8`) applies from the next step, as in Keras."""
    return property(lambda self: getattr(self._core, name),
                    lambda self, value: setattr(self._core, name, value), doc=doc)
