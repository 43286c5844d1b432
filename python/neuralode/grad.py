"""odeint_vjp and Gradients: reverse-mode derivatives of an ODE solve.

``gradient="adjoint"`` (the default) is the method of Chen et al. (2018): it solves the
augmented system [z, a, a_θ, a_t] backwards in time with its own adaptive steps, resetting z
to the stored forward value and adding dL/dz(t_i) to a at every output time, so it stores
only the outputs (memory O(1) in the number of steps). Its gradients carry the backward
solve's own error, controlled by ``adjoint_rtol``/``adjoint_atol``; where z is unstable
backwards in time (strongly dissipative or chaotic dynamics), prefer another mode.
``adjoint_norm="seminorm"`` (default) leaves a_θ and a_t out of the error norm (Kidger, Chen
& Lyons 2021), which takes fewer steps at no loss of accuracy in z and a.

``gradient="interpolated"`` keeps the forward pass's steps and dense output and integrates
only [a, a_θ, a_t] backwards against it: no backward reconstruction of z, so it stays
accurate where re-solving z backwards is unstable; memory O(steps · stages · D).

``gradient="backprop"`` is the exact reverse-mode derivative of the discrete forward solution
with its accepted steps held fixed, through every Runge–Kutta stage and the dense output: no
backward solve and no error of its own, at memory O(steps · stages · D).

In every mode dL/dt_i = dL/dy(t_i)·f(t_i, y(t_i)) for i ≥ 1 and dL/dt_0 = -(dL/dy0 -
dL/dy(t_0))·f(t_0, y0), the derivatives of the exact solution at the computed states.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core
from ._checks import check_tolerances, default_tolerances, float_array, times_as_given
from .dynamics import Dynamics
from .nets import Sequential
from .options import adjoint_options
from .solve import SolverError, raise_failures, checked_problem

__all__ = ["odeint_vjp", "Gradients", "GradientStats", "GRADIENT_MODES"]

GRADIENT_MODES = ("adjoint", "interpolated", "backprop")


def check_gradient(gradient) -> str:
    """gradient if it names a mode, else a ValueError listing them."""
    if gradient not in GRADIENT_MODES:
        raise ValueError(f"`gradient` must be one of {', '.join(map(repr, GRADIENT_MODES))}; "
                         f"got {gradient!r}")
    return gradient


_NORMS = ("seminorm", "full")


@dataclass(frozen=True)
class GradientStats:
    """Work of the backward pass per sample (arrays of shape (B,), ints for one sample), the
    peak number of floats the gradient mode kept for it (summed over samples), and the
    forward pass's evaluations per sample (for training statistics)."""

    nfe_backward: np.ndarray
    n_accepted_backward: np.ndarray
    n_rejected_backward: np.ndarray
    stored_floats: int
    nfe_forward: np.ndarray


@dataclass(frozen=True)
class Gradients:
    """dL/dy0 (like y0), dL/dparams (like params, summed over the batch), dL/dt (like t)."""

    y0: np.ndarray
    params: np.ndarray
    t: np.ndarray
    stats: GradientStats


