"""The adjoint method against exact gradients and finite differences."""
import numpy as np
import pytest
from scipy.linalg import expm, expm_frechet

import neuralode as nde
from finite_differences import central_differences
from test_dynamics import PARAMS, LotkaVolterra

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def test_linear_ode_against_the_frechet_derivative():
    """y' = A y, L = ½|y(T)|²: dL/dA from the Fréchet derivative of expm, dL/dy0 = e^{AᵀT} y(T),
    dL/dT = y(T)·A y(T), dL/dt0 = -y(T)·e^{AT} A y0."""
    rng = np.random.default_rng(0)
    D, T = 4, 1.3
    A = rng.normal(size=(D, D)) * 0.5
    net = nde.nets.Sequential(nde.nets.Linear(D, D))
    theta = np.concatenate([A.ravel(), np.zeros(D)])
    y0 = rng.normal(size=D)
    ys, pullback = nde.odeint_vjp(net, y0, [0.0, T], params=theta, **TIGHT)
    y_T = ys[-1]
    g = pullback(np.stack([np.zeros(D), y_T]))
    exact_A = np.array([[y_T @ expm_frechet(A * T, np.outer(np.eye(D)[k], np.eye(D)[m]) * T,
                                            compute_expm=False) @ y0
                         for m in range(D)] for k in range(D)])
    np.testing.assert_allclose(g.params[:D * D].reshape(D, D), exact_A, rtol=1e-6,
                               atol=1e-6 * np.abs(exact_A).max())
    np.testing.assert_allclose(g.y0, expm(A * T).T @ y_T, rtol=1e-6)
    assert g.t[1] == pytest.approx(y_T @ A @ y_T, rel=1e-8)
    assert g.t[0] == pytest.approx(-y_T @ expm(A * T) @ A @ y0, rel=1e-6)


def test_bias_gradient_of_a_linear_ode():
    """y' = A y + b: dL/db = ∫₀ᵀ e^{Aᵀ(T-s)} ds · y(T) = A⁻ᵀ(e^{AᵀT} - I) y(T)."""
    rng = np.random.default_rng(1)
    D, T = 3, 0.9
    A = rng.normal(size=(D, D)) * 0.5 - np.eye(D)
    b = rng.normal(size=D)
    net = nde.nets.Sequential(nde.nets.Linear(D, D))
    ys, pullback = nde.odeint_vjp(net, rng.normal(size=D), [0.0, T],
                                  params=np.concatenate([A.ravel(), b]), **TIGHT)
    g = pullback(np.stack([np.zeros(D), ys[-1]]))
    exact = np.linalg.solve(A.T, (expm(A.T * T) - np.eye(D)) @ ys[-1])
    np.testing.assert_allclose(g.params[D * D:], exact, rtol=1e-7)


def _loss_and_fd(func, y0, t, theta, weights, h=1e-5, **kwargs):
    """L = Σ_i weights_i·y(t_i) and its central differences in y0, θ and every t_i."""
    def loss(y0_, t_, th_):
        return np.sum(weights * nde.odeint(func, y0_, t_, params=th_, **kwargs))

    def grad(x, f):
        return central_differences(f, x, h)
    return (grad(y0, lambda v: loss(v, t, theta)), grad(theta, lambda v: loss(y0, t, v)),
            grad(t, lambda v: loss(y0, v, theta)))


def _assert_matches_finite_differences(func, y0, t, params, weights, gradient="adjoint", **tol):
    """dL/dy0, dL/dθ and every dL/dt_i of L = Σ_i weights_i·y(t_i) against central
    differences."""
    _, pullback = nde.odeint_vjp(func, y0, t, params=params, gradient=gradient, **tol)
    g = pullback(weights)
    fd_y0, fd_theta, fd_t = _loss_and_fd(func, y0, t, params, weights, **tol)
    np.testing.assert_allclose(g.y0, fd_y0, rtol=1e-6)
    np.testing.assert_allclose(g.params, fd_theta, rtol=1e-6)
    np.testing.assert_allclose(g.t, fd_t, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
@pytest.mark.parametrize("time_input", [False, True])
def test_mlp_against_finite_differences(time_input, gradient):
    net = nde.nets.MLP(2, hidden=[6], activation="tanh", time_input=time_input)
    theta = net.init(seed=5)
    rng = np.random.default_rng(2)
    y0, t = rng.normal(size=2), np.array([0.0, 0.4, 1.1, 1.5])
    weights = rng.normal(size=(4, 2))
    ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient, **TIGHT)
    g = pullback(weights)
    fd_y0, fd_theta, fd_t = _loss_and_fd(net, y0, t, theta, weights, **TIGHT)
    np.testing.assert_allclose(g.y0, fd_y0, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.params, fd_theta, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g.t, fd_t, rtol=1e-6, atol=1e-7)


