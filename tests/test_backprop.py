"""gradient="backprop": the exact derivative of the discrete solution."""
import numpy as np
import pytest

import neuralode as nde
from test_adjoint import _assert_matches_finite_differences, _loss_and_fd


@pytest.mark.parametrize("method,kwargs", [("rk4", {"step_size": 0.15}), ("midpoint", {}),
                                           ("euler", {"step_size": 0.05}),
                                           ("bosh3", {"rtol": 1e-9, "atol": 1e-11})])
def test_fixed_step_backprop_is_exact_for_the_discrete_solution(method, kwargs):
    """With fixed steps the discrete solution is a smooth function of y0 and θ: backprop
    matches its finite differences to rounding, outputs inside steps (Hermite) included."""
    net = nde.nets.MLP(2, hidden=[5], activation="tanh", time_input=True)
    theta = net.init(seed=3)
    rng = np.random.default_rng(7)
    y0, weights = rng.normal(size=2), rng.normal(size=(5, 2))
    t = np.array([0.0, 0.33, 0.7, 1.2, 1.5])
    _, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient="backprop", method=method,
                                 **kwargs)
    g = pullback(weights)
    fd_y0, fd_theta, _ = _loss_and_fd(net, y0, t, theta, weights, method=method, **kwargs)
    np.testing.assert_allclose(g.y0, fd_y0, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g.params, fd_theta, rtol=1e-6, atol=1e-8)


def test_resnet_gradient_equals_hand_written_backpropagation():
    """Euler with step 1 is a weight-tied residual network x_{k+1} = x_k + f(x_k); its
    backprop gradient is that network's, written out here layer by layer in numpy."""
    net = nde.nets.MLP(3, hidden=[4], activation="tanh")
    theta = net.init(seed=8)
    v = net.unflatten(theta)
    W1, b1, W2, b2 = v["0.weight"], v["0.bias"], v["2.weight"], v["2.bias"]
    x0, K = np.array([0.3, -0.7, 1.1]), 5
    xs, hs = [x0], []
    for _ in range(K):
        hs.append(np.tanh(W1 @ xs[-1] + b1))
        xs.append(xs[-1] + W2 @ hs[-1] + b2)
    target = np.array([1.0, 0.0, -1.0])
    g_x = xs[-1] - target  # L = ½|x_K - target|²
    gW1, gb1, gW2, gb2 = (np.zeros_like(a) for a in (W1, b1, W2, b2))
    for k in reversed(range(K)):
        gW2 += np.outer(g_x, hs[k])
        gb2 += g_x
        delta = (W2.T @ g_x) * (1 - hs[k] ** 2)
        gW1 += np.outer(delta, xs[k])
        gb1 += delta
        g_x = g_x + W1.T @ delta
    ys, pullback = nde.odeint_vjp(net, x0, np.arange(K + 1.0), params=theta,
                                  gradient="backprop", method="euler")
    np.testing.assert_allclose(ys, np.stack(xs), rtol=1e-14)
    dL = np.zeros((K + 1, 3))
    dL[-1] = xs[-1] - target
    g = pullback(dL)
    np.testing.assert_allclose(g.y0, g_x, rtol=1e-13)
    expected = np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2])
    np.testing.assert_allclose(g.params, expected, rtol=1e-12, atol=1e-15)


def test_spiral_adjoint_and_backprop_agree_within_torchdiffeq_thresholds():
    """The classic 2→50→2 network on y³: the two modes agree as torchdiffeq's tests demand
    (|Δ dL/dy0| < 3e-4, |Δ dL/dt| < 1e-4, |Δ dL/dθ| < 2e-3), at default tolerances."""
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 50), nde.nets.Tanh(),
                              nde.nets.Linear(50, 2))
    theta = net.init(seed=0)
    y0 = np.array([[2.0, 0.0], [0.5, -1.0]])
    t = np.linspace(0, 2, 10)
    weights = np.random.default_rng(0).normal(size=(10, 2, 2))
    grads = {}
    for mode in ("adjoint", "backprop"):
        _, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=mode)
        grads[mode] = pullback(weights)
    a, b = grads["adjoint"], grads["backprop"]
    assert np.abs(a.y0 - b.y0).max() < 3e-4
    assert np.abs(a.t - b.t).max() < 1e-4
    assert np.abs(a.params - b.params).max() < 2e-3


def test_backprop_memory_grows_with_the_number_of_steps(spiral_net):
    net, theta = spiral_net
    stored = []
    for t_final in (5.0, 25.0, 100.0):
        ys, pullback = nde.odeint_vjp(net, [2.0, 0.0], [0.0, t_final], params=theta,
                                      gradient="backprop")
        stored.append(pullback(np.ones_like(ys)).stats.stored_floats)
    assert stored[0] < stored[1] < stored[2]


def test_backprop_batch_is_thread_independent():
    net = nde.nets.MLP(2, hidden=[8], activation="tanh")
    theta = net.init(seed=1)
    rng = np.random.default_rng(3)
    y0, t = rng.normal(size=(33, 2)), np.linspace(0, 1, 4)
    weights = rng.normal(size=(4, 33, 2))
    grads = [nde.odeint_vjp(net, y0, t, params=theta, gradient="backprop",
                            num_threads=n)[1](weights) for n in (1, 2)]
    assert np.array_equal(grads[0].params, grads[1].params)
    assert np.array_equal(grads[0].y0, grads[1].y0)


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_every_mode_differentiates_python_dynamics(gradient):
    """Lotka–Volterra written in Python (its own f and vjp), against finite differences."""
    from test_dynamics import PARAMS, LotkaVolterra
    lv = LotkaVolterra()
    y0, t = np.array([[1.0, 1.2], [0.7, 1.5]]), np.array([0.0, 0.5, 1.0])
    weights = np.random.default_rng(1).normal(size=(3, 2, 2))
    _assert_matches_finite_differences(lv, y0, t, PARAMS, weights, gradient, rtol=1e-10,
                                       atol=1e-12)


def test_lane_groups_of_samples_with_their_own_grids_match_finite_differences():
    """Networks go back through lane groups of samples at once: here 40 samples, each with
    its own time grid (a different number of fixed rk4 steps, so lanes end and take new
    samples at different points; outputs inside steps use rk4's Hermite end slope, a VJP
    of its own). The batch's gradients are the discrete solution's (central differences),
    and each sample's dL/dy0 is what it gets alone, bit for bit."""
    net = nde.nets.MLP(2, hidden=[5], activation="tanh", time_input=True)
    theta = net.init(seed=5)
    rng = np.random.default_rng(11)
    batch = 40
    y0 = rng.normal(size=(batch, 2))
    t_end = rng.uniform(0.4, 1.6, size=batch)
    t = np.stack([np.linspace(0.0, end, 4) for end in t_end])
    weights = rng.normal(size=(4, batch, 2))
    kwargs = {"method": "rk4", "step_size": 0.13}
    _, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient="backprop", **kwargs)
    g = pullback(weights)
    fd_y0, fd_theta, _ = _loss_and_fd(net, y0, t, theta, weights, **kwargs)
    np.testing.assert_allclose(g.y0, fd_y0, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g.params, fd_theta, rtol=1e-6, atol=1e-8)
    for b in (0, 17, 39):
        _, alone = nde.odeint_vjp(net, y0[b], t[b], params=theta, gradient="backprop", **kwargs)
        np.testing.assert_array_equal(alone(weights[:, b]).y0, g.y0[b])