def odeint_vjp(func, y0, t, *, params=None, gradient="adjoint", method="dopri5", rtol=None,
               atol=None, step_size=None, first_step=None, max_steps=100_000, max_step=np.inf,
               num_threads=None, adjoint_rtol=None, adjoint_atol=None, adjoint_norm="seminorm",
               dtype=None):
    """Solves like :func:`odeint` and returns ``(ys, pullback)``; ``pullback(dL_dys)`` gives
    the :class:`Gradients` of a loss L whose derivative with respect to ``ys`` is dL_dys.

    Args:
        func: a network from :mod:`neuralode.nets` or a :class:`Dynamics` (which supplies
            its own ``vjp``). Plain callables have no derivatives: wrap them in a Dynamics.
        gradient: "adjoint" (Chen et al. 2018: the state is integrated backwards with the
            adjoint), "interpolated" (the backward pass reads the state from the forward
            solve's dense output) or "backprop" (the exact derivative of the discrete
            forward solve).
        adjoint_rtol, adjoint_atol: tolerances of the backward solve (default: rtol, atol);
            a per-component atol applies to the state and its adjoint, its smallest entry
            to the parameter and time adjoints.
        adjoint_norm: "seminorm" (default) or "full": whether a_θ and a_t enter the error norm.
        The other arguments are those of :func:`odeint`; in float32 (``dtype``, or float32
        y0 and params) the backward pass runs in float32 too, and dL/dy0 and dL/dparams are
        float32 (dL/dt stays float64, like t).

    Raises:
        ValueError, TypeError: bad arguments. SolverError: the forward or backward solve
        failed (the message says which).
    """
    if not isinstance(func, (Sequential, Dynamics)):
        raise TypeError("`func` must be a neuralode.nets network or a neuralode.Dynamics to be "
                        "differentiated; a plain callable has no VJP (subclass "
                        f"neuralode.Dynamics and write `vjp`); got {type(func).__name__}")
    check_gradient(gradient)
    if adjoint_norm not in _NORMS:
        raise ValueError(f"`adjoint_norm` must be 'seminorm' or 'full'; got {adjoint_norm!r}")
    # Private copies of theta and t: the pullback must not see later changes to the
    # caller's arrays.
    rhs, y0_arr, t_rows, options, theta = checked_problem(
        func, y0, t, params, method, rtol, atol, step_size, first_step, max_steps, max_step,
        num_threads, private=True, dtype=dtype)
    D = y0_arr.shape[-1]
    rtol, atol = default_tolerances(rtol, atol, y0_arr.dtype)
    adjoint_rtol, adjoint_atol = check_tolerances(
        rtol if adjoint_rtol is None else adjoint_rtol,
        atol if adjoint_atol is None else adjoint_atol, D,
        names=("rtol" if adjoint_rtol is None else "adjoint_rtol",
               "atol" if adjoint_atol is None else "adjoint_atol"), dtype=y0_arr.dtype)
    backward = adjoint_options(options, adjoint_rtol, adjoint_atol, adjoint_norm, D,
                               theta.size, gradient == "adjoint", t_rows.shape[1])
    if gradient in ("backprop", "interpolated"):
        return _recorded(gradient, func, rhs, y0_arr, t, t_rows, options, theta, backward)
    forward = _core.solve(rhs, y0_arr, t_rows, options)
    ys, forward_stats, batched = forward.ys, forward.stats, y0_arr.ndim == 2
    if forward.failed:
        raise_failures(forward.status, forward.t_reached, batched)
    t_arr = times_as_given(t, t_rows)
    ys_out = ys if batched else ys.reshape(ys.shape[0], -1)

    def pullback(dL_dys) -> Gradients:
        g3 = np.ascontiguousarray(_check_cotangent(dL_dys, ys_out.shape, ys.dtype)
                                  .reshape(ys.shape))
        return _adjoint(func, rhs, theta, ys, g3, t_arr, batched, backward,
                        forward_stats[:, 0])

    return ys_out.copy(), pullback


def _adjoint(func, rhs, theta, ys, dL_dys, t, batched, options, nfe_forward):
    """The adjoint backward pass; ys and dL_dys are (T, B, D)."""
    T, B, D = ys.shape
    P = theta.size
    if T == 1:  # nothing to integrate: y(t_0) is y0
        return _gradients(dL_dys[0].copy(), np.zeros(P), np.zeros((B, 1)), t,
                          np.zeros((B, 3), dtype=np.int64), T * B * D, batched, nfe_forward)
    s0 = np.concatenate([ys[-1], dL_dys[-1]], axis=1)  # z, a at t_N; a_θ, a_t start at 0
    t_back = np.ascontiguousarray(np.atleast_2d(t)[:, ::-1])
    out = _core.adjoint(rhs, s0, t_back, ys, dL_dys, options)
    grad_y0, grad_theta, a_t, work = _backward_result(out, batched, "adjoint")
    dL_dt = _time_gradients(func, theta, ys, dL_dys, grad_y0, t, a_t, out.dots)
    return _gradients(grad_y0, grad_theta, dL_dt, t, work, T * B * D, batched, nfe_forward)


def _check_finite(grad_y0, theta_finite, batched, mode):
    """backprop has no step control of its own to fail, and the adjoint modes keep dL/dθ out
    of theirs (the seminorm: it is summed from each step's θ records), so a NaN or inf there
    (a VJP that overflows at some stage) would pass silently: raise as a failed solve does."""
    bad = ~(np.isfinite(grad_y0).all(axis=1) & theta_finite)
    if bad.any():
        samples = np.flatnonzero(bad)
        who = (f"samples {', '.join(map(str, samples[:5]))}" + (" ..." if samples.size > 5 else "")
               if batched else "the solve")
        raise SolverError(f"the backward ({mode}) pass gave non-finite gradients for {who}: "
                          "the network's derivative is NaN or inf at a point the forward solve "
                          "stepped through")


def _backward_result(out, batched, mode):
    """(dL/dy0, per-sample dL/dθ, a_t(t_0), work (B, 3)) of a backward solve, or its failure."""
    if out.failed:
        try:
            raise_failures(out.status, out.t_reached, batched)
        except SolverError as error:
            raise SolverError(f"the backward ({mode}) solve failed: {error}") from None
    _check_finite(out.grad_y0, out.theta_finite, batched, mode)
    return out.grad_y0, out.grad_theta, out.a_t, out.stats[:, [0, 2, 3]]


