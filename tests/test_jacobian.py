"""Exact dense Jacobians ∂f/∂y of networks (forward mode, into Eigen matrices): against
central differences, and consistent with the VJP (aᵀJ) and the JVP (J v)."""
import numpy as np
import pytest

import neuralode as nde
from neuralode import nets

NETWORKS = {
    "mlp-tanh-time": nets.MLP(3, hidden=[16, 16], activation="tanh", time_input=True),
    "silu-concat-squash": nets.Sequential(nets.ConcatSquashLinear(3, 12), nets.SiLU(),
                                          nets.ConcatSquashLinear(12, 3)),
    "wide-state": nets.Sequential(nets.Power(3), nets.Linear(11, 20), nets.Softplus(),
                                  nets.Linear(20, 11)),  # 11 columns: two lane passes
}


def _point(net, batch, seed=0):
    rng = np.random.default_rng(seed)
    dim = net.dim
    return rng.uniform(0, 1, size=batch), rng.normal(size=(batch, dim)) * 0.7


@pytest.mark.parametrize("name", NETWORKS)
def test_the_jacobian_matches_central_differences(name):
    net = NETWORKS[name]
    theta = net.init(seed=1)
    t, y = _point(net, 5)
    jac = net.jacobian(t, y, theta)
    assert jac.shape == (5, net.dim, net.dim)
    eps = 1e-6
    for j in range(net.dim):
        e = np.zeros(net.dim)
        e[j] = eps
        column = (net(t, y + e, theta) - net(t, y - e, theta)) / (2 * eps)
        np.testing.assert_allclose(jac[:, :, j], column, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_jacobian_agrees_with_the_vjp_and_the_jvp(name):
    net = NETWORKS[name]
    theta = net.init(seed=2)
    t, y = _point(net, 9, seed=3)
    a = np.random.default_rng(4).normal(size=y.shape)
    jac = net.jacobian(t, y, theta)
    a_y, _, _ = net.vjp(t, y, theta, a)
    np.testing.assert_allclose(np.einsum("bi,bij->bj", a, jac), a_y, rtol=1e-12, atol=1e-13)
    _, jv = net.core(net.dim)._jvp(t, y, theta, a)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", jac, a), jv, rtol=1e-12, atol=1e-13)


def test_one_sample_and_rows_and_threads_give_the_same_bits():
    net = NETWORKS["mlp-tanh-time"]
    theta = net.init(seed=5)
    t, y = _point(net, 12)
    rows = net.jacobian(t, y, theta)
    np.testing.assert_array_equal(net.jacobian(t[3], y[3], theta), rows[3])
    core = net.core(net.dim)
    for threads in (1, 2):
        np.testing.assert_array_equal(core.jacobian(t, y, theta, threads), rows)


def test_linear_dynamics_have_their_matrix_as_jacobian():
    net = nets.Sequential(nets.Linear(4, 4))
    theta = net.init(seed=6)
    W = net.unflatten(theta)["0.weight"]
    np.testing.assert_array_equal(net.jacobian(0.0, np.ones(4), theta), W)


def test_jacobian_errors_name_the_argument():
    net = NETWORKS["mlp-tanh-time"]
    theta = net.init(seed=0)
    with pytest.raises(ValueError, match="`y` has 2 components but the network takes states of 3"):
        net.jacobian(0.0, np.zeros(2), theta)
    with pytest.raises(ValueError, match="`theta` contains NaN or inf"):
        net.jacobian(0.0, np.zeros(3), np.full_like(theta, np.nan))
    with pytest.raises(ValueError, match=r"`y` must have shape \(D,\) or \(B, D\)"):
        net.jacobian(0.0, np.zeros((1, 1, 3)), theta)
    with pytest.raises(ValueError, match="`t` must be a scalar or hold one time per row"):
        net.jacobian(np.zeros(4), np.zeros((2, 3)), theta)


def test_the_core_jacobian_refuses_arrays_that_do_not_fit():
    """The private binding is reached through the checks above; handed raw arrays of the
    wrong shape, it raises rather than reading past them."""
    net = NETWORKS["mlp-tanh-time"]
    theta, core = net.init(seed=0), net.core(3)
    for t, y, th in [(np.zeros(2), np.zeros(3), theta), (np.zeros(1), np.zeros((2, 3)), theta),
                     (np.zeros(2), np.zeros((2, 3)), theta[:-1])]:
        with pytest.raises(ValueError, match="jacobian takes t"):
            core.jacobian(t, y, th)
