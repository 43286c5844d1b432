"""Networks evaluated in C++ against the same layers written in numpy."""
import warnings

import numpy as np
import pytest

import neuralode as nde
from neuralode import _layers, nets

NUMPY_ACTIVATIONS = {
    nets.Tanh: np.tanh,
    nets.Sigmoid: lambda x: 1 / (1 + np.exp(-x)),
    nets.Softplus: lambda x: np.log1p(np.exp(x)),
    nets.ELU: lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    nets.Sin: np.sin,
    nets.Identity: lambda x: x,
    nets.SiLU: lambda x: x / (1 + np.exp(-x)),
}


def numpy_forward(net, t, y, theta):
    """Reference evaluation for one sample, layer by layer."""
    views = net.unflatten(theta)
    x = y
    for i, layer in enumerate(net.layers):
        if isinstance(layer, nets.Linear):
            x = views[f"{i}.weight"] @ x + views[f"{i}.bias"]
        elif isinstance(layer, nets.ConcatTime):
            x = np.append(x, t)
        elif isinstance(layer, nets.Power):
            x = x ** layer.p
        elif isinstance(layer, nets.ReLU):
            x = np.maximum(x, 0)
        else:
            x = NUMPY_ACTIVATIONS[type(layer)](x)
    return x


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "elu", "sin", "identity",
                                        "silu"])
@pytest.mark.parametrize("time_input", [False, True])
def test_mlp_matches_numpy(activation, time_input):
    net = nets.MLP(3, hidden=[8, 5], activation=activation, time_input=time_input)
    theta = net.init(seed=1)
    y = np.random.default_rng(2).normal(size=(6, 3)) * 3
    t = np.linspace(-1, 1, 6)
    out = net(t, y, theta)
    ref = np.stack([numpy_forward(net, t[b], y[b], theta) for b in range(6)])
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)
    assert net(t[0], y[0], theta).shape == (3,)


def test_power_and_relu_layers():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net = nets.Sequential(nets.Power(3), nets.Linear(2, 4), nets.ReLU(), nets.Linear(4, 2),
                              nets.Softplus(), nets.Power(2.5))
    theta = net.init(seed=0)
    y = np.array([[0.7, -1.3], [2.0, 0.1]])
    ref = np.stack([numpy_forward(net, 0.0, row, theta) for row in y])
    np.testing.assert_allclose(net(0.0, y, theta), ref, rtol=1e-13)


def test_activations_are_stable_at_extremes():
    x = np.array([[-800.0, -40.0, 0.0, 40.0, 800.0]])
    for layer, expected in [(nets.Sigmoid(), [0, 1 / (1 + np.exp(40)), 0.5, 1 / (1 + np.exp(-40)), 1]),
                            (nets.Softplus(), [0, np.log1p(np.exp(-40)), np.log(2),
                                               40 + np.log1p(np.exp(-40)), 800]),
                            (nets.Tanh(), [-1, -1, 0, 1, 1])]:
        out = nets.Sequential(layer)(0.0, x, np.zeros(0))
        np.testing.assert_allclose(out[0], expected, rtol=1e-15)


def test_parameter_layout_matches_torch_linear():
    net = nets.Sequential(nets.Linear(2, 3), nets.Tanh(), nets.Linear(3, 2))
    assert net.num_params == 3 * 2 + 3 + 2 * 3 + 2
    theta = np.arange(net.num_params, dtype=float)
    views = net.unflatten(theta)
    assert list(views) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    np.testing.assert_array_equal(views["0.weight"], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(views["0.bias"], [6, 7, 8])
    views["2.bias"][:] = -1  # views write through to θ
    assert theta[-1] == -1


def test_init_is_reproducible_and_fan_in_scaled():
    net = nets.MLP(2, hidden=[400], activation="tanh")
    a, b = net.init(seed=7), net.init(seed=7)
    assert np.array_equal(a, b) and not np.array_equal(a, net.init(seed=8))
    views = net.unflatten(a)
    assert np.abs(views["0.weight"]).max() <= 1 / np.sqrt(2)
    assert np.abs(views["2.weight"]).max() <= 1 / np.sqrt(400)
    assert np.abs(views["2.weight"]).max() > 0.9 / np.sqrt(400)


def test_mlp_time_input_puts_concat_time_before_every_linear():
    net = nets.MLP(2, hidden=[4], activation="elu", time_input=True)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["ConcatTime", "Linear", "ELU", "ConcatTime", "Linear"]
    assert net.layers[1].in_features == 3 and net.layers[4].in_features == 5


def test_relu_warns_once(monkeypatch):
    monkeypatch.setattr(_layers, "_relu_warned", False)
    with pytest.warns(RuntimeWarning, match="non-smooth"):
        nets.ReLU()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nets.ReLU()  # second time: silent


def test_network_errors():
    with pytest.raises(ValueError, match="as many outputs"):
        nets.Sequential(nets.Linear(2, 3))
    with pytest.raises(ValueError, match="expects 4"):
        nets.Sequential(nets.Linear(2, 3), nets.Linear(4, 2))
    with pytest.raises(TypeError, match="layer 1"):
        nets.Sequential(nets.Linear(2, 2), "tanh")
    with pytest.raises(ValueError, match="at least one layer"):
        nets.Sequential()
    with pytest.raises(ValueError, match="`activation`"):
        nets.MLP(2, activation="swish")
    with pytest.raises(ValueError, match="`in_features`"):
        nets.Linear(0, 2)
    with pytest.raises(TypeError, match="`p`"):
        nets.Power("3")
    net = nets.MLP(2, hidden=[4])
    with pytest.raises(ValueError, match=r"`theta` must have shape \(22,\)"):
        net(0.0, np.zeros(2), np.zeros(5))
    with pytest.raises(ValueError, match="`theta` contains NaN"):
        net(0.0, np.zeros(2), np.full(22, np.nan))
    with pytest.raises(ValueError, match="3 components"):
        net(0.0, np.zeros(3), net.init(0))


def test_tanh_is_accurate_to_a_few_ulp_over_the_whole_range():
    """The vectorized tanh (activations.hpp) against numpy's on a dense sweep, both signs,
    from subnormal to saturated arguments; ±0, ±inf and NaN handled like libm."""
    rng = np.random.default_rng(0)
    magnitudes = np.concatenate([10.0 ** rng.uniform(-310, 3, 400_000),
                                 [0.0, 5e-324, 0.625, 19.0, 20.0], rng.uniform(0, 25, 400_000)])
    x = np.concatenate([magnitudes, -magnitudes])
    x = x[:len(x) // 1001 * 1001].reshape(-1, 1001)  # odd rows: vector body and remainder
    out = nets.Sequential(nets.Tanh())(0.0, x, np.zeros(0))
    ref = np.tanh(x)
    ulp = np.abs(out - ref) / np.spacing(np.abs(ref).clip(np.finfo(float).tiny))
    assert ulp.max() <= 4, (ulp.max(), x.ravel()[np.argmax(ulp)])
    special = nets.Sequential(nets.Tanh())(0.0, np.array([[0.0, -0.0, np.inf, -np.inf, np.nan]]),
                                            np.zeros(0))[0]
    assert special[0] == 0 and not np.signbit(special[0]) and np.signbit(special[1])
    assert special[2] == 1 and special[3] == -1 and np.isnan(special[4])
