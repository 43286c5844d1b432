"""Models: NeuralODE, a continuous-time model fitted to trajectories (regularly or
irregularly sampled) by gradient descent on gradients from the C++ core."""
from __future__ import annotations

import re

import numpy as np

from . import io as _io
from . import losses as _losses
from . import optim as _optim
from .dynamics import Dynamics
from .grad import check_gradient, odeint_vjp
from .nets import Sequential
from ._checks import (check_float, check_int, check_method, check_tolerances,
                      default_tolerances, float_array, state_dtype)
from .solve import SolverError, odeint
from .train import fit_loop

__all__ = ["NeuralODE"]


def _trajectories(t, y):
    """(t as (B, T) rows, y as (T, B, D)) from the layouts fit accepts: t (T,) with y (T, D)
    or (T, B, D); t (B, T) with y (T, B, D)."""
    t = float_array(t, "t")
    y = float_array(y, "y")
    if y.ndim == 2:
        y = y[:, None, :]
    if y.ndim != 3:
        raise ValueError(f"`y` must have shape (T, D) or (T, B, D); got {y.shape}")
    T, B, _ = y.shape
    shared = t.shape == (T,)
    if shared:
        t = np.broadcast_to(t, (B, T))
    elif t.shape != (B, T):
        raise ValueError(f"`t` must have shape ({T},) or ({B}, {T}) for `y` of shape {y.shape}; "
                         f"got {t.shape}")
    if T < 2:
        raise ValueError("`y` needs at least 2 time points to fit")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("`t` and `y` must be finite")
    # Here, not in the solves: they see mini-batches of windows, whose indices would point
    # at a row of the mini-batch instead of the caller's data.
    step = np.diff(t[:1] if shared else t, axis=1)
    bad = np.argwhere(~(np.where(step[:, :1] > 0, 1.0, -1.0) * step > 0))
    if bad.size:
        b, i = bad[0][0], bad[0][1] + 1
        name = (lambda j: f"t[{j}]") if shared else (lambda j: f"t[{b}, {j}]")
        raise ValueError(f"`t` must be strictly monotone (all increasing or all decreasing); "
                         f"{name(i)} = {t[b, i]:g} follows {name(i - 1)} = {t[b, i - 1]:g}")
    return np.ascontiguousarray(t), np.ascontiguousarray(y)


def _split_trajectories(t_rows, ys, fraction, seed):
    """(training t, training y, (validation t, validation y), (training, validation)
    indices): a random `fraction` of the trajectories held out, at least one on each side."""
    fraction = check_float(fraction, "validation_split", positive=True)
    B = ys.shape[1]
    held = int(round(fraction * B))
    if not fraction < 1 or B < 2:
        raise ValueError(f"`validation_split` must lie in (0, 1) with at least 2 trajectories; "
                         f"got {fraction} with {B}")
    held = min(max(held, 1), B - 1)
    order = np.random.default_rng(seed).permutation(B)
    train, valid = np.sort(order[held:]), np.sort(order[:held])
    return t_rows[train], ys[:, train], (t_rows[valid], ys[:, valid]), (train, valid)


def _in_callers_terms(error, trajectories, starts=None):
    """A SolverError of a solve over some of the caller's trajectories (a mini-batch of
    windows, a held-out set) with its samples named as the caller's trajectories and the
    observation each window starts from, rather than as rows of that solve."""
    def sample(match):
        b = int(match[1])
        where = "" if starts is None else f" (the window from observation {starts[b]})"
        return f"trajectory {trajectories[b]}{where}"
    return SolverError("\n".join(re.sub(r"^sample (\d+)", sample, line)
                                 for line in str(error).splitlines()
                                 if not line.startswith("Pass `throw=False`")))