def _gradients(grad_y0, grad_theta, dL_dt, t, work, stored, batched, nfe_forward) -> Gradients:
    """Gradients in the caller's shapes: dL/dθ (summed over samples in float64 by the core)
    in the states' type, dL/dt like t (float64)."""
    stats = GradientStats(*(w if batched else w[0].item() for w in work.T),
                          stored_floats=int(stored),
                          nfe_forward=nfe_forward if batched else nfe_forward[0].item())
    dL_dt = dL_dt.astype(np.float64, copy=False)
    grad_params = grad_theta.astype(grad_y0.dtype, copy=False)
    return Gradients(grad_y0 if batched else grad_y0[0], grad_params,
                     dL_dt if t.ndim == 2 else dL_dt.sum(axis=0), stats)


def _check_cotangent(dL_dys, shape, dtype):
    g = float_array(dL_dys, "dL_dys", dtype)
    if g.shape != shape:
        raise ValueError(f"`dL_dys` must have the shape of ys {shape}; got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("`dL_dys` contains NaN or inf")
    return g


def _time_gradients(func, theta, ys, dL_dys, grad_y0, t, a_t=None, dots=None):
    """dL/dt per sample (B, T): dL/dy(t_i)·f(t_i, y_i) for i >= 1 (`dots` when the backward
    pass took them, column 0 unused). For t_0: from the integrated a_t(t_0) (started at 0,
    so the jumps -dL/dt_i are added here) when given, else the adjoint identity
    -(dL/dy0 - dL/dy(t_0))·f(t_0, y0)."""
    if dots is not None:
        dots = dots.astype(np.float64, copy=False)
        dots[:, 0] = a_t - dots[:, 1:].sum(axis=1)
        return dots
    T, B, D = ys.shape
    t_rows = np.atleast_2d(t)
    t_per_output = np.broadcast_to(t_rows.T, (T, B))
    f_out = _evaluate(func, theta, t_per_output.reshape(-1), ys.reshape(T * B, D)).reshape(T, B, D)
    # In float64 whatever the states' type (astype copies nothing for float64 states).
    dL_dys, f_out = dL_dys.astype(np.float64, copy=False), f_out.astype(np.float64, copy=False)
    dL_dt = np.einsum("tbd,tbd->bt", dL_dys, f_out)
    if a_t is None:
        dL_dt[:, 0] = -np.einsum("bd,bd->b", grad_y0 - dL_dys[0], f_out[0])
    else:
        dL_dt[:, 0] = a_t - dL_dt[:, 1:].sum(axis=1)
    return dL_dt


def _recorded(gradient, func, rhs, y0, t, t_rows, options, theta, backward):
    """backprop and interpolated: a forward solve that keeps its steps, then the pullback."""
    batched = y0.ndim == 2
    solve = _core.record(rhs, y0, t_rows, options)
    forward = solve.result()
    ys, forward_stats = forward.ys, forward.stats
    if forward.failed:
        raise_failures(forward.status, forward.t_reached, batched)
    t_arr = times_as_given(t, t_rows)
    ys_out = ys if batched else ys.reshape(ys.shape[0], -1)

    def pullback(dL_dys) -> Gradients:
        g = np.ascontiguousarray(_check_cotangent(dL_dys, ys_out.shape, ys.dtype)
                                 .reshape(ys.shape))
        T, B, D = ys.shape
        if gradient == "backprop" or T == 1:
            swept = solve.pullback(g, options.num_threads)
            grad_y0, grad_theta, work = swept.grad_y0, swept.grad_theta, swept.work
            _check_finite(grad_y0, swept.theta_finite, batched, "backprop")
            dL_dt = _time_gradients(func, theta, ys, g, grad_y0, t_arr)
        else:
            out = solve.interpolated_pullback(g[-1], np.ascontiguousarray(t_rows[:, ::-1]), g,
                                              backward)
            grad_y0, grad_theta, a_t, work = _backward_result(out, batched,
                                                              "interpolated adjoint")
            dL_dt = _time_gradients(func, theta, ys, g, grad_y0, t_arr, a_t, out.dots)
        return _gradients(grad_y0, grad_theta, dL_dt, t_arr, work, solve.stored_floats, batched,
                          forward_stats[:, 0])

    return ys_out.copy(), pullback


def _evaluate(func, theta, t, y):
    """f(t_k, y_k) for every row k."""
    if isinstance(func, Sequential):  # theta was checked by the caller
        return func.core(y.shape[1]).forward(np.ascontiguousarray(t), y, theta)
    if func.batched:
        return np.asarray(func.f(np.ascontiguousarray(t), y, theta), dtype=y.dtype)
    return np.stack([np.asarray(func.f(tk, yk, theta), dtype=y.dtype) for tk, yk in zip(t, y)])
