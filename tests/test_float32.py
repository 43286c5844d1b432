"""float32 end to end: float32 inputs solve in float32 (times in float64) and agree with
float64 to the tolerance asked; gradients in every mode agree with float64 gradients; results
do not depend on the thread count or the batch; dtype promotion and the float32 rtol floor."""
import numpy as np
import pytest

import neuralode as nde
from neuralode import nets

F32 = np.float32
T = np.linspace(0.0, 1.0, 6)


@pytest.fixture(scope="module")
def net_theta():
    net = nets.MLP(2, hidden=[32], activation="tanh", time_input=True)
    return net, net.init(3)


def _y0(batch, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, 2))


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
def test_float32_linear_ode_meets_its_tolerance(method):
    # dy/dt = A y with A = [[-0.5, 2], [-2, -0.5]]: y(t) = e^{-t/2} R(2t) y0 exactly.
    A = np.array([[-0.5, 2.0], [-2.0, -0.5]])
    net = nets.Sequential(nets.Linear(2, 2))
    theta = np.concatenate([A.ravel(), np.zeros(2)]).astype(F32)
    y0 = _y0(5).astype(F32)
    t = np.linspace(0.0, 2.0, 9)
    kwargs = {"rtol": 1e-5, "atol": 1e-7} if method != "rk4" else {"step_size": 1e-2}
    ys = nde.odeint(net, y0, t, params=theta, method=method, **kwargs)
    assert ys.dtype == F32
    c, s = np.cos(2 * t), np.sin(2 * t)
    rotation = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # (T, 2, 2)
    exact = np.exp(-t / 2)[:, None, None] * np.einsum("tij,bj->tbi", rotation,
                                                        y0.astype(np.float64))
    # The float32 A differs from A by < 6e-8 relative: far inside the tolerance.
    assert np.abs(ys - exact).max() < 2e-4


def test_float32_agrees_with_float64_to_the_tolerance(net_theta):
    net, theta = net_theta
    y0 = _y0(40)
    y64 = nde.odeint(net, y0, T, params=theta, rtol=1e-10, atol=1e-12)
    y32 = nde.odeint(net, y0.astype(F32), T, params=theta.astype(F32), rtol=1e-5, atol=1e-7)
    assert y32.dtype == F32 and y32.shape == y64.shape
    assert np.abs(y32 - y64).max() < 1e-4  # rtol 1e-5 on states of size ~1, over 5 outputs


def test_dtype_follows_numpy_promotion_and_can_be_forced(net_theta):
    net, theta = net_theta
    y0 = _y0(3)
    assert nde.odeint(net, y0.astype(F32), T, params=theta.astype(F32)).dtype == F32
    # Mixed: float32 with float64 promotes to float64, as numpy does.
    assert nde.odeint(net, y0.astype(F32), T, params=theta).dtype == np.float64
    assert nde.odeint(net, y0, T, params=theta.astype(F32)).dtype == np.float64
    assert nde.odeint(net, y0, T, params=theta, dtype=F32).dtype == F32
    assert nde.odeint(net, y0.astype(F32), T, params=theta.astype(F32),
                      dtype=np.float64).dtype == np.float64
    # A plain callable has no params: y0 decides.
    assert nde.odeint(lambda t, y: -y, np.ones(2, F32), T).dtype == F32
    assert nde.odeint(lambda t, y: -y, [1.0, 2.0], T).dtype == np.float64


@pytest.mark.parametrize("dtype, error", [("float16", ValueError), (np.int32, ValueError),
                                          ("complex64", ValueError), (object(), TypeError)])
def test_a_dtype_other_than_float32_or_float64_is_refused(net_theta, dtype, error):
    net, theta = net_theta
    with pytest.raises(error, match="`dtype`"):
        nde.odeint(net, _y0(2), T, params=theta, dtype=dtype)


def test_float32_refuses_an_rtol_it_cannot_honour(net_theta):
    net, theta = net_theta
    y0, th = _y0(2).astype(F32), theta.astype(F32)
    with pytest.raises(ValueError, match="`rtol` = 1e-07 is below what float32"):
        nde.odeint(net, y0, T, params=th, rtol=1e-7)
    with pytest.raises(ValueError, match="`adjoint_rtol`"):
        nde.odeint_vjp(net, y0, T, params=th, rtol=1e-5, adjoint_rtol=1e-8)
    with pytest.raises(ValueError, match="`rtol`"):
        nde.NeuralODE(net, dtype=F32, rtol=1e-9)
    # The defaults of float32 are ones it honours; float64 keeps its own.
    assert nde.odeint(net, y0, T, params=th).dtype == F32
    assert nde.odeint(net, _y0(2), T, params=theta, rtol=1e-12, atol=1e-14).dtype == np.float64


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
def test_float32_gradients_agree_with_float64(net_theta, gradient):
    net, theta = net_theta
    y0 = _y0(6, seed=1)
    weights = np.random.default_rng(2).standard_normal((T.size, 6, 2))
    ys64, pull64 = nde.odeint_vjp(net, y0, T, params=theta, gradient=gradient, rtol=1e-10,
                                  atol=1e-12)
    g64 = pull64(weights)
    ys32, pull32 = nde.odeint_vjp(net, y0.astype(F32), T, params=theta.astype(F32),
                                  gradient=gradient, rtol=1e-5, atol=1e-7)
    g32 = pull32(weights.astype(F32))
    assert ys32.dtype == g32.y0.dtype == g32.params.dtype == F32
    assert g32.t.dtype == np.float64  # like t
    # The stated bound: gradients within 1e-3 of float64's, relative to their largest entry
    # (solver error at rtol 1e-5 plus float32 rounding through ~50 evaluations).
    for mine, reference in ((g32.y0, g64.y0), (g32.params, g64.params), (g32.t, g64.t)):
        assert np.abs(mine - reference).max() <= 1e-3 * np.abs(reference).max()


