"""Hand-written VJPs of every layer against central finite differences, for y, θ and t."""
import warnings

import numpy as np
import pytest

from neuralode import nets


def finite_difference_vjp(net, t, y, theta, a, h=1e-6):
    """a·∂f/∂y, a·∂f/∂θ, a·∂f/∂t by central differences of the C++ forward."""
    def directional(fn, x):
        grad = np.empty_like(x)
        for i in range(x.size):
            e = np.zeros_like(x)
            e.flat[i] = h
            grad.flat[i] = a @ (fn(x + e) - fn(x - e)) / (2 * h)
        return grad
    a_y = directional(lambda v: net(t, v, theta), y)
    a_theta = directional(lambda v: net(t, y, v), theta)
    a_t = a @ (net(t + h, y, theta) - net(t - h, y, theta)) / (2 * h)
    return a_y, a_theta, a_t


def relative_error(x, ref):
    return np.linalg.norm(np.ravel(x - ref)) / max(np.linalg.norm(np.ravel(ref)), 1e-300)


def _networks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        relu = nets.ReLU()
    yield "mlp-tanh-time", nets.MLP(3, hidden=[7, 5], activation="tanh", time_input=True)
    for name in ["sigmoid", "softplus", "elu", "sin", "identity"]:
        yield f"mlp-{name}-time", nets.MLP(3, hidden=[6], activation=name, time_input=True)
    yield "relu", nets.Sequential(nets.Linear(3, 6), relu, nets.Linear(6, 3))
    yield "powers", nets.Sequential(nets.Power(3), nets.Linear(3, 4), nets.Softplus(),
                                    nets.Power(2.5), nets.Power(2), nets.ConcatTime(),
                                    nets.Linear(5, 3))


@pytest.mark.parametrize("name,net", list(_networks()), ids=lambda v: v if isinstance(v, str) else "")
def test_vjp_matches_finite_differences(name, net):
    rng = np.random.default_rng(4)
    theta = net.init(seed=2)
    # Away from ReLU's kink and Power(2.5)'s branch point, where differences are meaningful.
    y = rng.uniform(0.3, 1.2, 3) * np.array([1, -1, 1])
    a = rng.normal(size=3)
    t = 0.7
    a_y, a_theta, a_t = net.vjp(t, y, theta, a)
    fd_y, fd_theta, fd_t = finite_difference_vjp(net, t, y, theta, a)
    assert relative_error(a_y, fd_y) < 1e-6
    assert relative_error(a_theta, fd_theta) < 1e-6
    if "time" in name or name == "powers":
        assert abs(a_t - fd_t) < 1e-6 * max(abs(fd_t), 1) and fd_t != 0
    else:
        assert a_t == 0 and abs(fd_t) < 1e-9


def test_linear_vjp_is_the_transpose():
    """For f(y) = W y + b the VJP is exactly (Wᵀa, a⊗y then a, 0)."""
    net = nets.Sequential(nets.Linear(3, 3))
    theta = net.init(seed=0)
    W = net.unflatten(theta)["0.weight"]
    y, a = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -3.0])
    a_y, a_theta, a_t = net.vjp(0.0, y, theta, a)
    np.testing.assert_allclose(a_y, W.T @ a, rtol=1e-15)
    np.testing.assert_allclose(a_theta, np.concatenate([np.outer(a, y).ravel(), a]), rtol=1e-15)
    assert a_t == 0


def test_batched_vjp_is_per_sample():
    net = nets.MLP(2, hidden=[8], activation="tanh", time_input=True)
    theta = net.init(seed=1)
    rng = np.random.default_rng(0)
    y, a, t = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(size=5)
    a_y, a_theta, a_t = net.vjp(t, y, theta, a)
    assert a_y.shape == (5, 2) and a_theta.shape == (5, net.num_params) and a_t.shape == (5,)
    for b in range(5):
        one = net.vjp(t[b], y[b], theta, a[b])
        assert np.array_equal(one[0], a_y[b]) and np.array_equal(one[1], a_theta[b])
        assert one[2] == a_t[b]


def test_vjp_shape_errors():
    net = nets.MLP(2, hidden=[4])
    with pytest.raises(ValueError, match="`a` must have the shape of `y`"):
        net.vjp(0.0, np.zeros(2), net.init(0), np.zeros(3))


def test_worked_backpropagation_example_of_a_2_2_2_network():
    """z = W1 x + b1, h = σ(z), ŷ = W2 h + b2, L = ½|ŷ - y|²: the VJP with a = ŷ - y gives the
    closed-form chain rule dL/dW2 = a hᵀ, dL/db2 = a, dL/dW1 = δ xᵀ, dL/db1 = δ, dL/dx = W1ᵀδ
    with δ = (W2ᵀ a) ⊙ σ(z)(1 - σ(z))."""
    net = nets.Sequential(nets.Linear(2, 2), nets.Sigmoid(), nets.Linear(2, 2))
    W1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([0.35, 0.35])
    W2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([0.60, 0.60])
    theta = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    x, target = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    z = W1 @ x + b1
    h = 1 / (1 + np.exp(-z))
    y_hat = W2 @ h + b2
    np.testing.assert_allclose(net(0.0, x, theta), y_hat, rtol=1e-15)
    a = y_hat - target
    delta = (W2.T @ a) * h * (1 - h)
    a_x, a_theta, _ = net.vjp(0.0, x, theta, a)
    views = net.unflatten(a_theta)
    np.testing.assert_allclose(views["2.weight"], np.outer(a, h), rtol=1e-14)
    np.testing.assert_allclose(views["2.bias"], a, rtol=1e-14)
    np.testing.assert_allclose(views["0.weight"], np.outer(delta, x), rtol=1e-13)
    np.testing.assert_allclose(views["0.bias"], delta, rtol=1e-13)
    np.testing.assert_allclose(a_x, W1.T @ delta, rtol=1e-13)
