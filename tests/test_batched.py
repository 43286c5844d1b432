"""Batched Python dynamics: a callable (or a Dynamics) that takes every active sample of a
stage at once gives the same solution as one called sample by sample, with one call per
stage instead of one per sample."""
import numpy as np
import pytest

import neuralode as nde
from test_properties import DECAY_PARAMS, Decay

A = np.array([[-0.1, 2.0], [-2.0, -0.1]])


# Written elementwise, so that a row of a batch and a single sample see the same arithmetic
# (a matrix product may round a (n, 2) @ (2, 2) differently from a (2,) @ (2, 2)).
def spiral_one(t, y):
    c = y ** 3
    return np.array([A[0, 0] * c[0] + A[0, 1] * c[1], A[1, 0] * c[0] + A[1, 1] * c[1]])


def spiral_batch(t, y):
    assert t.shape == (y.shape[0],) and y.ndim == 2
    c = y ** 3
    return np.stack([A[0, 0] * c[:, 0] + A[0, 1] * c[:, 1],
                     A[1, 0] * c[:, 0] + A[1, 1] * c[:, 1]], axis=1)


class CountingBatch:
    """A batched spiral that counts its calls and the samples it was given."""

    def __init__(self):
        self.calls, self.rows = 0, []

    def __call__(self, t, y):
        self.calls += 1
        self.rows.append(y.shape[0])
        return spiral_batch(t, y)


def _y0(batch, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=(batch, 2))


@pytest.mark.parametrize("batch", [1, 5, 37, 300])
@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
def test_a_batched_callable_gives_the_per_sample_solution_bit_for_bit(batch, method):
    """Lane groups of 16, 128 and 1024 samples: each sample's steps and arithmetic are its
    own, so the batch changes nothing (numpy's elementwise ops are the same per row)."""
    y0, t = _y0(batch), np.linspace(0.0, 2.0, 9)
    options = dict(step_size=0.05) if method == "rk4" else dict(rtol=1e-6, atol=1e-9)
    one = nde.solve(spiral_one, y0, t, method=method, **options)
    batched = nde.solve(nde.batched(spiral_batch), y0, t, method=method, **options)
    np.testing.assert_array_equal(batched.ys, one.ys)
    np.testing.assert_array_equal(batched.stats.nfe, one.stats.nfe)
    vectorized = nde.odeint(spiral_batch, y0, t, method=method, vectorized=True, **options)
    np.testing.assert_array_equal(vectorized, one.ys)