@pytest.mark.parametrize("gradient", [None, "adjoint", "interpolated", "backprop"])
def test_float32_results_do_not_depend_on_threads_or_the_batch(net_theta, gradient):
    net, theta = net_theta
    y0, th = _y0(37, seed=4).astype(F32), theta.astype(F32)

    def run(y, threads):
        if gradient is None:
            return [nde.odeint(net, y, T, params=th, num_threads=threads)]
        ys, pull = nde.odeint_vjp(net, y, T, params=th, gradient=gradient,
                                  num_threads=threads)
        g = pull(np.ones_like(ys))
        return [ys, g.y0, g.params]

    one = run(y0, 1)
    for threads in (2, 3):
        for a, b in zip(one, run(y0, threads)):
            assert a.tobytes() == b.tobytes()
    alone = run(y0[5:6], 1)
    assert alone[0][:, 0].tobytes() == one[0][:, 5].tobytes()


class Decay(nde.Dynamics):
    num_params = 1

    def f(self, t, y, params):
        assert y.dtype == F32 and params.dtype == F32
        return -params[0] * y

    def vjp(self, t, y, params, a):
        return -params[0] * a, np.array([-(a * y).sum()]), 0.0


def test_float32_dynamics_and_batched_callables():
    k, y0 = np.array([0.7], F32), np.array([1.0, -2.0], F32)
    t = np.linspace(0.0, 1.0, 5)
    ys = nde.odeint(Decay(), y0, t, params=k, rtol=1e-6, atol=1e-8)
    exact = np.exp(-0.7 * t)[:, None] * y0
    assert ys.dtype == F32 and np.abs(ys - exact).max() < 1e-5
    _, pull = nde.odeint_vjp(Decay(), y0, t, params=k, rtol=1e-6, atol=1e-8)
    last = np.zeros((5, 2), F32)
    last[-1] = 1  # L = sum y(1): dL/dk = -t e^{-kt} sum(y0) at t = 1
    g = pull(last)
    assert g.params.dtype == F32
    assert abs(g.params[0] - (-np.exp(-0.7) * y0.sum())) < 1e-4

    calls = []

    @nde.batched
    def f(t, y):
        calls.append(y.dtype)
        return -0.7 * y

    batch = np.tile(y0, (50, 1))
    ys_batched = nde.odeint(f, batch, t, rtol=1e-6, atol=1e-8)
    assert ys_batched.dtype == F32 and set(calls) == {np.dtype(F32)}
    assert np.abs(ys_batched - exact[:, None, :]).max() < 1e-5


def test_float32_network_evaluation_and_dense_output(net_theta):
    net, theta = net_theta
    y = _y0(9)
    f64 = net(0.3, y, theta)
    f32 = net(0.3, y.astype(F32), theta.astype(F32))
    assert f32.dtype == F32 and np.abs(f32 - f64).max() < 1e-5
    a_y, a_theta, a_t = net.vjp(0.3, y.astype(F32), theta.astype(F32), np.ones((9, 2), F32))
    assert a_y.dtype == a_theta.dtype == F32
    jac = net.jacobian(0.3, y[0].astype(F32), theta.astype(F32))
    assert jac.dtype == F32
    assert np.abs(jac - net.jacobian(0.3, y[0], theta)).max() < 1e-5
    sol = nde.solve(net, y.astype(F32), T, params=theta.astype(F32), dense=True)
    mid = sol.evaluate(T)
    assert mid.dtype == F32 and mid.tobytes() == sol.ys.tobytes()


def test_float32_model_fits_and_saves(tmp_path):
    t = np.linspace(0.0, 1.0, 8)
    y = np.exp(-t)[:, None] * np.array([1.0, -0.5])
    net = nets.MLP(2, hidden=[8])
    model = nde.NeuralODE(net, dtype=F32)
    assert model.params.dtype == F32 and (model.rtol, model.atol) == (1e-5, 1e-7)
    model.fit(t, y, iterations=20, batch_size=1, batch_time=8, progress=False)
    assert model.params.dtype == F32
    assert np.all(np.diff(model.history.loss[:2]) != 0)
    assert model.predict(y[0], t).dtype == F32
    model.save(tmp_path / "m.npz")
    loaded = nde.load(tmp_path / "m.npz")
    assert loaded.dtype == F32 and loaded.params.tobytes() == model.params.tobytes()
    assert loaded.predict(y[0], t).tobytes() == model.predict(y[0], t).tobytes()


@pytest.mark.parametrize("cls", [nde.ODENetClassifier, nde.ResNetClassifier])
def test_float32_classifiers_learn_and_save(cls, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    fitted = {dtype: cls(max_iter=60, dtype=dtype).fit(X, labels)
              for dtype in ("float64", "float32")}
    # The same training in either type: float32 rounding moves the scores by little.
    assert fitted["float32"].score(X, labels) > 0.8
    assert abs(fitted["float32"].score(X, labels) - fitted["float64"].score(X, labels)) < 0.05
    fitted["float32"].save(tmp_path / "c.npz")
    loaded = nde.load(tmp_path / "c.npz")
    assert loaded.dtype == "float32"
    assert np.array_equal(loaded.predict_proba(X), fitted["float32"].predict_proba(X))
    with pytest.raises(ValueError, match="`dtype` must be float64 or float32"):
        cls(dtype="int8").fit(X, labels)
