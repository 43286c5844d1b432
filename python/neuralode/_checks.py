"""The argument checks every public function shares: each bad argument gets a TypeError or
ValueError naming it, before any work starts (DESIGN.md §3)."""
from __future__ import annotations

import numbers

import numpy as np

from . import _core

METHODS = tuple(_core.methods)
ADAPTIVE = tuple(m for m in METHODS if _core.tableau(m)["error_order"] > 0)
FLOAT64 = np.dtype(np.float64)
FLOAT32 = np.dtype(np.float32)
INF = float("inf")
# The default tolerances of each state type: float32 resolves ~1.2e-7 relative, so its
# defaults sit two orders above that, as float64's sit far above its 2.2e-16.
DEFAULT_TOLERANCES = {FLOAT64: (1e-7, 1e-9), FLOAT32: (1e-5, 1e-7)}
# Below this rtol a float32 error estimate is mostly rounding (the states carry ~1.2e-7
# relative): steps shrink until they underflow instead of meeting the tolerance.
FLOAT32_MIN_RTOL = 1e-6
MAX_THREADS = 1024
MAX_STEPS = 2**62  # the core counts steps in a C++ long


def check_float(value, name, *, positive=False, allow_inf=False):
    if type(value) is float and (value > 0 or not positive) and (value < INF or allow_inf):
        return value  # the common case, without the slower checks below
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    value = float(value)
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be finite; got {value}")
    if positive and not value > 0:
        raise ValueError(f"`{name}` must be positive; got {value}")
    return value


def check_int(value, name, minimum, maximum=MAX_STEPS):
    """value as an int in [minimum, maximum], or a TypeError/ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}; got {value}")
    if value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum}; got {value}")
    return int(value)


def check_dtype(dtype):
    """dtype (float64 or float32) as a numpy dtype, None for 'from the inputs'."""
    if dtype is None:
        return None
    try:
        checked = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be np.float64 or np.float32; got {dtype!r}") from None
    if checked not in (FLOAT64, FLOAT32):
        raise ValueError(f"`dtype` must be float64 or float32; got {checked}")
    return FLOAT64 if checked == FLOAT64 else FLOAT32


def state_dtype(dtype, *values):
    """The scalar type a solve runs in: `dtype` when given, else numpy's promotion of the
    values' types (y0, params): float32 (or float16) alone stays float32, anything else
    (float64, integers, Python numbers) is float64."""
    if dtype is not None:
        return check_dtype(dtype)
    kinds = []
    for value in values:
        if isinstance(value, np.ndarray):
            kinds.append(value.dtype)
        elif value is not None:
            try:
                kinds.append(np.asarray(value).dtype)
            except (TypeError, ValueError):  # ragged: the array checks name the argument
                return FLOAT64
    try:
        promoted = np.result_type(*kinds) if kinds else FLOAT64
    except TypeError:  # strings, objects: float_array names the argument
        return FLOAT64
    return FLOAT32 if promoted in (FLOAT32, np.dtype(np.float16)) else FLOAT64


def default_tolerances(rtol, atol, dtype):
    """rtol and atol, each None replaced by the state type's default."""
    if rtol is not None and atol is not None:
        return rtol, atol
    rtol_default, atol_default = DEFAULT_TOLERANCES[FLOAT64 if dtype == FLOAT64 else FLOAT32]
    return (rtol_default if rtol is None else rtol), (atol_default if atol is None else atol)


def float_array(value, name, dtype=FLOAT64):
    """value as a C-contiguous array of dtype (float64 or float32); NaN/inf are checked in C++
    (array_checks.hpp). Integers and floats only: strings, booleans and complex numbers are
    refused rather than parsed, cast or truncated."""
    if type(value) is np.ndarray and value.dtype is dtype and value.flags.c_contiguous:
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
    arr = arr.astype(dtype, copy=False)
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # keeps 0-d as 0-d


def check_y0(y0, dtype=FLOAT64) -> np.ndarray:
    y0 = float_array(y0, "y0", dtype)
    if y0.ndim not in (1, 2) or y0.size == 0:
        raise ValueError(f"`y0` must have shape (D,) or (B, D) with D, B >= 1; got shape {y0.shape}")
    return y0


def check_t(t, batch) -> np.ndarray:
    """t as (1, T) shared or (B, T) per sample, a private copy (the solve reads it throughout,
    and a Python f could change the caller's array); values are checked in C++."""
    t = np.array(float_array(t, "t"), order="C")
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


def check_tolerances(rtol, atol, dim, names=("rtol", "atol"), dtype=FLOAT64):
    """rtol, and atol as a float (the core broadcasts it) or a (dim,) array; float32 states
    refuse an rtol they cannot honour."""
    rtol_name, atol_name = names
    rtol = check_float(rtol, rtol_name, positive=True)
    if dtype == FLOAT32 and rtol < FLOAT32_MIN_RTOL:
        raise ValueError(f"`{rtol_name}` = {rtol:g} is below what float32 states can honour "
                         f"(they carry about 1.2e-7 relative): use {rtol_name} >= "
                         f"{FLOAT32_MIN_RTOL:g}, or float64 states (dtype=np.float64)")
    if type(atol) is float and 0 < atol < INF:
        return rtol, atol
    atol_arr = float_array(atol, atol_name)
    if atol_arr.ndim == 0:
        atol_arr = atol_arr.reshape(1)
    elif atol_arr.shape != (dim,):
        raise ValueError(f"`{atol_name}` must be a scalar or have shape ({dim},); got shape "
                         f"{atol_arr.shape}")
    if not np.all(atol_arr > 0) or not np.all(np.isfinite(atol_arr)):
        raise ValueError(f"`{atol_name}` must be positive and finite; got {atol}")
    return rtol, atol_arr


def default_steps(step_size, first_step, max_step, max_steps):
    """Whether the step options are the defaults (any max_steps in range), which need none
    of the checks below: a small solve costs a few microseconds."""
    return (step_size is None and first_step is None and type(max_step) is float
            and max_step == INF and type(max_steps) is int and 1 <= max_steps <= MAX_STEPS)


def check_steps(method, step_size, first_step, max_step, max_steps):
    """The step options as the core takes them (0 for 'not given')."""
    if default_steps(step_size, first_step, max_step, max_steps):
        return 0.0, 0.0, max_step, max_steps
    if step_size is not None:
        if method in ADAPTIVE:
            raise ValueError(f"`step_size` applies to the fixed-step methods; {method!r} chooses "
                             "its own steps (set `first_step` or `max_step` instead)")
        step_size = check_float(step_size, "step_size", positive=True)
    first_step = 0.0 if first_step is None else check_float(first_step, "first_step", positive=True)
    max_step = check_float(max_step, "max_step", positive=True, allow_inf=True)
    if method not in ADAPTIVE and (first_step or max_step < INF):
        name = "first_step" if first_step else "max_step"
        raise ValueError(f"`{name}` applies to the adaptive methods; {method!r} steps by "
                         "`step_size`, or on the `t` grid when it is None")
    return step_size or 0.0, first_step, max_step, check_int(max_steps, "max_steps", 1)


def check_threads(num_threads) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"`num_threads` must be an int or None; got {type(num_threads).__name__}")
    # An upper bound keeps OpenMP from failing to start threads, which aborts the process.
    return check_int(num_threads, "num_threads", 1, MAX_THREADS)
