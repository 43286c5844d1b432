"""odeint and solve: argument checks, then dispatch to the C++ core.

Networks from :mod:`neuralode.nets` are solved entirely in C++ with the GIL released and
OpenMP over the batch; plain Python callables ``f(t, y)`` are called one sample at a time.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core
from .dynamics import Dynamics
from .nets import _FLOAT64, Sequential

__all__ = ["odeint", "solve", "Solution", "SolveStats", "SolverError", "METHODS"]

METHODS = tuple(_core.methods)
_ADAPTIVE = tuple(m for m in METHODS if _core.tableau(m)["error_order"] > 0)
_STATUS = _core.status_names()  # [(name, hint)] indexed by the C++ Status value
_STATUS_NAMES = np.array([name for name, _ in _STATUS])
_INF = float("inf")
MAX_THREADS = 1024
_MAX_STEPS = 2**62  # the core counts steps in a C++ long


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
        tq = _float_array(t, "t")
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


def _float(value, name, *, positive=False, allow_inf=False):
    if type(value) is float and (value > 0 or not positive) and (value < _INF or allow_inf):
        return value  # the common case, without the slower checks below
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    value = float(value)
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be finite; got {value}")
    if positive and not value > 0:
        raise ValueError(f"`{name}` must be positive; got {value}")
    return value


def _int_at_least(value, name, minimum, maximum=_MAX_STEPS):
    """value as an int in [minimum, maximum], or a TypeError/ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}; got {value}")
    if value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum}; got {value}")
    return int(value)


def _float_array(value, name):
    """value as a C-contiguous float64 array; NaN/inf are checked in C++ (array_checks.hpp).
    Integers and floats only: strings, booleans and complex numbers are refused rather than
    parsed, cast or truncated."""
    if type(value) is np.ndarray and value.dtype is _FLOAT64 and value.flags.c_contiguous:
        return value  # the common case (`is`: an equal but distinct dtype takes the long way)
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O" and not any(  # Fractions, Decimals, big ints: convert
                isinstance(v, (str, bytes, bool, np.bool_, complex, np.complexfloating))
                for v in arr.flat):
            arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        kind = type(value).__name__ if arr is None else f"{type(value).__name__} of {arr.dtype}"
        raise TypeError(f"`{name}` must be an array of real numbers; got {kind}")
    arr = arr.astype(np.float64, copy=False)
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # keeps 0-d as 0-d


def check_y0(y0) -> np.ndarray:
    y0 = _float_array(y0, "y0")
    if y0.ndim not in (1, 2) or y0.size == 0:
        raise ValueError(f"`y0` must have shape (D,) or (B, D) with D, B >= 1; got shape {y0.shape}")
    return y0


def check_t(t, batch) -> np.ndarray:
    """t as (1, T) shared or (B, T) per sample, a private copy (the solve reads it throughout,
    and a Python f could change the caller's array); values are checked in C++."""
    t = np.array(_float_array(t, "t"), order="C")
    if t.ndim == 1:
        rows = t[None, :]
    elif t.ndim == 2 and batch is not None and t.shape[0] == batch:
        rows = t
    else:
        need = "(T,)" if batch is None else f"(T,) or ({batch}, T)"
        raise ValueError(f"`t` must have shape {need} for `y0` of this shape; got shape {t.shape}")
    if rows.shape[1] == 0:
        raise ValueError("`t` must hold at least one time")
    return rows


def times_as_given(t, t_rows) -> np.ndarray:
    """The private copy of t (check_t's rows) in the shape the caller gave t."""
    return t_rows[0] if np.ndim(t) == 1 else t_rows


def check_method(method) -> str:
    if method in METHODS:
        return method
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string; got {type(method).__name__}")
    raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))}; got {method!r}")


