"""Solutions against closed forms: exponential growth, linear systems, time dependence."""
import numpy as np
import pytest
from scipy.linalg import expm

import neuralode as nde


def test_exponential_growth():
    """dx/dt = x, x(0) = 1 gives e^t."""
    t = np.linspace(0, 2, 11)
    ys = nde.odeint(lambda t, y: y, np.array([1.0]), t, rtol=1e-10, atol=1e-10)
    assert ys.shape == (11, 1)
    assert np.max(np.abs(ys[:, 0] - np.exp(t))) < 1e-8


def _linear_net(A):
    """y' = A y as a network: one Linear with W = A, b = 0."""
    n = A.shape[0]
    return nde.nets.Sequential(nde.nets.Linear(n, n)), np.concatenate([A.ravel(), np.zeros(n)])


def _skew(rng, n):
    M = rng.normal(size=(n, n))
    return M - M.T


def _damped(rng, n):
    M = rng.normal(size=(n, n)) / np.sqrt(n)
    return M - 1.5 * np.eye(n) * np.abs(np.linalg.eigvals(M)).max()


@pytest.mark.parametrize("make_A", [_skew, _damped], ids=["skew-symmetric", "damped"])
@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_linear_system_against_matrix_exponential(make_A, method):
    rng = np.random.default_rng(1)
    A = make_A(rng, 10)
    y0 = rng.normal(size=10)
    t = np.linspace(0, 2, 7)
    net, theta = _linear_net(A)
    exact = np.stack([expm(A * ti) @ y0 for ti in t])
    ys = nde.odeint(net, y0, t, params=theta, method=method, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ys, exact, rtol=0, atol=5e-8 * np.abs(exact).max())
    # The same system as a Python callable gives the same answer.
    ys_callable = nde.odeint(lambda t, y: A @ y, y0, t, method=method, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ys_callable, exact, rtol=0, atol=5e-8 * np.abs(exact).max())


def test_skew_symmetric_flow_conserves_the_norm():
    rng = np.random.default_rng(2)
    A = _skew(rng, 10)
    y0 = rng.normal(size=10)
    ys = nde.odeint(lambda t, y: A @ y, y0, np.linspace(0, 5, 20), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ys, axis=1), np.linalg.norm(y0), rtol=1e-8)


@pytest.mark.parametrize("method", nde.METHODS)
def test_time_dependent_closed_form(method):
    """y' = -2 t y + cos t · y has y = y0 exp(-t² + sin t)."""
    t = np.linspace(0, 1.5, 16)
    exact = 0.7 * np.exp(-t**2 + np.sin(t))
    kwargs = {"rtol": 1e-10, "atol": 1e-12} if method in ("dopri5", "bosh3") else \
             {"step_size": 1e-3 if method != "euler" else 1e-4}
    ys = nde.odeint(lambda t, y: (-2 * t + np.cos(t)) * y, [0.7], t, method=method, **kwargs)
    tol = {"euler": 1e-3, "midpoint": 1e-6, "rk4": 1e-10, "bosh3": 1e-8, "dopri5": 1e-8}[method]
    np.testing.assert_allclose(ys[:, 0], exact, rtol=0, atol=tol)


