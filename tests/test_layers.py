"""Every layer kind on its own: the Python registry against the C++ list, forward-mode JVPs
and VJPs against central differences, and the two kinds added as self-describing units,
SiLU and FFJORD's ConcatSquashLinear (forward, views, gradients through odeint_vjp in all
three modes, save/load)."""
import ast
import pathlib
import pickle
import warnings

import numpy as np
import pytest
from scipy.special import expit

import neuralode as nde
from neuralode import _core, _layers, nets
from finite_differences import central_differences

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def _relu():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return nets.ReLU()


def _kind_networks():
    """One small network per layer kind, the kind between Linears (so that its input varies
    with y and θ), inputs kept where the kind is smooth."""
    around = {
        "linear": [nets.Linear(5, 5)],
        "tanh": [nets.Tanh()], "sigmoid": [nets.Sigmoid()], "softplus": [nets.Softplus()],
        "elu": [nets.ELU()], "sin": [nets.Sin()], "identity": [nets.Identity()],
        "silu": [nets.SiLU()], "relu": [_relu()],
        "power": [nets.Softplus(), nets.Power(2.5), nets.Power(3), nets.Power(2)],
        "concat_time": [nets.ConcatTime(), nets.Linear(6, 5), nets.Tanh()],
        "concat_squash_linear": [nets.ConcatSquashLinear(5, 4), nets.Tanh(),
                                 nets.ConcatSquashLinear(4, 5)],
    }
    assert set(around) == set(_layers.LAYERS)
    for kind, middle in around.items():
        yield kind, nets.Sequential(nets.Linear(3, 5), *middle, nets.Linear(5, 3))


KIND_NETWORKS = list(_kind_networks())


def _point(net, seed=4):
    rng = np.random.default_rng(seed)
    return (0.7, rng.uniform(0.3, 1.2, 3) * np.array([1, -1, 1]), net.init(seed=2),
            rng.normal(size=3), rng.normal(size=3))


def test_the_python_registry_and_the_cpp_list_hold_the_same_kinds():
    assert sorted(_core._layer_kinds()) == sorted(_layers.LAYERS)
    for kind, cls in _layers.LAYERS.items():
        assert cls.kind == kind and issubclass(cls, nets.Layer)
        assert cls.__name__ in nets.__all__