def check_tolerances(rtol, atol, dim, names=("rtol", "atol")):
    """rtol, and atol as a float (the core broadcasts it) or a (dim,) array."""
    rtol_name, atol_name = names
    rtol = _float(rtol, rtol_name, positive=True)
    if type(atol) is float and 0 < atol < _INF:
        return rtol, atol
    atol_arr = _float_array(atol, atol_name)
    if atol_arr.ndim == 0:
        atol_arr = atol_arr.reshape(1)
    elif atol_arr.shape != (dim,):
        raise ValueError(f"`{atol_name}` must be a scalar or have shape ({dim},); got shape "
                         f"{atol_arr.shape}")
    if not np.all(atol_arr > 0) or not np.all(np.isfinite(atol_arr)):
        raise ValueError(f"`{atol_name}` must be positive and finite; got {atol}")
    return rtol, atol_arr


def _default_steps(step_size, first_step, max_step, max_steps):
    """Whether the step options are the defaults (any max_steps in range), which need none
    of the checks below: a small solve costs a few microseconds."""
    return (step_size is None and first_step is None and type(max_step) is float
            and max_step == _INF and type(max_steps) is int and 1 <= max_steps <= _MAX_STEPS)


def check_steps(method, step_size, first_step, max_step, max_steps):
    """The step options as the core takes them (0 for 'not given')."""
    if _default_steps(step_size, first_step, max_step, max_steps):
        return 0.0, 0.0, max_step, max_steps
    if step_size is not None:
        if method in _ADAPTIVE:
            raise ValueError(f"`step_size` applies to the fixed-step methods; {method!r} chooses "
                             "its own steps (set `first_step` or `max_step` instead)")
        step_size = _float(step_size, "step_size", positive=True)
    first_step = 0.0 if first_step is None else _float(first_step, "first_step", positive=True)
    max_step = _float(max_step, "max_step", positive=True, allow_inf=True)
    if method not in _ADAPTIVE and (first_step or max_step < _INF):
        name = "first_step" if first_step else "max_step"
        raise ValueError(f"`{name}` applies to the adaptive methods; {method!r} steps by "
                         "`step_size`, or on the `t` grid when it is None")
    return step_size or 0.0, first_step, max_step, _int_at_least(max_steps, "max_steps", 1)


def check_threads(num_threads) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"`num_threads` must be an int or None; got {type(num_threads).__name__}")
    # An upper bound keeps OpenMP from failing to start threads, which aborts the process.
    return _int_at_least(num_threads, "num_threads", 1, MAX_THREADS)


def _raise_failures(status_codes, t_reached, batched):
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


def check_problem(y0, t, method, rtol, atol, step_size, first_step, max_steps, max_step,
                  num_threads):
    """Every argument of a solve but func and params, as the core takes them:
    (y0, y0 as (B, D) rows, t as (1 or B, T) rows, method, rtol, atol, step_size, first_step,
    max_step, max_steps, threads)."""
    y0 = check_y0(y0)
    batched = y0.ndim == 2
    t_rows = check_t(t, y0.shape[0] if batched else None)
    method = check_method(method)
    rtol, atol = check_tolerances(rtol, atol, y0.shape[-1])
    step_size, first_step, max_step, max_steps = check_steps(method, step_size, first_step,
                                                             max_step, max_steps)
    return (y0, y0 if batched else y0[None, :], t_rows, method, rtol, atol, step_size,
            first_step, max_step, max_steps, check_threads(num_threads))