def test_dynamics_adjoint_against_finite_differences():
    lv = LotkaVolterra()
    y0, t = np.array([1.0, 1.2]), np.array([0.0, 0.5, 1.0])
    weights = np.array([[0.0, 0.0], [1.0, -0.5], [0.3, 2.0]])
    _assert_matches_finite_differences(lv, y0, t, PARAMS, weights, **TIGHT)


def test_batch_gradients_are_sums_of_samples_and_independent_of_threads():
    net = nde.nets.MLP(2, hidden=[8], activation="tanh", time_input=True)
    theta = net.init(seed=1)
    rng = np.random.default_rng(3)
    y0, t = rng.normal(size=(40, 2)), np.linspace(0, 1, 5)
    weights = rng.normal(size=(5, 40, 2))
    grads = []
    for threads in (1, 2, 3):
        _, pullback = nde.odeint_vjp(net, y0, t, params=theta, num_threads=threads)
        grads.append(pullback(weights))
    for g in grads[1:]:
        assert np.array_equal(g.params, grads[0].params) and np.array_equal(g.y0, grads[0].y0)
        assert np.array_equal(g.t, grads[0].t)
    alone = [nde.odeint_vjp(net, y0[b], t, params=theta)[1](weights[:, b]) for b in range(40)]
    for b, g in enumerate(alone):
        assert np.array_equal(g.y0, grads[0].y0[b])
        assert g.stats.nfe_backward == grads[0].stats.nfe_backward[b]
    np.testing.assert_allclose(sum(g.params for g in alone), grads[0].params, rtol=1e-12)
    np.testing.assert_allclose(sum(g.t for g in alone), grads[0].t, rtol=1e-12)


def test_seminorm_takes_no_more_steps_than_the_full_norm():
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 50), nde.nets.Tanh(),
                              nde.nets.Linear(50, 2))
    theta = net.init(seed=0)
    t = np.linspace(0, 5, 20)
    y0 = np.array([2.0, 0.0])
    nfe = {}
    for norm in ("seminorm", "full"):
        ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, adjoint_norm=norm,
                                      rtol=1e-6, atol=1e-8)
        nfe[norm] = pullback(np.ones_like(ys)).stats.nfe_backward
    assert nfe["seminorm"] <= nfe["full"]


class Drift(nde.Dynamics):
    """y' = θ: backwards, a' = 0 and a_θ' = -a, which every step integrates exactly."""
    num_params = 2

    def f(self, t, y, params):
        return params.copy()

    def vjp(self, t, y, params, a):
        return np.zeros(2), a.copy(), 0.0


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated"])
def test_an_output_time_does_not_restart_the_backward_step_size(gradient):
    """Backwards from t = 10 with first_step 1e-3 and error estimates of zero (interpolated)
    or rounding level (adjoint, which integrates z too), the steps grow tenfold: 1e-3, 1e-2, 0.1, 1 end 1.2e-7 short of the output at 10 - 1.111 - 1.2e-7, so the
    next step (planned: 10) is cut to 1.2e-7 to stop there. The step after the output grows
    from the planned size (one step to t = 0), not from 1.2e-7 (eight more steps)."""
    t = np.array([0.0, 10.0 - 1.111 - 1.2e-7, 10.0])
    theta = np.array([0.3, -0.2])
    ys, pullback = nde.odeint_vjp(Drift(), [1.0, 2.0], t, params=theta, gradient=gradient,
                                  first_step=1e-3)
    g = pullback(np.ones_like(ys))
    np.testing.assert_allclose(g.params, [20.0 - 1.111 - 1.2e-7] * 2, rtol=1e-12)
    assert g.stats.n_rejected_backward == 0
    assert g.stats.n_accepted_backward == 6


def test_adjoint_memory_does_not_grow_with_the_number_of_steps(spiral_net):
    net, theta = spiral_net
    stored = []
    for t_final in (5.0, 25.0, 100.0):
        ys, pullback = nde.odeint_vjp(net, [2.0, 0.0], [0.0, t_final], params=theta)
        stored.append(pullback(np.ones_like(ys)).stats.stored_floats)
    assert stored[0] == stored[1] == stored[2]


def test_single_time_has_trivial_gradients():
    net = nde.nets.MLP(2, hidden=[4])
    ys, pullback = nde.odeint_vjp(net, [1.0, 2.0], [0.3], params=net.init(0))
    g = pullback(np.array([[1.0, -1.0]]))
    assert np.array_equal(g.y0, [1.0, -1.0]) and not g.params.any() and not g.t.any()


def test_gradient_errors():
    net = nde.nets.MLP(2, hidden=[4])
    theta = net.init(0)
    ys, pullback = nde.odeint_vjp(net, [1.0, 2.0], [0.0, 1.0], params=theta)
    with pytest.raises(ValueError, match=r"`dL_dys` must have the shape of ys \(2, 2\)"):
        pullback(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="`dL_dys` contains NaN"):
        pullback(np.full((2, 2), np.nan))
    with pytest.raises(ValueError,
                       match="`gradient` must be one of 'adjoint', 'interpolated', 'backprop'"):
        nde.odeint_vjp(net, [1.0, 2.0], [0.0, 1.0], params=theta, gradient="magic")
    with pytest.raises(ValueError, match="`adjoint_norm` must be 'seminorm' or 'full'"):
        nde.odeint_vjp(net, [1.0, 2.0], [0.0, 1.0], params=theta, adjoint_norm="l2")
    with pytest.raises(TypeError, match="subclass neuralode.Dynamics"):
        nde.odeint_vjp(lambda t, y: -y, [1.0], [0.0, 1.0])


