"""User-written dynamics in Python: f and its vector-Jacobian product, one sample per call
(or a batch per call, with ``batched = True``), and :func:`batched` for plain callables.

For models that are not a :mod:`neuralode.nets` network. Subclass :class:`Dynamics`, declare
``num_params`` and write ``f`` and ``vjp``; the solvers call them one sample at a time
(a batch at a time with ``batched = True``)::

    class LotkaVolterra(nde.Dynamics):
        num_params = 4                      # alpha, beta, delta, gamma

        def f(self, t, y, params):
            alpha, beta, delta, gamma = params
            x, z = y
            return np.array([alpha * x - beta * x * z, delta * x * z - gamma * z])

        def vjp(self, t, y, params, a):
            alpha, beta, delta, gamma = params
            x, z = y
            a_y = np.array([a[0] * (alpha - beta * z) + a[1] * delta * z,
                            -a[0] * beta * x + a[1] * (delta * x - gamma)])
            a_params = np.array([a[0] * x, -a[0] * x * z, a[1] * x * z, -a[1] * z])
            return a_y, a_params, 0.0       # autonomous: no dependence on t
"""
from __future__ import annotations

import numpy as np

from .nets import Sequential, param_vector

__all__ = ["Dynamics", "Batched", "batched"]


class Batched:
    """A callable ``f(t, y)`` that takes the samples of a stage at once: t of shape (n,), y
    of shape (n, D), returning (n, D). Made by :func:`batched`."""

    def __init__(self, func):
        if not callable(func):
            raise TypeError(f"`func` must be callable; got {type(func).__name__}")
        self.func = func

    def __call__(self, t, y):
        return self.func(t, y)

    def __repr__(self):
        return f"batched({self.func!r})"


def batched(func) -> Batched:
    """Declares a callable batched: the solvers call ``func(t, y)`` once per stage with every
    active sample, t of shape (n,) and y of shape (n, D), and it returns (n, D). Each sample
    still takes its own steps, so n changes as samples finish or reject a step, and each
    row's result must depend on that row alone (as numpy's elementwise operations do)::

        spiral = nde.batched(lambda t, y: (y ** 3) @ A.T)
        ys = nde.odeint(spiral, y0_batch, t)
    """
    return as_batched(func, "`batched`")


def as_batched(func, how) -> Batched:
    """func as a Batched callable, or the error naming `how` it was declared batched."""
    if isinstance(func, Batched):
        return func
    if isinstance(func, (Sequential, Dynamics)):
        raise ValueError(f"{how} applies to plain callables f(t, y); a network is always "
                         "evaluated as a batch, and a Dynamics declares `batched = True`")
    return Batched(func)


class Dynamics:
    """Base class for dynamics dy/dt = f(t, y; params) written in Python.

    Subclasses set ``num_params`` (on the class, or on the instance in ``__init__``) and
    implement :meth:`f` and :meth:`vjp`; the constructor may take any arguments.
    """

    num_params: int = 0
    # True: f and vjp take a batch at a time, t of shape (n,), y and a of shape (n, D);
    # f returns (n, D), vjp returns a_y (n, D), a_params summed over the n samples (P,) and
    # a_t (n,). The forward solve then makes one call per stage for the whole batch.
    batched: bool = False

    def f(self, t: float, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        """dy/dt for one sample: y of shape (D,) -> (D,)."""
        raise NotImplementedError(f"{type(self).__name__} must implement f(t, y, params)")

    def vjp(self, t: float, y: np.ndarray, params: np.ndarray, a: np.ndarray):
        """``(a·∂f/∂y (D,), a·∂f/∂params (P,), a·∂f/∂t scalar)`` for one sample; a_t may be 0
        for autonomous dynamics."""
        raise NotImplementedError(f"{type(self).__name__} must implement vjp(t, y, params, a)")

    def check_params(self, params, name="params", dtype=np.float64) -> np.ndarray:
        """params as a C-contiguous vector of dtype (float64 or float32)."""
        if params is None:
            if self.num_params == 0:
                return np.zeros(0, dtype)
            raise ValueError(f"`{name}` is required: {type(self).__name__} has "
                             f"{self.num_params} parameters")
        if not self._declares_num_params():
            shape = np.shape(params)
            if shape != (0,):  # not inferred: a length never declared is a mistake to name
                fix = f"set `num_params = {shape[0]}`" if len(shape) == 1 else "set `num_params`"
                raise ValueError(f"`{name}` has shape {shape}, but {type(self).__name__} does "
                                 f"not declare `num_params` (the default is 0); {fix} on the "
                                 "class")
        arr = param_vector(params, self.num_params, name, type(self).__name__, dtype)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` contains NaN or inf")
        return arr

    def _declares_num_params(self) -> bool:
        """Whether the subclass or the instance sets ``num_params`` (else it is the base's 0)."""
        return "num_params" in getattr(self, "__dict__", {}) or any(
            "num_params" in vars(cls) for cls in type(self).__mro__ if cls is not Dynamics)
