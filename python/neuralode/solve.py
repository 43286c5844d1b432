"""odeint and solve: argument checks, then dispatch to the C++ core.

Networks from :mod:`neuralode.nets` are solved entirely in C++ with the GIL released and
OpenMP over the batch; plain Python callables ``f(t, y)`` are called one sample at a time,
or once per stage for the whole batch when declared batched (:func:`neuralode.batched`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._checks import (FLOAT32, FLOAT64, METHODS, check_t, check_y0, default_tolerances,
                      float_array, state_dtype, times_as_given)
from .dynamics import Batched, Dynamics, as_batched
from .nets import Sequential
from .options import solver_options

__all__ = ["odeint", "solve", "Solution", "SolveStats", "SolverError", "METHODS"]

_STATUS = _core.status_names()  # [(name, hint)] indexed by the C++ Status value
_STATUS_NAMES = np.array([name for name, _ in _STATUS])


class SolverError(RuntimeError):
    """A numerical failure of one or more samples (see ``Solution.status``)."""


@dataclass(frozen=True)
class SolveStats:
    """Work per sample: arrays of shape (B,) for a batch, ints for a single sample."""

    nfe: np.ndarray
    n_steps: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray


@dataclass(frozen=True)
class Solution:
    """``ys[i]`` is the state at ``ts[..., i]``; ``status`` is "success" or why the sample
    stopped (then its outputs after ``t_reached`` are NaN)."""

    ts: np.ndarray
    ys: np.ndarray
    stats: SolveStats
    status: np.ndarray
    t_reached: np.ndarray
    # solve(..., dense=True): the recorded steps (a _core object) behind evaluate().
    _dense: object = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return bool(np.all(self.status == "success"))

    def __getstate__(self):
        # The recorded steps live in the C++ core and stay behind: a pickled or copied
        # Solution keeps its arrays, and its evaluate() says the interpolant is gone.
        return {**self.__dict__, "_dense": None}

    def evaluate(self, t) -> np.ndarray:
        """The solution at other times, by the solver's own dense output (the interpolant
        that gave ``ys``), without solving again; needs ``solve(..., dense=True)``.

        Args:
            t: times, shape (M,) for every sample or (B, M) one row per sample, each inside
                its sample's interval [ts[0], ts[-1]] (any order).

        Returns:
            (M, *y0.shape). A sample that failed gives NaN past its ``t_reached``.
        """
        if self._dense is None:
            raise ValueError("this Solution keeps no dense output: solve with `dense=True` "
                             "to call `evaluate` (a pickled or copied Solution leaves it behind)")
        ts = np.atleast_2d(self.ts)
        batch = self.ys.shape[1] if self.ys.ndim == 3 else None
        tq = float_array(t, "t")
        if tq.ndim not in (1, 2) or (tq.ndim == 2 and (batch is None or tq.shape[0] != batch)):
            need = "(M,)" if batch is None else f"(M,) or ({batch}, M)"
            raise ValueError(f"`t` must have shape {need}; got shape {tq.shape}")
        rows = np.array(np.atleast_2d(tq), order="C")
        low, high = np.minimum(ts[:, :1], ts[:, -1:]), np.maximum(ts[:, :1], ts[:, -1:])
        outside = ~((rows >= low) & (rows <= high))  # NaN included
        if outside.any():
            r, i = np.argwhere(outside)[0]
            row = r if ts.shape[0] > 1 else 0
            raise ValueError(f"`t` must lie in the solved interval [{low[row, 0]:.10g}, "
                             f"{high[row, 0]:.10g}]; got {rows[r, i]}")
        ys = self._dense.evaluate(rows)
        return ys if batch is not None else ys.reshape(ys.shape[0], -1)


def raise_failures(status_codes, t_reached, batched):
    failed = np.flatnonzero(status_codes != 0)
    lines = []
    for b in failed[:5]:
        name, hint = _STATUS[status_codes[b]]
        who = f"sample {b}" if batched else "the solve"
        lines.append(f"{who} stopped at t = {t_reached[b]:.10g} with status '{name}': {hint}")
    more = f"\n(and {len(failed) - 5} more samples)" if len(failed) > 5 else ""
    raise SolverError(f"{len(failed)} of {len(status_codes)} samples failed:\n" * batched +
                      "\n".join(lines) + more +
                      "\nPass `throw=False` to `solve` to get the partial solution instead.")


# The core's right-hand sides for states of each scalar type.
_NETWORK_RHS = {FLOAT64: _core.NetworkRhs, FLOAT32: _core.NetworkRhs32}
_PYTHON_RHS = {FLOAT64: _core.PythonRhs, FLOAT32: _core.PythonRhs32}


def make_rhs(func, theta, dim):
    """func with its checked parameters as the core's right-hand side, for states of
    theta's type (a plain callable's empty theta too)."""
    if isinstance(func, Sequential):
        return _NETWORK_RHS[theta.dtype](func.core(dim), theta)
    python_rhs = _PYTHON_RHS[theta.dtype]
    if isinstance(func, Dynamics):
        return python_rhs(lambda t, y: func.f(t, y, theta), func, theta, dim, func.num_params,
                          "func", bool(func.batched))
    batched = isinstance(func, Batched)
    return python_rhs(func.func if batched else func, None, None, dim, 0, "func", batched)


def _checked_params(func, params, dtype=FLOAT64) -> np.ndarray:
    """func's parameters as a C-contiguous vector of dtype (empty for a plain callable), or
    the error that func or params deserves."""
    if isinstance(func, Sequential):
        return func.check_params(params, "params", dtype)
    if isinstance(func, Dynamics):
        return func.check_params(params, dtype=dtype)
    if not callable(func):
        raise TypeError(f"`func` must be a neuralode.nets network, a neuralode.Dynamics or a "
                        f"callable f(t, y); got {type(func).__name__}")
    if params is not None:
        raise ValueError("`params` is only used with networks; a plain callable `f(t, y)` "
                         "carries its own parameters")
    return np.zeros(0, dtype)


def problem_dtype(func, y0, params, dtype):
    """The scalar type of a solve: `dtype`, else numpy's promotion of y0 and params (a plain
    callable has none)."""
    if dtype is None and isinstance(func, (Sequential, Dynamics)):
        return state_dtype(None, y0, params)
    return state_dtype(dtype, y0)


def checked_problem(func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps,
                    max_step, num_threads, private=False, dtype=None):
    """Every argument of a solve checked: (rhs, y0 as an array, t as (1 or B, T) rows (a
    private copy), the core's options, theta (a private copy too when `private`)), all in
    the solve's scalar type (problem_dtype)."""
    dtype = problem_dtype(func, y0, params, dtype)
    rtol, atol = default_tolerances(rtol, atol, dtype)
    y0 = check_y0(y0, dtype)
    t_rows = check_t(t, y0.shape[0] if y0.ndim == 2 else None)
    dim = y0.shape[-1]
    options = solver_options(method, rtol, atol, step_size, first_step, max_step, max_steps,
                             num_threads, dim, dtype)
    theta = _checked_params(func, params, dtype)
    if private:
        theta = theta.copy()
    return make_rhs(func, theta, dim), y0, t_rows, options, theta


def _ready_network(func, y0, t, params, dtype=None):
    """Whether the most common call, a network solve, has every array already in the form
    the core takes (float64, or float32 throughout; shapes right; values and layout are
    checked in C++): then the layered checks, which cost as much as solving a small problem,
    are skipped. Only for Sequential itself: a subclass may check its parameters its own
    way."""
    return (type(y0) is np.ndarray and (y0.dtype is FLOAT64 or y0.dtype is FLOAT32)
            and 0 < y0.ndim < 3 and y0.size
            and type(t) is np.ndarray and t.dtype is FLOAT64 and t.ndim == 1 and t.size
            and type(func) is Sequential and type(params) is np.ndarray
            and params.dtype is y0.dtype and params.shape == (func.num_params,)
            and (dtype is None or dtype is y0.dtype))


def _integrate(func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps,
               max_step, num_threads, throw, dense=False, dtype=None):
    """Checks the arguments and runs the core; returns its raw output, y0 as an array, the
    private copy of t as (1 or B, T) rows and, with dense, the recording solve."""
    if not dense and _ready_network(func, y0, t, params, dtype):
        dtype = FLOAT64 if y0.dtype is FLOAT64 else FLOAT32  # `is`: no dtype hashing
        rtol, atol = default_tolerances(rtol, atol, dtype)
        options = solver_options(method, rtol, atol, step_size, first_step, max_step,
                                 max_steps, num_threads, y0.shape[-1], dtype)
        t_rows = np.array(t, ndmin=2)  # a private copy: see check_t
        rhs = (_core.NetworkRhs if dtype is FLOAT64 else _core.NetworkRhs32)(
            func.core(y0.shape[-1]), params)
        out, recorder = _core.solve(rhs, y0, t_rows, options), None
    else:
        rhs, y0, t_rows, options, _ = checked_problem(func, y0, t, params, method, rtol, atol,
                                                      step_size, first_step, max_steps,
                                                      max_step, num_threads, dtype=dtype)
        recorder = _core.record(rhs, y0, t_rows, options) if dense else None
        out = recorder.result() if dense else _core.solve(rhs, y0, t_rows, options)
    if throw and out.failed:
        raise_failures(out.status, out.t_reached, y0.ndim == 2)
    return out.ys, out.status, out.t_reached, out.stats, y0, t_rows, recorder


def _vectorized(func, vectorized):
    """func, wrapped as a batched callable when `vectorized` says so."""
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"`vectorized` must be True or False; got {type(vectorized).__name__}")
    return as_batched(func, "`vectorized=True`") if vectorized else func


