"""Batches: every sample is its own problem; results never depend on threads or neighbours."""
import importlib

import numpy as np
import pytest

import neuralode as nde


@pytest.fixture
def mlp():
    net = nde.nets.MLP(3, hidden=[16, 16], activation="tanh", time_input=True)
    return net, net.init(seed=3)


def _y0(batch, dim=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, dim)) * 2


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4"])
@pytest.mark.parametrize("batch", [9, 40])  # small batches run one lane a thread, large ones 8
def test_batch_equals_samples_solved_alone_bit_for_bit(mlp, method, batch):
    net, theta = mlp
    y0 = _y0(batch)
    t = np.linspace(0, 2, 6)
    kwargs = {"step_size": 0.05} if method == "rk4" else {"rtol": 1e-6, "atol": 1e-8}
    batch = nde.solve(net, y0, t, params=theta, method=method, **kwargs)
    for b in range(len(y0)):
        alone = nde.solve(net, y0[b], t, params=theta, method=method, **kwargs)
        assert np.array_equal(batch.ys[:, b], alone.ys)
        assert batch.stats.nfe[b] == alone.stats.nfe
    if method != "rk4":  # adaptive: each sample chooses its own steps
        assert len(set(batch.stats.n_steps.tolist())) > 1


def test_results_do_not_depend_on_the_thread_count(mlp):
    net, theta = mlp
    y0 = _y0(257)
    t = np.linspace(0, 3, 11)
    runs = [nde.solve(net, y0, t, params=theta, num_threads=n) for n in (1, 2, 4)]
    for run in runs[1:]:
        assert np.array_equal(run.ys, runs[0].ys)
        assert np.array_equal(run.stats.nfe, runs[0].stats.nfe)


def test_python_threads_may_solve_at_once(mlp):
    """Solves release the GIL; Python threads running them together, each with its own
    OpenMP team, get what they get one after another."""
    from concurrent.futures import ThreadPoolExecutor

    net, theta = mlp
    t = np.linspace(0, 2, 5)

    def work(seed):
        y0 = _y0(64, seed=seed)
        ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, num_threads=2)
        return ys, pullback(np.ones_like(ys)).params

    alone = [work(seed) for seed in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(work, range(6)))
    for (ys, grad), (ys_alone, grad_alone) in zip(together, alone):
        assert np.array_equal(ys, ys_alone)
        assert np.array_equal(grad, grad_alone)


def test_per_sample_time_grids(mlp):
    net, theta = mlp
    y0 = _y0(4)
    rng = np.random.default_rng(5)
    grids = np.sort(rng.uniform(0, 2, size=(4, 7)), axis=1)
    grids[:, 0] = rng.uniform(-0.5, 0, size=4)
    grids[2] = grids[2][::-1]  # one sample integrates backwards
    batch = nde.solve(net, y0, grids, params=theta, rtol=1e-8, atol=1e-10)
    for b in range(4):
        alone = nde.odeint(net, y0[b], grids[b], params=theta, rtol=1e-8, atol=1e-10)
        assert np.array_equal(batch.ys[:, b], alone)
    assert batch.ys.shape == (7, 4, 3)


def test_a_single_time_returns_y0(mlp):
    net, theta = mlp
    y0 = _y0(3)
    sol = nde.solve(net, y0, [0.5], params=theta)
    assert sol.ys.shape == (1, 3, 3) and np.array_equal(sol.ys[0], y0)
    assert np.all(sol.stats.nfe == 0)
    assert np.array_equal(nde.odeint(lambda t, y: y, [1.0, 2.0], [0.0]), [[1.0, 2.0]])


def test_python_callable_batch_matches_network(mlp):
    """The callable path solves each sample on its own too, with the same steps."""
    net, theta = mlp
    y0 = _y0(3)
    t = np.linspace(0, 1, 5)
    by_net = nde.solve(net, y0, t, params=theta)
    by_callable = nde.solve(lambda t, y: net(t, y, theta), y0, t)
    np.testing.assert_array_equal(by_callable.ys, by_net.ys)
    np.testing.assert_array_equal(by_callable.stats.nfe, by_net.stats.nfe)


