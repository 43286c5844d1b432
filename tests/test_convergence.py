"""Convergence orders: regress log(error) on log(h) for the fixed-step methods."""
import numpy as np
import pytest

import neuralode as nde


def rhs(t, y):
    """A nonlinear, time-dependent test problem: y' = -y² + sin t (reference by dopri5)."""
    return -y**2 + np.sin(t)


T_END = 2.0
REFERENCE = nde.odeint(rhs, [1.0], [0.0, T_END], rtol=1e-13, atol=1e-14)[-1, 0]


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
@pytest.mark.parametrize("grid", ["step_size", "t_grid"])
def test_fixed_step_order(method, order, grid):
    steps = np.array([64, 128, 256, 512, 1024])
    errors = []
    for n in steps:
        if grid == "step_size":
            y = nde.odeint(rhs, [1.0], [0.0, T_END], method=method, step_size=T_END / n)
        else:
            y = nde.odeint(rhs, [1.0], np.linspace(0, T_END, n + 1), method=method)
        errors.append(abs(y[-1, 0] - REFERENCE))
    slope = np.polyfit(np.log(T_END / steps), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (method, slope, errors)


@pytest.mark.parametrize("method,order", [("midpoint", 2), ("rk4", 3)])
def test_hermite_output_between_steps_converges(method, order):
    """Outputs inside fixed steps come from cubic Hermite interpolation: error falls with h at
    the lower of the method's order and the interpolant's (3)."""
    t_out = np.array([0.0, 0.37, 1.23, T_END])
    reference = nde.odeint(rhs, [1.0], t_out, rtol=1e-13, atol=1e-14)[:, 0]
    steps = np.array([20, 40, 80, 160])
    errors = [np.abs(nde.odeint(rhs, [1.0], t_out, method=method, step_size=T_END / n)[:, 0]
                     - reference).max() for n in steps]
    slope = np.polyfit(np.log(T_END / steps), np.log(errors), 1)[0]
    assert slope > order - 0.3, (slope, errors)


@pytest.mark.parametrize("method", ["bosh3", "dopri5"])
def test_adaptive_error_falls_with_rtol(method):
    errors, nfes = [], []
    for rtol in [1e-4, 1e-6, 1e-8, 1e-10]:
        sol = nde.solve(rhs, [1.0], [0.0, T_END], method=method, rtol=rtol, atol=rtol * 1e-2)
        errors.append(abs(sol.ys[-1, 0] - REFERENCE))
        nfes.append(sol.stats.nfe)
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:])), errors
    assert all(n2 > n1 for n1, n2 in zip(nfes, nfes[1:])), nfes
    assert errors[-1] < 1e-8


@pytest.mark.parametrize("method", ["bosh3", "dopri5"])
def test_output_times_do_not_change_the_steps(method):
    coarse = nde.solve(rhs, [1.0], [0.0, T_END], method=method, rtol=1e-8, atol=1e-10)
    fine = nde.solve(rhs, [1.0], np.linspace(0, T_END, 500), method=method, rtol=1e-8, atol=1e-10)
    assert fine.stats == coarse.stats
    assert fine.ys[-1, 0] == coarse.ys[-1, 0]
    # And dense output is as accurate as the steps themselves.
    reference = nde.odeint(rhs, [1.0], np.linspace(0, T_END, 500), rtol=1e-13, atol=1e-14)
    assert np.abs(fine.ys - reference).max() < 1e-6