def test_io_imports_no_model_module():
    """io.py once imported models.py, which imported classifiers.py, which imported io.py:
    models register themselves with io instead."""
    source = (pathlib.Path(nde.io.__file__)).read_text()
    imported = {alias.name for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert not imported & {"models", "classifiers"}
    assert set(nde.io._MODELS) == {"NeuralODE", "ODENetClassifier", "ResNetClassifier"}


@pytest.mark.parametrize("kind,net", KIND_NETWORKS, ids=[kind for kind, _ in KIND_NETWORKS])
def test_vjp_matches_finite_differences(kind, net):
    t, y, theta, a, _ = _point(net)
    a_y, a_theta, a_t = net.vjp(t, y, theta, a)
    fd_y = central_differences(lambda v: a @ net(t, v, theta), y)
    fd_theta = central_differences(lambda v: a @ net(t, y, v), theta)
    fd_t = central_differences(lambda v: a @ net(v[0], y, theta), np.array([t]))[0]
    np.testing.assert_allclose(a_y, fd_y, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a_theta, fd_theta, rtol=1e-6, atol=1e-9)
    assert a_t == pytest.approx(fd_t, rel=1e-6, abs=1e-9)
    if kind in ("concat_time", "concat_squash_linear"):
        assert abs(fd_t) > 1e-3
    else:
        assert a_t == 0


def _directional(net, t, y, theta, v, h=1e-6):
    """(f(y + h v) - f(y - h v)) / 2h."""
    return (net(t, y + h * v, theta) - net(t, y - h * v, theta)) / (2 * h)


@pytest.mark.parametrize("kind,net", KIND_NETWORKS, ids=[kind for kind, _ in KIND_NETWORKS])
def test_jvp_matches_finite_differences_and_the_vjp(kind, net):
    t, y, theta, a, v = _point(net)
    core = net.core(3)

    def jvp(direction):
        return core._jvp(np.array([t]), y[None], theta, direction[None])
    f, jv = jvp(v)
    assert np.array_equal(f[0], net(t, y, theta))  # the forward pass, bit for bit
    np.testing.assert_allclose(jv[0], _directional(net, t, y, theta, v), rtol=1e-6, atol=1e-9)
    jacobian = np.stack([jvp(e)[1][0] for e in np.eye(3)], axis=1)
    fd_jacobian = np.stack([_directional(net, t, y, theta, e) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(jacobian, fd_jacobian, rtol=1e-6, atol=1e-9)
    # Forward and reverse mode are two hand-written derivatives of one map: aᵀ(J v) = (Jᵀa)ᵀv.
    a_y = net.vjp(t, y, theta, a)[0]
    assert a @ jv[0] == pytest.approx(a_y @ v, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("kind,net", KIND_NETWORKS, ids=[kind for kind, _ in KIND_NETWORKS])
def test_jvp_of_a_sample_does_not_depend_on_its_batch(kind, net):
    rng = np.random.default_rng(1)
    theta = net.init(seed=3)
    t, y, v = rng.normal(size=11), rng.uniform(0.3, 1.2, (11, 3)), rng.normal(size=(11, 3))
    f, jv = net.core(3)._jvp(t, y, theta, v)  # 8 lanes side by side, then 3 alone
    for b in range(11):
        f_b, jv_b = net.core(3)._jvp(t[b:b + 1], y[b:b + 1], theta, v[b:b + 1])
        assert np.array_equal(f_b[0], f[b]) and np.array_equal(jv_b[0], jv[b])
    assert np.array_equal(f, net(t, y, theta))


@pytest.mark.parametrize("kind,net", KIND_NETWORKS, ids=[kind for kind, _ in KIND_NETWORKS])
def test_every_kind_is_rebuilt_from_its_spec_and_pickle(kind, net):
    theta = net.init(seed=0)
    for again in (nets.network_from_spec(net.spec()), pickle.loads(pickle.dumps(net))):
        assert again.spec() == net.spec() and repr(again) == repr(net)
        assert np.array_equal(again(0.3, np.ones(3), theta), net(0.3, np.ones(3), theta))


def test_the_core_refuses_unknown_kinds_and_widths_a_kind_cannot_have():
    with pytest.raises(ValueError, match="unknown layer kind 'warp'"):
        _core.Network([("warp", 2, 2, 0, 0.0)], 2, 0)
    with pytest.raises(ValueError, match=r"layer 0 \(tanh\) cannot map 2 inputs to 3 outputs"):
        _core.Network([("tanh", 2, 3, 0, 0.0), ("linear", 3, 2, 0, 0.0)], 2, 8)
    with pytest.raises(ValueError, match="bad parameter offset"):
        _core.Network([("concat_squash_linear", 2, 2, 1, 0.0)], 2, 12)


def test_silu_matches_numpy_and_is_stable_at_extremes():
    x = np.array([[-800.0, -40.0, -1.5, 0.0, 0.3, 40.0, 800.0]])
    out = nets.Sequential(nets.SiLU())(0.0, x, np.zeros(0))
    np.testing.assert_allclose(out, x * expit(x), rtol=1e-15, atol=0)
    assert out[0, -1] == 800.0 and out[0, 0] == 0.0
    assert nets.MLP(2, hidden=[4], activation="silu").layers[1].kind == "silu"


def _concat_squash_reference(views, prefix, t, x):
    gate = 1 / (1 + np.exp(-(views[prefix + "hyper_gate.weight"][:, 0] * t +
                             views[prefix + "hyper_gate.bias"])))
    return ((views[prefix + "weight"] @ x + views[prefix + "bias"]) * gate +
            views[prefix + "hyper_bias.weight"][:, 0] * t)


def test_concat_squash_linear_layout_views_and_forward():
    layer = nets.ConcatSquashLinear(2, 3)
    net = nets.Sequential(layer, nets.Tanh(), nets.Linear(3, 2))
    assert layer.num_params() == 3 * 2 + 3 + 3 * 3 and net.num_params == 18 + 8
    theta = np.arange(net.num_params, dtype=float)
    views = net.unflatten(theta)
    assert list(views) == ["0.weight", "0.bias", "0.hyper_bias.weight", "0.hyper_gate.weight",
                           "0.hyper_gate.bias", "2.weight", "2.bias"]
    np.testing.assert_array_equal(views["0.weight"], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(views["0.bias"], [6, 7, 8])
    np.testing.assert_array_equal(views["0.hyper_bias.weight"], [[9], [10], [11]])
    np.testing.assert_array_equal(views["0.hyper_gate.weight"], [[12], [13], [14]])
    np.testing.assert_array_equal(views["0.hyper_gate.bias"], [15, 16, 17])
    views["0.hyper_gate.bias"][:] = -1  # views write through to θ
    assert theta[17] == -1

    theta = net.init(seed=0)
    views = net.unflatten(theta)
    assert np.abs(views["0.weight"]).max() <= 1 / np.sqrt(2)
    assert np.abs(theta[9:18]).max() <= 1 and np.abs(theta[9:18]).max() > 0.5
    rng = np.random.default_rng(0)
    y, t = rng.normal(size=(5, 2)), rng.normal(size=5)
    ref = np.stack([views["2.weight"] @ np.tanh(_concat_squash_reference(views, "0.", t[b], y[b]))
                    + views["2.bias"] for b in range(5)])
    np.testing.assert_allclose(net(t, y, theta), ref, rtol=1e-13, atol=1e-14)
    assert repr(layer) == "ConcatSquashLinear(2, 3)"
    assert nets.Sequential(nets.ConcatTime(), nets.ConcatSquashLinear(3, 2)).dim == 2


def test_concat_squash_linear_errors():
    with pytest.raises(ValueError, match="`out_features`"):
        nets.ConcatSquashLinear(2, 0)
    with pytest.raises(ValueError, match="expects 3"):
        nets.Sequential(nets.Linear(2, 2), nets.ConcatSquashLinear(3, 2))


def _squash_net():
    return nets.Sequential(nets.ConcatSquashLinear(2, 6), nets.SiLU(),
                           nets.ConcatSquashLinear(6, 2))


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_gradients_through_odeint_vjp_match_finite_differences(gradient):
    net = _squash_net()
    theta = net.init(seed=5) * 0.7
    rng = np.random.default_rng(2)
    y0, t = rng.normal(size=2), np.array([0.0, 0.4, 1.1, 1.5])
    weights = rng.normal(size=(4, 2))
    _, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient, **TIGHT)
    g = pullback(weights)

    def loss(y0_, t_, theta_):
        return np.sum(weights * nde.odeint(net, y0_, t_, params=theta_, **TIGHT))
    h = 1e-5
    np.testing.assert_allclose(g.y0, central_differences(lambda v: loss(v, t, theta), y0, h),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.params, central_differences(lambda v: loss(y0, t, v), theta, h),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g.t, central_differences(lambda v: loss(y0, v, theta), t, h),
                               rtol=1e-6, atol=1e-7)


def test_save_load_and_pickle_round_trip(tmp_path):
    net = _squash_net()
    model = nde.NeuralODE(net, params=net.init(seed=1), rtol=1e-8, atol=1e-10)
    path = tmp_path / "squash.npz"
    model.save(path)
    loaded = nde.load(path)
    assert [layer.spec() for layer in loaded.net.layers] == net.spec()
    assert repr(loaded.net) == repr(net)
    assert np.array_equal(loaded.params, model.params)
    y0, t = np.array([0.3, -0.8]), np.linspace(0, 1, 5)
    assert np.array_equal(loaded.predict(y0, t), model.predict(y0, t))
    again = pickle.loads(pickle.dumps(net))
    assert again.spec() == net.spec() and again.num_params == net.num_params