def test_a_failing_backward_solve_says_so():
    """Loose forward tolerances fit the step budget; the much tighter adjoint ones do not."""
    class Square(nde.Dynamics):
        num_params = 0

        def f(self, t, y, params):
            return y ** 2

        def vjp(self, t, y, params, a):
            return 2 * y * a, np.zeros(0), 0.0

    ys, pullback = nde.odeint_vjp(Square(), [0.5], [0.0, 1.9], max_steps=40, rtol=1e-3,
                                  atol=1e-6, adjoint_rtol=1e-13, adjoint_atol=1e-13)
    with pytest.raises(nde.SolverError, match="backward .adjoint. solve failed.*max_steps"):
        pullback(np.array([[0.0], [1.0]]))


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_gradient_stats_report_the_forward_evaluations(gradient):
    net = nde.nets.MLP(2, hidden=[6], activation="tanh")
    theta = net.init(seed=2)
    y0, t = np.random.default_rng(4).normal(size=(5, 2)), np.linspace(0, 1, 4)
    ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient)
    g = pullback(np.ones_like(ys))
    np.testing.assert_array_equal(g.stats.nfe_forward, nde.solve(net, y0, t, params=theta).stats.nfe)


class Chirp(nde.Dynamics):
    """y' = -θ0 t y + θ1 sin(t): time-dependent, so the vjp's a_t = a·(-θ0 y + θ1 cos t)."""
    num_params = 2

    def f(self, t, y, params):
        return -params[0] * t * y + params[1] * np.sin(t)

    def vjp(self, t, y, params, a):
        a_params = np.array([-(a @ y) * t, np.sum(a) * np.sin(t)])
        a_t = float(a @ (-params[0] * y + params[1] * np.cos(t)))
        return -params[0] * t * a, a_params, a_t


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_time_dependent_dynamics_against_finite_differences(gradient):
    chirp, theta = Chirp(), np.array([0.8, 0.5])
    y0, t = np.array([1.0, -0.4]), np.array([0.2, 0.7, 1.5, 2.0])
    weights = np.array([[0.0, 0.0], [1.0, -0.5], [0.3, 2.0], [-1.0, 0.4]])
    _assert_matches_finite_differences(chirp, y0, t, theta, weights, gradient, **TIGHT)


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated"])
def test_theta_records_and_theta_in_the_state_give_the_same_gradient(gradient):
    # The seminorm leaves a_θ out of the state (each step adds its stages' θ records to it);
    # the full norm integrates a_θ in the state, stage by stage. With tolerances tight enough
    # for both to take many steps, they approximate the same integral.
    net = nde.nets.Sequential(nde.nets.ConcatSquashLinear(2, 64), nde.nets.Tanh(),
                              nde.nets.ConcatSquashLinear(64, 64), nde.nets.Tanh(),
                              nde.nets.Linear(64, 2))  # θ records: P >= 4 x record size
    theta = net.init(seed=3)
    y0 = np.random.default_rng(5).normal(size=(6, 2))
    t = np.linspace(0, 1, 4)
    grads = {}
    for norm in ("seminorm", "full"):
        ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient,
                                      adjoint_norm=norm, rtol=1e-11, atol=1e-12)
        grads[norm] = pullback(np.cos(ys))
    np.testing.assert_allclose(grads["seminorm"].params, grads["full"].params, rtol=1e-8,
                               atol=1e-10 * np.abs(grads["full"].params).max())
    np.testing.assert_allclose(grads["seminorm"].y0, grads["full"].y0, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
def test_a_theta_gradient_that_overflows_raises_solver_error(gradient):
    # y' = W3 W2 W1 y with W1 tiny: y stays near y0 = 1e200 and a near dL/dy = 1e200, both
    # finite, but the first layer's dL/dW1 = ∫ (W2ᵀ W3ᵀ a) yᵀ overflows. No step control
    # sees it (a_θ is summed from the θ records outside the state), so the pullback checks
    # it and names the failure.
    net = nde.nets.MLP(2, hidden=[64, 64], activation="identity")
    theta = net.init(seed=0)
    net.unflatten(theta)["0.weight"][...] *= 1e-300
    y0 = np.full((3, 2), 1e200)
    ys, pullback = nde.odeint_vjp(net, y0, [0.0, 1.0], params=theta, gradient=gradient)
    g = np.zeros_like(ys)
    g[-1, 1] = 1e200
    with pytest.raises(nde.SolverError, match=rf"backward \({gradient}.*non-finite.*samples 1"):
        pullback(g)