def solve(func, y0, t, *, params=None, method="dopri5", rtol=None, atol=None, step_size=None,
          first_step=None, max_steps=100_000, max_step=np.inf, num_threads=None,
          throw=True, dense=False, vectorized=False, dtype=None) -> Solution:
    """Solves dy/dt = func(t, y) from y(t[0]) = y0 and returns the states at the times t.

    Args:
        func: a network from :mod:`neuralode.nets` (solved in C++, OpenMP over the batch;
            needs ``params``), a :class:`Dynamics` (its ``f(t, y, params)`` is called one
            sample at a time, or a batch at a time when it declares ``batched = True``) or
            a Python callable ``f(t, y)`` taking and returning shape (D,); a callable
            wrapped in :func:`neuralode.batched` (or passed with ``vectorized=True``) gets
            the samples active at a stage at once, t of shape (n,) and y of shape (n, D),
            and returns (n, D): one Python call per stage for the whole batch.
        y0: initial state, shape (D,) or a batch (B, D); every sample is its own problem.
        t: output times, shape (T,) shared or (B, T) per sample; strictly monotone,
            increasing or decreasing; ``t[0]`` is the initial time.
        method: "dopri5" (Dormand & Prince 1980, the default), "bosh3", "rk4",
            "midpoint" or "euler".
        rtol, atol: tolerances of the adaptive methods; ``atol`` a scalar or shape (D,).
            Default 1e-7 and 1e-9 in float64, 1e-5 and 1e-7 in float32 (which refuses
            rtol below 1e-6: float32 states carry about 1.2e-7 relative).
        step_size: fixed-step methods step by it (output between steps by cubic Hermite
            interpolation); when None they step on the ``t`` grid.
        first_step, max_step, max_steps: adaptive step limits; ``max_steps`` counts the
            attempted steps of each sample.
        num_threads: OpenMP threads for networks (default: as many as the batch's work pays
            for, at most the usable cores). Results do not depend on it.
        throw: raise :class:`SolverError` on failure (default), or return the partial solution.
        dense: keep every accepted step, so that ``Solution.evaluate(t)`` gives the solution
            at other times by the solver's own interpolant (memory: ``stages + 1`` states
            per step and sample).
        vectorized: ``func`` is a batched callable (as :func:`neuralode.batched` declares).
        dtype: the states' scalar type, np.float64 or np.float32 (times stay float64).
            Default: numpy's promotion of y0 and params, so float32 arrays solve in float32
            and anything else in float64.

    Returns:
        Solution with ``ys`` of shape (T, *y0.shape) and the solve's dtype, per-sample
        ``stats`` and ``status``.

    Raises:
        ValueError, TypeError: bad arguments, before any work. SolverError: a sample failed.
        Exceptions raised by a Python ``func`` propagate unchanged.
    """
    if not isinstance(dense, (bool, np.bool_)):
        raise TypeError(f"`dense` must be True or False; got {type(dense).__name__}")
    func = _vectorized(func, vectorized)
    ys, status, t_reached, stats, y0, t_rows, recorder = _integrate(
        func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps, max_step,
        num_threads, throw, bool(dense), dtype)
    ts = times_as_given(t, t_rows)
    if y0.ndim == 2:
        return Solution(ts, ys, SolveStats(*stats.T), _STATUS_NAMES[status], t_reached, recorder)
    return Solution(ts, ys.reshape(ys.shape[0], y0.shape[0]), SolveStats(*stats[0].tolist()),
                    _STATUS[status[0]][0], t_reached[0].item(), recorder)


def odeint(func, y0, t, *, params=None, method="dopri5", rtol=None, atol=None, step_size=None,
           first_step=None, max_steps=100_000, max_step=np.inf, num_threads=None,
           vectorized=False, dtype=None) -> np.ndarray:
    """The states at times t, shape (T, *y0.shape); see :func:`solve` for the arguments.
    Raises :class:`SolverError` if any sample fails."""
    if vectorized is not False:
        func = _vectorized(func, vectorized)
    ys, _, _, _, y0, _, _ = _integrate(func, y0, t, params, method, rtol, atol, step_size,
                                       first_step, max_steps, max_step, num_threads, True,
                                       dtype=dtype)
    return ys if y0.ndim == 2 else ys.reshape(ys.shape[0], y0.shape[0])