class NeuralODE:
    """dy/dt = net(t, y; θ), solved in C++; ``fit`` trains θ on observed trajectories.

    Args:
        net: the dynamics: a :mod:`neuralode.nets` network, or a :class:`neuralode.Dynamics`
            (a mechanistic or hybrid model written in Python), whose ``params`` vector is
            then θ.
        method, rtol, atol: the solver for training (see :func:`neuralode.odeint`; the
            tolerances' defaults depend on dtype).
        gradient: "adjoint", "interpolated" or "backprop" (see :func:`odeint_vjp`).
        params: initial θ: default ``net.init(seed)`` for a network; required for a Dynamics
            with parameters (there is no generic initialization of a mechanistic model).
        dtype: np.float64 or np.float32, the type the model solves and keeps θ in (the
            optimizer's arithmetic stays float64). Default: float32 if ``params`` is a float32
            array, else float64.
    """

    def __init__(self, net, *, method="dopri5", rtol=None, atol=None, gradient="adjoint",
                 params=None, seed=0, num_threads=None, dtype=None):
        if not isinstance(net, (Sequential, Dynamics)):
            raise TypeError(f"`net` must be a neuralode.nets network or a neuralode.Dynamics; "
                            f"got {type(net).__name__}")
        self.net, self.method, self.gradient = net, check_method(method), check_gradient(gradient)
        self.dtype = state_dtype(dtype, params if isinstance(params, np.ndarray) else None)
        rtol, atol = default_tolerances(rtol, atol, self.dtype)
        self.rtol = check_float(rtol, "rtol", positive=True)
        self.atol = check_float(atol, "atol", positive=True)
        check_tolerances(self.rtol, self.atol, 1, dtype=self.dtype)
        self.num_threads = num_threads
        if params is None and isinstance(net, Sequential):
            self.params = net.init(seed).astype(self.dtype)
        else:  # a copy: fit replaces self.params, and the caller's array stays theirs
            self.params = net.check_params(params, "params", dtype=self.dtype).copy()
        self.history = None

    @property
    def parameters(self) -> np.ndarray:
        """θ, the flat parameter vector of the network (also ``params``)."""
        return self.params

    @property
    def nfe(self) -> dict:
        """Mean function evaluations per training iteration (forward and backward) of the
        last fit; the per-iteration numbers are in ``history``."""
        if not self.history or not self.history.loss:
            return {"forward": 0.0, "backward": 0.0}
        return {"forward": float(np.mean(self.history.nfe_forward)),
                "backward": float(np.mean(self.history.nfe_backward))}

    def predict(self, y0, t, *, rtol=None, atol=None) -> np.ndarray:
        """The model's states at times t from y0 ((D,) or (B, D)); ``rtol``/``atol`` may be
        looser than the training ones to trade precision for speed at inference."""
        return odeint(self.net, y0, t, params=self.params, method=self.method,
                      rtol=self.rtol if rtol is None else rtol,
                      atol=self.atol if atol is None else atol, num_threads=self.num_threads,
                      dtype=self.dtype)

    def loss_and_gradient(self, params, y0, t, targets, loss):
        """(loss, dL/dθ, forward NFE, backward NFE) of one batch of trajectories."""
        ys, pullback = odeint_vjp(self.net, y0, t, params=params, gradient=self.gradient,
                                  method=self.method, rtol=self.rtol, atol=self.atol,
                                  num_threads=self.num_threads, dtype=self.dtype)
        value, dL_dys = loss(ys, targets)
        g = pullback(dL_dys)
        return value, g.params, int(np.sum(g.stats.nfe_forward)), \
            int(np.sum(g.stats.nfe_backward))

    def fit(self, t, y, *, optimizer=None, loss="mse", iterations=1000, batch_size=20,
            batch_time=10, validation=None, validation_split=None, validate_every=10,
            patience=None, callbacks=(), seed=0, progress=True):
        """Fits θ to observed trajectories by mini-batch gradient descent.

        Each iteration draws ``batch_size`` random sub-trajectories of ``batch_time``
        consecutive observations (from random trajectories and start points), solves them
        from their first observation on their own time stamps, and steps the optimizer on
        the loss against the observations.

        Args:
            t, y: observations: t (T,) with y (T, D) or (T, B, D); or t (B, T) with one
                (irregular) grid per trajectory and y (T, B, D).
            optimizer: from :mod:`neuralode.optim` (default Adam, lr 1e-2). It keeps its
                state (and its schedule's step count) across fits: pass a fresh one to
                start over.
            loss: "mse", "l1" or a function (pred, target) -> (value, dL/dpred).
            validation: optional (t, y) held out, scored on whole trajectories.
            validation_split: or the fraction of the trajectories to hold out for it
                (chosen at random for the seed; needs at least 2 trajectories).
            patience: early stopping on the validation loss (returns the best θ).
            callbacks: functions ``cb(iteration, params, history)``; True stops.
        Returns:
            The History (also kept as ``model.history``).
        """
        t_rows, ys = _trajectories(t, y)
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as error:
            raise type(error)(f"`seed` must be None or an int >= 0; got {seed!r}") from None
        kept, held_out = np.arange(ys.shape[1]), None  # the caller's index of each trajectory
        if validation_split is not None:
            if validation is not None:
                raise ValueError("pass `validation` or `validation_split`, not both")
            t_rows, ys, validation, (kept, held_out) = _split_trajectories(
                t_rows, ys, validation_split, seed)
        T, B, D = ys.shape
        dim = getattr(self.net, "dim", None)  # a Dynamics declares none
        if dim is not None and D != dim:
            raise ValueError(f"`y` has {D} components but the network takes states of {dim}")
        iterations = check_int(iterations, "iterations", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        batch_time = min(check_int(batch_time, "batch_time", 2), T)
        loss_fn = self._loss(loss)
        optimizer = _optim.Adam(lr=1e-2) if optimizer is None else optimizer
        if not isinstance(optimizer, _optim.Optimizer):
            raise TypeError(f"`optimizer` must be a neuralode.optim optimizer; got "
                            f"{type(optimizer).__name__}")
        validate_every = check_int(validate_every, "validate_every", 1)
        if patience is not None:
            patience = check_int(patience, "patience", 1)
            if validation is None and validation_split is None:
                raise ValueError("`patience` needs `validation` or `validation_split` to "
                                 "watch")
        if callable(callbacks) or not hasattr(callbacks, "__iter__") or \
                not all(callable(cb) for cb in callbacks):
            raise TypeError("`callbacks` must be a list of functions cb(iteration, params, "
                            "history)")

        def step(params, _):
            traj = rng.integers(0, B, batch_size)
            start = rng.integers(0, T - batch_time + 1, batch_size)
            window = start[:, None] + np.arange(batch_time)
            t_batch = t_rows[traj[:, None], window]
            targets = ys[window.T, traj[None, :]]
            try:
                return self.loss_and_gradient(params, targets[0], t_batch, targets, loss_fn)
            except SolverError as error:
                raise _in_callers_terms(error, kept[traj], start) from None

        validate = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError(f"`validation` must be a pair (t, y) of held-out "
                                f"observations; got {type(validation).__name__}")
            try:
                vt, vy = _trajectories(*validation)
                if self.net.dim is not None and vy.shape[2] != self.net.dim:
                    raise ValueError(f"`y` has {vy.shape[2]} components but the network "
                                     f"takes states of {self.net.dim}")
            except (TypeError, ValueError) as error:
                raise type(error)(f"`validation`: {error}") from None

            def validate(params):
                try:
                    pred = odeint(self.net, vy[0], vt, params=params, method=self.method,
                                  rtol=self.rtol, atol=self.atol,
                                  num_threads=self.num_threads, dtype=self.dtype)
                except SolverError as error:
                    raise _in_callers_terms(error, np.arange(vy.shape[1]) if held_out is None
                                            else held_out) from None
                return loss_fn(pred, vy)[0]

        params, self.history = fit_loop(step, self.params, optimizer, iterations,
                                        validate=validate, validate_every=validate_every,
                                        patience=patience, callbacks=callbacks,
                                        progress=progress)
        self.params = params.astype(self.dtype, copy=False)
        return self.history

    def save(self, path) -> None:
        """Writes the model to `path` (.npz + JSON, atomically); :func:`neuralode.load`
        reads it back. Networks only: a Dynamics is code, which these files never hold."""
        if isinstance(self.net, Dynamics):
            raise TypeError(f"cannot save a NeuralODE whose dynamics are a Python Dynamics "
                            f"({type(self.net).__name__}): a saved model is data that "
                            "neuralode.load reads without running code, and a Dynamics is "
                            "code. Pickle the model instead (it refers to the Dynamics class by "
                            "its import path), or save `model.params` with numpy")
        _io.save(path, {"params": self.params},
                 {"model": "NeuralODE", "net": _io.net_spec(self.net),
                  "settings": {"method": self.method, "rtol": self.rtol, "atol": self.atol,
                               "gradient": self.gradient, "dtype": self.dtype.name}})

    @classmethod
    def from_saved(cls, meta, arrays):
        settings = dict(meta["settings"])  # files from before float32 hold no dtype: float64
        settings["dtype"] = settings.get("dtype", "float64")
        return cls(_io.net_from_spec(meta["net"]), params=arrays["params"], **settings)

    @staticmethod
    def _loss(loss):
        if callable(loss):
            return loss
        if loss not in ("mse", "l1"):
            raise ValueError(f"`loss` must be 'mse', 'l1' or a function; got {loss!r}")
        return _losses.LOSSES[loss]


_io.register_model(NeuralODE)
