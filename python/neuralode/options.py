"""The options objects of the C++ core: every option of a solve checked once here and handed
over by name (``_core.SolverOptions``, ``_core.AdjointOptions``), never as a row of
positional numbers.

A new step option is a field in ``cpp/bindings/options.hpp`` (and the core's
``SolverOptions`` where the step loop reads it), one line in ``options_bindings.cpp``, and
its check and keyword here.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._checks import (FLOAT64, MAX_STEPS, check_method, check_steps, check_threads,
                      check_tolerances, default_steps)

__all__ = ["solver_options", "adjoint_options"]

# Options made from the common arguments (float tolerances, the default step limits), by
# argument values: a small solve costs a few microseconds, as much as making them anew.
_cache: dict = {}
_CACHE_SIZE = 256


def solver_options(method, rtol, atol, step_size, first_step, max_step, max_steps, num_threads,
                   dim, dtype=FLOAT64) -> _core.SolverOptions:
    """The checked options of a solve of states with `dim` components of type `dtype`."""
    cacheable = (type(method) is str and type(rtol) is float and type(atol) is float
                 and type(max_steps) is int
                 and (num_threads is None or type(num_threads) is int)
                 and default_steps(step_size, first_step, max_step, max_steps))
    key = (method, rtol, atol, max_steps, num_threads, dtype is FLOAT64) if cacheable else None
    options = _cache.get(key) if cacheable else None
    if options is not None:
        return options
    method = check_method(method)
    rtol, atol = check_tolerances(rtol, atol, dim, dtype=dtype)
    options = _fill(_core.SolverOptions(), method, rtol, atol,
                    *check_steps(method, step_size, first_step, max_step, max_steps),
                    check_threads(num_threads))
    if cacheable:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = options
    return options


def _fill(options, method, rtol, atol, step_size, first_step, max_step, max_steps, threads):
    options.method = method
    options.rtol = rtol
    options.atol = [atol] if isinstance(atol, float) else atol.tolist()
    options.step_size = step_size
    options.first_step = first_step
    options.max_step = max_step
    options.max_steps = max_steps
    options.num_threads = threads
    return options


def adjoint_options(forward: _core.SolverOptions, rtol, atol, norm, dim, num_params, with_state,
                    times) -> _core.AdjointOptions:
    """The options of a backward solve after the forward solve `forward`: its own tolerances
    (checked by the caller), the forward step limits, the error norm."""
    options = _fill(_core.AdjointOptions(), forward.method, rtol,
                    backward_atol(atol, dim, num_params, with_state), forward.step_size,
                    forward.first_step, forward.max_step,
                    backward_max_steps(forward.max_steps, times), forward.num_threads)
    options.full_norm = norm == "full"
    return options


def backward_atol(atol, dim, num_params, with_state):
    """atol of the backward state [z (adjoint mode only), a, a_θ, a_t]: a per-component atol
    applies to z and a, its smallest entry to a_θ and a_t (in the full norm)."""
    if isinstance(atol, float):
        return atol
    if atol.size == 1:
        return float(atol[0])
    rest = np.full(num_params + 1, atol.min())
    return np.concatenate([atol] * (2 if with_state else 1) + [rest])


def backward_max_steps(max_steps, times):
    """The backward solves stop at every output time (the jumps in a), so each of the T - 1
    intervals costs at least one step of its own: max_steps limits the steps beyond those,
    or 1e5 outputs would exhaust the default by themselves."""
    return min(max_steps + times - 1, MAX_STEPS)
