"""Dynamics written in Python: Lotka–Volterra with four parameters."""
import numpy as np
import pytest

import neuralode as nde


class LotkaVolterra(nde.Dynamics):
    num_params = 4  # alpha, beta, delta, gamma

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
        return a_y, a_params, 0.0


PARAMS = np.array([1.5, 1.0, 1.0, 3.0])


def test_vjp_matches_finite_differences():
    lv = LotkaVolterra()
    y, a, h = np.array([1.2, 0.8]), np.array([0.3, -1.1]), 1e-6
    a_y, a_params, a_t = lv.vjp(0.0, y, PARAMS, a)
    for i in range(2):
        e = np.eye(2)[i] * h
        fd = a @ (lv.f(0, y + e, PARAMS) - lv.f(0, y - e, PARAMS)) / (2 * h)
        assert a_y[i] == pytest.approx(fd, rel=1e-8)
    for i in range(4):
        e = np.eye(4)[i] * h
        fd = a @ (lv.f(0, y, PARAMS + e) - lv.f(0, y, PARAMS - e)) / (2 * h)
        assert a_params[i] == pytest.approx(fd, rel=1e-8, abs=1e-12)
    assert a_t == 0


def test_solve_conserves_the_lotka_volterra_invariant():
    """V = δx - γ ln x + βz - α ln z is constant along solutions."""
    alpha, beta, delta, gamma = PARAMS
    ys = nde.odeint(LotkaVolterra(), [1.0, 1.0], np.linspace(0, 10, 101), params=PARAMS,
                    rtol=1e-10, atol=1e-12)
    x, z = ys.T
    invariant = delta * x - gamma * np.log(x) + beta * z - alpha * np.log(z)
    assert np.ptp(invariant) < 1e-8
    batch = nde.odeint(LotkaVolterra(), [[1.0, 1.0], [2.0, 0.5]], [0.0, 1.0], params=PARAMS)
    assert np.array_equal(batch[:, 0], nde.odeint(LotkaVolterra(), [1.0, 1.0], [0.0, 1.0],
                                                  params=PARAMS))


def test_dynamics_errors():
    with pytest.raises(ValueError, match=r"`params` is required: LotkaVolterra has 4"):
        nde.odeint(LotkaVolterra(), [1.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`params` must have shape \(4,\) for LotkaVolterra"):
        nde.odeint(LotkaVolterra(), [1.0, 1.0], [0.0, 1.0], params=np.ones(3))
    with pytest.raises(NotImplementedError, match="must implement f"):
        nde.odeint(type("Empty", (nde.Dynamics,), {"num_params": 0})(), [1.0], [0.0, 1.0])


class Decay(nde.Dynamics):
    """dy/dt = -k y, written without declaring num_params (the mistake the message names)."""

    def f(self, t, y, params):
        return -params[0] * y

    def vjp(self, t, y, params, a):
        return -params[0] * a, np.array([-a @ y]), 0.0


def test_an_undeclared_num_params_is_named_with_the_fix():
    with pytest.raises(ValueError, match=r"Decay does not declare `num_params` \(the default is "
                                         r"0\); set `num_params = 1` on the class"):
        nde.odeint(Decay(), [1.0], [0.0, 1.0], params=[0.5])
    with pytest.raises(ValueError, match=r"set `num_params = 1`"):
        nde.odeint_vjp(Decay(), [1.0], [0.0, 1.0], params=np.array([0.5]))
    with pytest.raises(ValueError, match=r"shape \(1, 1\), but Decay .* set `num_params` on"):
        nde.odeint(Decay(), [1.0], [0.0, 1.0], params=[[0.5]])


def test_num_params_set_in_the_constructor_counts_as_declared():
    class Polynomial(nde.Dynamics):
        def __init__(self, degree):
            self.num_params = degree + 1

        def f(self, t, y, params):
            return np.polyval(params, y)

    ys = nde.odeint(Polynomial(1), [1.0], [0.0, 1.0], params=[0.0, 2.0])  # dy/dt = 2
    assert ys[-1, 0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"`params` must have shape \(2,\) for Polynomial"):
        nde.odeint(Polynomial(1), [1.0], [0.0, 1.0], params=[1.0])