def _solve_ready_network(func, y0, t, params, method, rtol, atol, step_size, first_step,
                         max_steps, max_step, num_threads):
    """(core output, y0) for the most common call, a network solve with every argument
    already in the form the core takes: float64 arrays of the right shapes (values and
    layout are checked in C++), float tolerances, the default step options. None otherwise.
    The layered checks of _solve_checked cost as much as solving a small problem. Only for
    Sequential itself: a subclass may check its parameters its own way."""
    if not (type(y0) is np.ndarray and y0.dtype is _FLOAT64 and 0 < y0.ndim < 3 and y0.size
            and type(t) is np.ndarray and t.dtype is _FLOAT64 and t.ndim == 1 and t.size
            and type(func) is Sequential and type(params) is np.ndarray
            and params.dtype is _FLOAT64 and params.shape == (func.num_params,)
            and method in METHODS and type(rtol) is float and 0 < rtol < _INF
            and type(atol) is float and 0 < atol < _INF and num_threads is None
            and _default_steps(step_size, first_step, max_step, max_steps)):
        return None
    batched = y0.ndim == 2
    t_rows = np.array(t, ndmin=2)  # a private copy: see check_t
    out = _core.solve_network(func.core(y0.shape[-1]), params, y0 if batched else y0[None, :],
                              t_rows, batched, method, rtol, atol, 0.0, 0.0, max_step,
                              max_steps, 0)
    return out, y0, t_rows, None


def recording_solve(func, theta, y0_rows, t_rows, batched, method, rtol, atol, step_size,
                    first_step, max_step, max_steps, threads):
    """A forward solve that keeps every accepted step: the core object behind dense output,
    backprop and the interpolated adjoint (result(), evaluate(t), the pullbacks). Arguments
    as check_problem gives them; theta checked (empty for a plain callable)."""
    if isinstance(func, Sequential):
        return _core.NetworkBackprop(func.core(y0_rows.shape[1]), theta, y0_rows, t_rows,
                                     batched, method, rtol, atol, step_size, first_step,
                                     max_step, max_steps, threads)
    f = (lambda t_, y_: func.f(t_, y_, theta)) if isinstance(func, Dynamics) else func
    return _core.DynamicsBackprop(f, func, theta, y0_rows, t_rows, batched, method, rtol, atol,
                                  step_size, first_step, max_step, max_steps)


def _solve_checked(func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps,
                   max_step, num_threads, dense=False):
    """(core output, y0 as an array, t as (1 or B, T) rows, the recording solve or None) for
    any call: every argument checked and converted."""
    (y0, y0_rows, t_rows, method, rtol, atol, step_size, first_step, max_step, max_steps,
     threads) = check_problem(y0, t, method, rtol, atol, step_size, first_step, max_steps,
                              max_step, num_threads)
    batched = y0.ndim == 2
    dim = y0.shape[-1]
    theta = _checked_params(func, params)
    if dense:
        recorder = recording_solve(func, theta, y0_rows, t_rows, batched, method, rtol, atol,
                                   step_size, first_step, max_step, max_steps, threads)
        return recorder.result(), y0, t_rows, recorder
    if isinstance(func, Sequential):
        out = _core.solve_network(func.core(dim), theta, y0_rows, t_rows, batched, method, rtol,
                                  atol, step_size, first_step, max_step, max_steps, threads)
    elif isinstance(func, Dynamics):
        out = _core.solve_callable(lambda t, y: func.f(t, y, theta), y0_rows, t_rows, batched,
                                   method, rtol, atol, step_size, first_step, max_step, max_steps)
    else:
        out = _core.solve_callable(func, y0_rows, t_rows, batched, method, rtol, atol, step_size,
                                   first_step, max_step, max_steps)
    return out, y0, t_rows, None


def _checked_params(func, params) -> np.ndarray:
    """func's parameters as a C-contiguous float64 vector (empty for a plain callable), or
    the error that func or params deserves."""
    if isinstance(func, Sequential):
        return func.check_params(params, "params")
    if isinstance(func, Dynamics):
        return func.check_params(params)
    if not callable(func):
        raise TypeError(f"`func` must be a neuralode.nets network, a neuralode.Dynamics or a "
                        f"callable f(t, y); got {type(func).__name__}")
    if params is not None:
        raise ValueError("`params` is only used with networks; a plain callable `f(t, y)` "
                         "carries its own parameters")
    return np.zeros(0)