def test_more_samples_than_a_lane_group_and_grids_per_sample():
    """1100 samples (more than the 1024 lanes of a group: lanes that finish take new
    samples) with their own time grids."""
    y0 = _y0(1100, seed=1)
    t = np.linspace(0.0, 1.0, 4)[None, :] * np.linspace(0.5, 1.5, 1100)[:, None]
    one = nde.odeint(spiral_one, y0, t, rtol=1e-5, atol=1e-8)
    batched = nde.odeint(nde.batched(spiral_batch), y0, t, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(batched, one)


def test_one_call_per_stage_for_the_whole_batch():
    """dopri5 evaluates f 6 times per step plus 2 to start: with 200 samples the batched
    callable is called about as often as one sample needs, each time with the samples
    still running (n shrinks as samples finish), never with more than the batch."""
    y0, t = _y0(200), np.linspace(0.0, 2.0, 5)
    f = CountingBatch()
    sol = nde.solve(nde.batched(f), y0, t, rtol=1e-6, atol=1e-9)
    most = int(sol.stats.nfe.max())
    assert f.calls <= most + 8  # a few more for lanes that start or stop apart
    assert max(f.rows) == 200 and min(f.rows) >= 1
    assert sum(f.rows) >= int(sol.stats.nfe.sum())  # every sample's evaluations are in them


def test_dense_output_of_a_batched_callable():
    y0, t = _y0(20), np.linspace(0.0, 1.0, 3)
    tq = np.linspace(0.0, 1.0, 11)
    one = nde.solve(spiral_one, y0, t, dense=True).evaluate(tq)
    batched = nde.solve(nde.batched(spiral_batch), y0, t, dense=True).evaluate(tq)
    np.testing.assert_array_equal(batched, one)


class BatchedDecay(nde.Dynamics):
    """test_properties.Decay, a batch per call: t (n,), y and a (n, D); a_params summed."""
    num_params = 2
    batched = True

    def f(self, t, y, params):
        assert t.ndim == 1 and y.shape == (t.size, 2)
        return -params[0] * y + params[1] * np.sin(t)[:, None]

    def vjp(self, t, y, params, a):
        assert t.ndim == 1 and a.shape == y.shape == (t.size, 2)
        a_params = np.array([-(a * y).sum(), (np.sin(t)[:, None] * a).sum()])
        return -params[0] * a, a_params, params[1] * np.cos(t) * a.sum(axis=1)



def test_a_batched_dynamics_solves_like_the_per_sample_one():
    y0, t = _y0(30), np.linspace(0.0, 2.0, 6)
    one = nde.odeint(Decay(), y0, t, params=DECAY_PARAMS)
    batched = nde.odeint(BatchedDecay(), y0, t, params=DECAY_PARAMS)
    np.testing.assert_array_equal(batched, one)


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
def test_a_batched_dynamics_has_the_per_sample_gradients(gradient):
    y0, t = _y0(4), np.linspace(0.0, 1.5, 4)
    g = np.random.default_rng(3).normal(size=(4, 4, 2))
    results = []
    for dynamics in (Decay(), BatchedDecay()):
        ys, pullback = nde.odeint_vjp(dynamics, y0, t, params=DECAY_PARAMS, gradient=gradient)
        results.append((ys, pullback(g)))
    (ys_one, g_one), (ys_batch, g_batch) = results
    np.testing.assert_array_equal(ys_batch, ys_one)
    for name in ("y0", "params", "t"):
        np.testing.assert_allclose(getattr(g_batch, name), getattr(g_one, name), rtol=1e-12,
                                   atol=1e-14, err_msg=name)


def test_batched_errors_name_the_argument():
    y0, t = _y0(3), [0.0, 1.0]
    with pytest.raises(ValueError, match=r"`func` must return an array of shape \(3, 2\)"):
        nde.odeint(nde.batched(lambda t, y: y[:, :1]), y0, t)
    with pytest.raises(TypeError, match="`func` must return an array of real numbers"):
        nde.odeint(nde.batched(lambda t, y: y.astype(complex)), y0, t)
    with pytest.raises(TypeError, match="`vectorized` must be True or False"):
        nde.odeint(spiral_batch, y0, t, vectorized="yes")
    with pytest.raises(ValueError, match="`vectorized=True` applies to plain callables"):
        net = nde.nets.MLP(2, hidden=[4])
        nde.odeint(net, y0, t, params=net.init(seed=0), vectorized=True)
    with pytest.raises(TypeError, match="`func` must be callable"):
        nde.batched(3)
    with pytest.raises(ValueError, match="`batched` applies to plain callables"):
        nde.batched(net)
    with pytest.raises(ValueError, match=r"`func` must return an array of shape \(1, 2\) for a "
                                         r"batch of y of shape \(1, 2\); got shape \(2,\)"):
        nde.odeint(nde.batched(lambda t, y: y[0]), [1.0, 2.0], t)  # 1-D y0: a batch of one


def test_a_batched_callable_with_one_dimensional_y0_and_a_batched_dynamics_with_own_grids():
    t = np.linspace(0.0, 1.0, 5)
    np.testing.assert_array_equal(nde.odeint(nde.batched(spiral_batch), [0.5, -0.3], t),
                                  nde.odeint(spiral_one, [0.5, -0.3], t))
    y0 = _y0(6)
    grids = np.linspace(0.0, 1.0, 4)[None, :] * np.linspace(0.5, 2.0, 6)[:, None]
    np.testing.assert_array_equal(nde.odeint(BatchedDecay(), y0, grids, params=DECAY_PARAMS),
                                  nde.odeint(Decay(), y0, grids, params=DECAY_PARAMS))


def test_an_exception_in_a_batched_callable_propagates_unchanged():
    class Boom(Exception):
        pass

    def f(t, y):
        if t.max() > 0.5:
            raise Boom("from f")
        return -y

    with pytest.raises(Boom, match="from f"):
        nde.odeint(nde.batched(f), _y0(10), [0.0, 1.0])


def test_a_wide_batch_solves_on_a_thread_with_a_small_stack():
    """A lane group of 1024 samples keeps its lanes' state off the stack: a thread with a
    256 KiB stack (some platforms' default) solves it."""
    import threading
    out = {}
    previous = threading.stack_size(256 * 1024)
    try:
        thread = threading.Thread(target=lambda: out.setdefault(
            "ys", nde.odeint(nde.batched(lambda t, y: -y), np.ones((1000, 2)), [0.0, 1.0])))
        thread.start()
        thread.join()
    finally:
        threading.stack_size(previous)
    np.testing.assert_allclose(out["ys"][-1], np.exp(-1.0), rtol=1e-6)