def test_time_input_network_solves_a_time_dependent_problem():
    """ConcatTime feeds t to the Linear: y' = -y + t via W = [-1, 1], b = 0; y = t - 1 + 2e^-t."""
    net = nde.nets.Sequential(nde.nets.ConcatTime(), nde.nets.Linear(2, 1))
    t = np.linspace(0, 3, 13)
    ys = nde.odeint(net, [1.0], t, params=[-1.0, 1.0, 0.0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ys[:, 0], t - 1 + 2 * np.exp(-t), atol=1e-8)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
def test_backward_in_time(method):
    """Solving y' = -y from t = 2 down to 0 recovers the growth backwards: y(t) = y(2) e^(2-t)."""
    t = np.linspace(2, 0, 9)
    kwargs = {"step_size": 1e-3} if method == "rk4" else {"rtol": 1e-10, "atol": 1e-12}
    ys = nde.odeint(lambda t, y: -y, [3.0], t, method=method, **kwargs)
    np.testing.assert_allclose(ys[:, 0], 3.0 * np.exp(2 - t), rtol=1e-8)


def test_forward_then_backward_returns_to_the_start(spiral_net):
    net, theta = spiral_net
    t = np.linspace(0, 5, 50)
    forward = nde.odeint(net, [2.0, 0.0], t, params=theta, rtol=1e-11, atol=1e-12)
    back = nde.odeint(net, forward[-1], t[::-1], params=theta, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(back[::-1], forward, atol=1e-7)


def test_a_resnet_is_euler_with_step_one():
    """odeint(block, x, t=[0, 1, ..., K], method="euler") equals K weight-tied residual blocks
    x_{k+1} = x_k + f(x_k), computed here in numpy."""
    net = nde.nets.MLP(3, hidden=[5], activation="tanh")
    theta = net.init(seed=3)
    views = net.unflatten(theta)
    x = np.random.default_rng(0).normal(size=(4, 3))
    K = 6
    ys = nde.odeint(net, x, np.arange(K + 1.0), params=theta, method="euler")
    expected = [x]
    for _ in range(K):
        h = np.tanh(expected[-1] @ views["0.weight"].T + views["0.bias"])
        expected.append(expected[-1] + h @ views["2.weight"].T + views["2.bias"])
    np.testing.assert_allclose(ys, np.stack(expected), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_a_short_interval_at_a_large_time(method):
    # The interval is a few units in the last place of t, shorter than the step-size floor.
    t = np.array([1e10, 1e10 + 1e-5])
    sol = nde.solve(lambda t, y: y, [1.0], t, method=method, rtol=1e-10, atol=1e-12)
    assert sol.status == "success"
    assert sol.ys[-1, 0] == pytest.approx(np.exp(t[1] - t[0]), rel=1e-12)


def test_a_network_without_parameters_needs_none():
    # y' = y^3 from y0: y(t) = y0 / sqrt(1 - 2 y0^2 t).
    y0, t = np.array([0.5, -0.25]), np.linspace(0.0, 1.0, 4)
    ys = nde.odeint(nde.nets.Sequential(nde.nets.Power(3)), y0, t, rtol=1e-10, atol=1e-12)
    exact = y0 / np.sqrt(1 - 2 * y0**2 * t[:, None])
    np.testing.assert_allclose(ys, exact, rtol=1e-8)


@pytest.mark.parametrize("method,options", [("euler", {}), ("rk4", {"step_size": 0.3}),
                                            ("midpoint", {"step_size": 0.25}), ("dopri5", {})])
def test_reported_nfe_counts_every_call(method, options):
    calls = []

    def f(t, y):
        calls.append(t)
        return -y

    sol = nde.solve(f, [1.0], np.linspace(0.0, 1.0, 4), method=method, **options)
    assert sol.stats.nfe == len(calls)


def test_max_step_caps_every_step():
    sol = nde.solve(lambda t, y: -y, [1.0], [0.0, 10.0], max_step=0.5, rtol=1e-4, atol=1e-8)
    default = nde.solve(lambda t, y: -y, [1.0], [0.0, 10.0], rtol=1e-4, atol=1e-8)
    assert default.stats.n_accepted < 20 <= sol.stats.n_accepted
    assert sol.ys[-1, 0] == pytest.approx(np.exp(-10.0), rel=1e-3)


def test_first_step_is_the_first_step():
    # From 1e-6 the step grows at most tenfold per step: reaching t = 1 takes 7 steps or more.
    sol = nde.solve(lambda t, y: y, [1.0], [0.0, 1.0], first_step=1e-6, rtol=1e-6)
    default = nde.solve(lambda t, y: y, [1.0], [0.0, 1.0], rtol=1e-6)
    assert default.stats.n_accepted < 7 <= sol.stats.n_accepted
    assert sol.ys[-1, 0] == pytest.approx(np.e, rel=1e-5)


def test_an_interval_shorter_than_the_step_size_floor():
    # At t = 1e16 one unit in the last place is 2: the floor (10 of them) exceeds the whole
    # interval, which is tried in one step.
    sol = nde.solve(lambda t, y: -1e-3 * y, [1.0], [1e16, 1e16 + 4], rtol=1e-6)
    assert sol.status == "success"
    assert sol.ys[-1, 0] == pytest.approx(np.exp(-4e-3), rel=1e-9)