def _integrate(func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps,
               max_step, num_threads, throw, dense=False):
    """Checks the arguments and runs the core; returns its raw output, y0 as an array, the
    private copy of t as (1 or B, T) rows and, with dense, the recording solve."""
    args = (func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps,
            max_step, num_threads)
    out, y0, t_rows, recorder = ((not dense and _solve_ready_network(*args))
                                 or _solve_checked(*args, dense=dense))
    ys, status, t_reached, stats, n_failed = out
    if throw and n_failed:
        _raise_failures(status, t_reached, y0.ndim == 2)
    return ys, status, t_reached, stats, y0, t_rows, recorder


def solve(func, y0, t, *, params=None, method="dopri5", rtol=1e-7, atol=1e-9, step_size=None,
          first_step=None, max_steps=100_000, max_step=np.inf, num_threads=None,
          throw=True, dense=False) -> Solution:
    """Solves dy/dt = func(t, y) from y(t[0]) = y0 and returns the states at the times t.

    Args:
        func: a network from :mod:`neuralode.nets` (solved in C++, OpenMP over the batch;
            needs ``params``), a :class:`Dynamics` (its ``f(t, y, params)`` is called one
            sample at a time) or a Python callable ``f(t, y)`` taking and returning shape (D,).
        y0: initial state, shape (D,) or a batch (B, D); every sample is its own problem.
        t: output times, shape (T,) shared or (B, T) per sample; strictly monotone,
            increasing or decreasing; ``t[0]`` is the initial time.
        method: "dopri5" (Dormand & Prince 1980, the default), "bosh3", "rk4",
            "midpoint" or "euler".
        rtol, atol: tolerances of the adaptive methods; ``atol`` a scalar or shape (D,).
        step_size: fixed-step methods step by it (output between steps by cubic Hermite
            interpolation); when None they step on the ``t`` grid.
        first_step, max_step, max_steps: adaptive step limits; ``max_steps`` counts the
            attempted steps of each sample.
        num_threads: OpenMP threads for networks (default: all). Results do not depend on it.
        throw: raise :class:`SolverError` on failure (default), or return the partial solution.
        dense: keep every accepted step, so that ``Solution.evaluate(t)`` gives the solution
            at other times by the solver's own interpolant (memory: ``stages + 1`` states
            per step and sample).

    Returns:
        Solution with ``ys`` of shape (T, *y0.shape), per-sample ``stats`` and ``status``.

    Raises:
        ValueError, TypeError: bad arguments, before any work. SolverError: a sample failed.
        Exceptions raised by a Python ``func`` propagate unchanged.
    """
    if not isinstance(dense, (bool, np.bool_)):
        raise TypeError(f"`dense` must be True or False; got {type(dense).__name__}")
    ys, status, t_reached, stats, y0, t_rows, recorder = _integrate(
        func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps, max_step,
        num_threads, throw, bool(dense))
    ts = times_as_given(t, t_rows)
    if y0.ndim == 2:
        return Solution(ts, ys, SolveStats(*stats.T), _STATUS_NAMES[status], t_reached, recorder)
    return Solution(ts, ys.reshape(ys.shape[0], y0.shape[0]), SolveStats(*stats[0].tolist()),
                    _STATUS[status[0]][0], t_reached[0].item(), recorder)


def odeint(func, y0, t, *, params=None, method="dopri5", rtol=1e-7, atol=1e-9, step_size=None,
           first_step=None, max_steps=100_000, max_step=np.inf, num_threads=None) -> np.ndarray:
    """The states at times t, shape (T, *y0.shape); see :func:`solve` for the arguments.
    Raises :class:`SolverError` if any sample fails."""
    ys, _, _, _, y0, _, _ = _integrate(func, y0, t, params, method, rtol, atol, step_size,
                                       first_step, max_steps, max_step, num_threads, True)
    return ys if y0.ndim == 2 else ys.reshape(ys.shape[0], y0.shape[0])