def test_ready_arrays_and_other_inputs_give_the_same_solution(mlp):
    """A network solve whose arguments are all float64 arrays and floats skips the layered
    argument checks (solve._ready_network); lists and explicit options take the
    checked path. Both must give the same bits and the same errors."""
    solve_module = importlib.import_module("neuralode.solve")  # nde.solve is the function
    net, theta = mlp
    y0, t = _y0(5), np.linspace(0.0, 1.0, 7)
    ready = nde.odeint(net, y0, t, params=theta, rtol=1e-6, atol=1e-8)
    assert solve_module._ready_network(net, y0, t, theta)  # the fast path is taken
    assert not solve_module._ready_network(net, y0.tolist(), t, theta)
    for y0_in, t_in, theta_in, options in [
            (y0.tolist(), t.tolist(), theta.tolist(), {}),
            (np.asfortranarray(y0), t, theta[::-1].copy()[::-1], {}),  # strided: copied in C++
            (y0, t, theta, dict(num_threads=1, max_steps=10**6))]:
        checked = nde.odeint(net, y0_in, t_in, params=theta_in, rtol=1e-6, atol=1e-8, **options)
        np.testing.assert_array_equal(checked, ready)
    np.testing.assert_array_equal(nde.odeint(net, y0[0], t, params=theta)[:, None],
                                  nde.odeint(net, y0[:1], t, params=theta))
    bad_y0 = y0.copy()
    bad_y0[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"`y0` must be finite; y0\[2, 1\] = nan"):
        nde.odeint(net, bad_y0, t, params=theta)
    with pytest.raises(ValueError, match=r"`t` must be strictly monotone"):
        nde.odeint(net, y0, t[[0, 2, 1, 3, 4, 5, 6]], params=theta)
    with pytest.raises(ValueError, match="`y0` has 4 components but the network takes states"):
        nde.odeint(net, np.ones((2, 4)), t, params=theta)
    with pytest.raises(nde.SolverError, match="max_steps"):
        nde.odeint(net, y0, t, params=theta, max_steps=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wide_layers_batch_alone_and_threads_agree_bit_for_bit(dtype):
    # 130 -> 70: wide enough for the Linear kernel's tiles of four outputs (and a remainder
    # of two), which must leave every output's sum as one output alone computes it. 21
    # samples run in lane groups of 4 or 8; 70 in lane blocks of two vectors (16 doubles,
    # 32 floats: tiles of 8 outputs over packed weights, remainders of 2 and 6 outputs).
    net = nde.nets.MLP(3, hidden=[130, 70], activation="tanh")
    theta = (net.init(seed=1) * 0.5).astype(dtype)
    y0 = _y0(70).astype(dtype)
    t = np.linspace(0, 1, 4)
    runs = [nde.solve(net, y0, t, params=theta, num_threads=n) for n in (1, 2)]
    assert runs[0].ys.dtype == dtype
    np.testing.assert_array_equal(runs[1].ys, runs[0].ys)
    np.testing.assert_array_equal(nde.solve(net, y0[:21], t, params=theta).ys, runs[0].ys[:, :21])
    for b in (0, 9, 20, 37, 69):
        np.testing.assert_array_equal(nde.solve(net, y0[b], t, params=theta).ys, runs[0].ys[:, b])
    f_batch = net(0.0, y0, theta)
    for b in (0, 20):
        np.testing.assert_array_equal(net(0.0, y0[b], theta), f_batch[b])


@pytest.mark.parametrize("gradient", ["adjoint", "backprop"])
def test_wide_layers_vjp_batch_and_alone_agree_bit_for_bit(gradient):
    # 130 -> 70 and 70 -> 130: the VJP's tiles of four inputs (sums over 70 and 130 outputs);
    # 12 samples run in lane groups of 4 or 8, 70 in lane blocks (packed Wᵀ, tiles of 8).
    net = nde.nets.MLP(3, hidden=[130, 70, 130], activation="tanh")
    theta = net.init(seed=2) * 0.5
    y0 = _y0(70)
    a = np.random.default_rng(3).normal(size=(70, 3))
    a_y = net.vjp(0.0, y0, theta, a)[0]
    for b in (0, 11):
        np.testing.assert_array_equal(net.vjp(0.0, y0[b], theta, a[b])[0], a_y[b])
    t = np.linspace(0, 0.5, 3)
    for batch_size in (12, 70):
        ys, pullback = nde.odeint_vjp(net, y0[:batch_size], t, params=theta, gradient=gradient)
        batch = pullback(np.ones_like(ys))
        for b in (4, batch_size - 1):
            ys1, pullback1 = nde.odeint_vjp(net, y0[b], t, params=theta, gradient=gradient)
            np.testing.assert_array_equal(pullback1(np.ones_like(ys1)).y0, batch.y0[b])


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_theta_gradient_of_a_sample_is_the_same_in_any_batch_bit_for_bit(gradient, dtype):
    # dL/dθ is summed per sample in a fixed order (the adjoint modes add each step's θ
    # records, a few steps at a time; backprop its VJPs' records). With cotangents on one
    # sample only, the other samples add zeros: the batch's dL/dθ is that sample's own, and
    # must be what the sample alone gives, whatever the lanes around it and the threads.
    net = nde.nets.MLP(3, hidden=[130, 70, 130], activation="tanh")
    theta = (net.init(seed=2) * 0.5).astype(dtype)
    y0 = _y0(70).astype(dtype)  # lane blocks of 16 doubles or 32 floats
    t = np.linspace(0, 0.5, 3)
    g = np.zeros((3, 70, 3), dtype)
    g[:, 5] = np.random.default_rng(4).normal(size=(3, 3))
    batch = []
    for threads in (1, 2):
        ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient,
                                      num_threads=threads)
        batch.append(pullback(g).params)
    ys1, pullback1 = nde.odeint_vjp(net, y0[5], t, params=theta, gradient=gradient)
    alone = pullback1(g[:, 5]).params
    assert alone.dtype == dtype and np.abs(alone).max() > 0
    np.testing.assert_array_equal(batch[0], alone)
    np.testing.assert_array_equal(batch[1], alone)
