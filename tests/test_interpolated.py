"""gradient="interpolated": the adjoint against the forward pass's stored dense output."""
import numpy as np
import pytest

import neuralode as nde
from test_adjoint import _loss_and_fd


def test_interpolated_adjoint_does_not_reconstruct_z_backwards():
    """y' = -k y + c t + b with k = 60 tracks a ramp; backwards in time z is violently unstable
    (perturbations grow like e^{60 Δt}), so the plain adjoint needs tiny steps to rebuild it.
    The interpolated adjoint reads z from the forward pass: as accurate (against finite
    differences) for less than half the backward work."""
    net = nde.nets.Sequential(nde.nets.ConcatTime(), nde.nets.Linear(2, 1))
    theta = np.array([-60.0, 3.0, 0.5])
    t, y0, weights = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0]), np.ones((4, 1))
    _, fd_theta, _ = _loss_and_fd(net, y0, t, theta, weights, rtol=1e-12, atol=1e-14)
    grads = {mode: nde.odeint_vjp(net, y0, t, params=theta, gradient=mode, rtol=1e-6,
                                  atol=1e-8)[1](weights) for mode in ("adjoint", "interpolated")}
    for g in grads.values():
        np.testing.assert_allclose(g.params, fd_theta, rtol=1e-5)
    assert grads["interpolated"].stats.nfe_backward < 0.5 * grads["adjoint"].stats.nfe_backward


def test_interpolated_memory_grows_with_the_number_of_steps(spiral_net):
    net, theta = spiral_net
    stored = []
    for t_final in (5.0, 25.0):
        ys, pullback = nde.odeint_vjp(net, [2.0, 0.0], [0.0, t_final], params=theta,
                                      gradient="interpolated")
        stored.append(pullback(np.ones_like(ys)).stats.stored_floats)
    assert stored[0] < stored[1]


def test_interpolated_batch_matches_samples_alone_and_threads():
    net = nde.nets.MLP(2, hidden=[8], activation="tanh", time_input=True)
    theta = net.init(seed=4)
    rng = np.random.default_rng(5)
    y0, t = rng.normal(size=(24, 2)), np.linspace(0, 1.5, 6)
    weights = rng.normal(size=(6, 24, 2))
    runs = [nde.odeint_vjp(net, y0, t, params=theta, gradient="interpolated",
                           num_threads=n)[1](weights) for n in (1, 2)]
    assert np.array_equal(runs[0].params, runs[1].params)
    for b in (0, 13, 23):
        alone = nde.odeint_vjp(net, y0[b], t, params=theta,
                               gradient="interpolated")[1](weights[:, b])
        assert np.array_equal(alone.y0, runs[0].y0[b])


def test_every_mode_handles_per_sample_time_grids():
    net = nde.nets.MLP(2, hidden=[6], activation="tanh", time_input=True)
    theta = net.init(seed=6)
    rng = np.random.default_rng(8)
    y0 = rng.normal(size=(3, 2))
    grids = np.sort(rng.uniform(0, 2, size=(3, 5)), axis=1)
    grids[1] = grids[1][::-1]  # one sample backwards in time
    weights = rng.normal(size=(5, 3, 2))
    for mode in nde.GRADIENT_MODES:
        _, pullback = nde.odeint_vjp(net, y0, grids, params=theta, gradient=mode, rtol=1e-9,
                                     atol=1e-11)
        g = pullback(weights)
        assert g.t.shape == (3, 5)
        for b in range(3):
            alone = nde.odeint_vjp(net, y0[b], grids[b], params=theta, gradient=mode, rtol=1e-9,
                                   atol=1e-11)[1](weights[:, b])
            np.testing.assert_allclose(g.y0[b], alone.y0, rtol=1e-12)
            np.testing.assert_allclose(g.t[b], alone.t, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method,step_size", [("rk4", 0.01), ("midpoint", 0.002)])
def test_every_mode_with_fixed_steps(method, step_size):
    """With a fixed-step method the backward passes step by the same step_size; all three
    modes then agree to the method's accuracy."""
    net = nde.nets.MLP(2, hidden=[5], activation="tanh", time_input=True)
    theta = net.init(seed=3)
    rng = np.random.default_rng(7)
    y0, weights = rng.normal(size=2), rng.normal(size=(5, 2))
    t = np.array([0.0, 0.33, 0.7, 1.2, 1.5])
    grads = {mode: nde.odeint_vjp(net, y0, t, params=theta, gradient=mode, method=method,
                                  step_size=step_size)[1](weights)
             for mode in nde.GRADIENT_MODES}
    scale = np.abs(grads["backprop"].params).max()
    for mode in ("adjoint", "interpolated"):
        assert np.abs(grads[mode].params - grads["backprop"].params).max() < 1e-5 * scale
        np.testing.assert_allclose(grads[mode].y0, grads["backprop"].y0, rtol=1e-5)


def test_time_gradients_of_lanes_that_jump_together_match_samples_alone():
    """dL/dt_i comes from the f that the backward pass evaluates at t_i, for 8 lanes at once
    or one alone; both must give each sample's own dL/dt, as an independent evaluation of
    dL/dy(t_i)·f(t_i, y_i) (backprop mode) does."""
    net = nde.nets.MLP(2, hidden=[8], activation="tanh", time_input=True)
    theta = net.init(seed=9)
    rng = np.random.default_rng(11)
    y0 = rng.normal(size=(16, 2))
    grids = np.tile(np.linspace(0.0, 1.2, 6), (16, 1)) + rng.uniform(0, 0.05, size=(16, 1))
    weights = rng.normal(size=(6, 16, 2))
    kw = dict(params=theta, rtol=1e-10, atol=1e-12)
    exact = nde.odeint_vjp(net, y0, grids, gradient="backprop", **kw)[1](weights).t
    for mode in ("adjoint", "interpolated"):
        g = nde.odeint_vjp(net, y0, grids, gradient=mode, num_threads=1, **kw)[1](weights)
        np.testing.assert_allclose(g.t[:, 1:], exact[:, 1:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g.t[:, 0], exact[:, 0], rtol=1e-6, atol=1e-9)
        for b in (0, 7, 15):
            alone = nde.odeint_vjp(net, y0[b], grids[b], gradient=mode, **kw)[1](weights[:, b])
            assert np.array_equal(alone.t, g.t[b])
