"""solve(..., dense=True) and Solution.evaluate: the solution between the output times by the
solver's own interpolant, without solving again."""
import numpy as np
import pytest

import neuralode as nde


class Decay(nde.Dynamics):
    num_params = 1

    def f(self, t, y, params):
        return -params[0] * y

    def vjp(self, t, y, params, a):
        return -params[0] * a, np.array([-(a @ y)]), 0.0


def _decay_net():
    net = nde.nets.Sequential(nde.nets.Linear(2, 2))
    return net, np.array([-1.0, 0.0, 0.0, -1.0, 0.0, 0.0])


def _funcs():
    net, theta = _decay_net()
    return [(net, theta), (Decay(), np.array([1.0])), (lambda t, y: -y, None)]


@pytest.mark.parametrize("func, params", _funcs(), ids=["network", "dynamics", "callable"])
@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
def test_evaluate_is_the_exact_solution_to_interpolation_accuracy(func, params, method):
    y0 = np.array([1.0, -2.0])
    step = {"step_size": 0.01} if method == "rk4" else {}
    sol = nde.solve(func, y0, [0.0, 0.5, 2.0], params=params, method=method, dense=True,
                    rtol=1e-9, atol=1e-12, **step)
    tq = np.random.default_rng(0).uniform(0.0, 2.0, 50)
    got = sol.evaluate(tq)
    assert got.shape == (50, 2)
    np.testing.assert_allclose(got, np.exp(-tq)[:, None] * y0, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("func, params", _funcs() + [(nde.batched(lambda t, y: -y), None)],
                         ids=["network", "dynamics", "callable", "batched callable"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluate_matches_odeint_at_those_times_bit_for_bit(func, params, dtype):
    # The steps do not depend on the output times (only on t[0] and t[-1]), so an odeint
    # asked for the same times outputs the same interpolant, with the same arithmetic (the
    # solve's outputs several per step, evaluate's one at a time from the tape).
    y0 = np.array([[1.0, -2.0], [0.5, 3.0]], dtype)
    params = None if params is None else params.astype(dtype)
    sol = nde.solve(func, y0, [0.0, 3.0], params=params, dense=True)
    tq = np.sort(np.random.default_rng(1).uniform(0.0, 3.0, 200))
    expected = nde.odeint(func, y0, np.r_[0.0, tq, 3.0], params=params)[1:-1]
    assert sol.stats.n_accepted.max() * 5 < len(tq)  # several outputs inside a step
    np.testing.assert_array_equal(sol.evaluate(tq), expected)
    np.testing.assert_allclose(expected, np.exp(-tq)[:, None, None] * y0, rtol=1e-4)


def test_evaluate_at_the_output_times_gives_ys():
    net, theta = _decay_net()
    t = np.linspace(0.0, 1.0, 7)
    sol = nde.solve(net, np.array([1.0, 2.0]), t, params=theta, dense=True)
    np.testing.assert_allclose(sol.evaluate(t), sol.ys, rtol=1e-14, atol=1e-15)


def test_per_sample_grids_and_per_sample_query_times():
    net, theta = _decay_net()
    y0 = np.array([[1.0, 1.0], [2.0, -1.0]])
    t = np.array([[0.0, 1.0], [1.0, -1.0]])  # the second sample runs backwards in time
    sol = nde.solve(net, y0, t, params=theta, dense=True, rtol=1e-10, atol=1e-12)
    tq = np.array([[0.25, 0.75, 0.5], [0.5, -0.5, 0.0]])
    got = sol.evaluate(tq)
    assert got.shape == (3, 2, 2)
    start = np.array([0.0, 1.0])
    exact = np.exp(-(tq.T - start))[:, :, None] * y0
    np.testing.assert_allclose(got, exact, rtol=1e-8)


def test_a_failed_sample_gives_nan_past_where_it_stopped():
    y0 = np.array([[1.0], [1.0]])
    sol = nde.solve(lambda t, y: y * y if y[0] > 0.9 else -y, y0 * [[1.0], [0.5]], [0.0, 2.0],
                    dense=True, throw=False)  # y' = y^2 from 1 blows up at t = 1
    assert list(sol.status) == ["step_size_underflow", "success"]
    got = sol.evaluate([0.5, 1.5])
    np.testing.assert_allclose(got[0, 0], 1 / (1 - 0.5), rtol=1e-5)
    assert np.isnan(got[1, 0]).all()
    np.testing.assert_allclose(got[:, 1, 0], 0.5 * np.exp(-np.array([0.5, 1.5])), rtol=1e-6)


def test_evaluate_needs_dense():
    sol = nde.solve(lambda t, y: -y, [1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="dense=True"):
        sol.evaluate([0.5])


@pytest.mark.parametrize("tq, message", [
    ([1.5], r"`t` must lie in the solved interval \[0, 1\]; got 1.5"),
    ([np.nan], "`t` must lie in the solved interval"),
    (0.5, r"`t` must have shape \(M,\)"),
    ([[0.5]], r"`t` must have shape \(M,\)"),
    (["a"], "`t` must be an array of real numbers"),
])
def test_evaluate_refuses_bad_times(tq, message):
    sol = nde.solve(lambda t, y: -y, [1.0], [0.0, 1.0], dense=True)
    with pytest.raises((ValueError, TypeError), match=message):
        sol.evaluate(tq)


def test_dense_must_be_a_bool():
    with pytest.raises(TypeError, match="`dense` must be True or False"):
        nde.solve(lambda t, y: -y, [1.0], [0.0, 1.0], dense="yes")


def test_a_pickled_or_copied_dense_solution_keeps_its_arrays_and_says_the_interpolant_is_gone():
    import copy
    import pickle
    sol = nde.solve(lambda t, y: -y, [1.0], [0.0, 1.0], dense=True)
    for other in (pickle.loads(pickle.dumps(sol)), copy.deepcopy(sol)):
        np.testing.assert_array_equal(other.ys, sol.ys)
        with pytest.raises(ValueError, match="a pickled or copied Solution leaves it behind"):
            other.evaluate([0.5])
    assert sol.evaluate([0.5]).shape == (1, 1)  # the original still has it
