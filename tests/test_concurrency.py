"""Many Python threads solving and pulling back at once, with the same network object and the
same parameters: every call releases the GIL inside the core, so they truly overlap. Each
must give the bits of the same call made alone (no shared scratch space, no shared state
but the read-only network and parameters)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import neuralode as nde

THREADS = 16
NET = nde.nets.MLP(2, hidden=[16], activation="tanh", time_input=True)
THETA = NET.init(seed=5)
RNG = np.random.default_rng(11)
Y0 = RNG.normal(size=(THREADS, 12, 2))  # one batch per task
T = np.linspace(0.0, 1.5, 4)
COTANGENT = RNG.normal(size=(THREADS, len(T), 12, 2))
ROWS_T = RNG.uniform(0.0, 1.0, (THREADS, 40))
ROWS_Y = RNG.normal(size=(THREADS, 40, 2))
ROWS_A = RNG.normal(size=(THREADS, 40, 2))


def solve(i):
    return nde.odeint(NET, Y0[i], T, params=THETA, num_threads=1 + i % 2)


def solve_and_pull_back(gradient):
    def task(i):
        ys, pullback = nde.odeint_vjp(NET, Y0[i], T, params=THETA, gradient=gradient,
                                      num_threads=1 + i % 2)
        g = pullback(COTANGENT[i])
        return ys, g.y0, g.params, g.t
    return task


def evaluate(i):
    return NET(ROWS_T[i], ROWS_Y[i], THETA)


def vjp(i):
    return NET.vjp(ROWS_T[i], ROWS_Y[i], THETA, ROWS_A[i])


def assert_same_bits(concurrent, sequential):
    for got, want in zip(concurrent, sequential):
        if isinstance(want, tuple):
            assert_same_bits(got, want)
        else:
            np.testing.assert_array_equal(got, want)


TASKS = {"odeint": solve, "net": evaluate, "net.vjp": vjp,
         **{f"odeint_vjp {mode}": solve_and_pull_back(mode) for mode in nde.GRADIENT_MODES}}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_threads_give_the_bits_of_sequential_calls(name):
    task = TASKS[name]
    sequential = [task(i) for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        for _ in range(2):
            assert_same_bits(list(pool.map(task, range(THREADS))), sequential)


def test_every_kind_of_call_at_once():
    """All the calls above mixed, 16 threads at a time: different entry points of the same
    network object overlap too."""
    calls = [(task, i) for task in TASKS.values() for i in range(THREADS)]
    sequential = [task(i) for task, i in calls]
    with ThreadPoolExecutor(THREADS) as pool:
        concurrent = list(pool.map(lambda call: call[0](call[1]), calls))
    assert_same_bits(concurrent, sequential)


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_one_pullback_called_from_many_threads(gradient):
    """A pullback keeps the forward pass's record and reads it without changing it."""
    ys, pullback = nde.odeint_vjp(NET, Y0[0], T, params=THETA, gradient=gradient)
    expected = [pullback(c) for c in COTANGENT]
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(pullback, COTANGENT))
    for g, want in zip(got, expected):
        assert_same_bits((g.y0, g.params, g.t), (want.y0, want.params, want.t))


def test_a_network_first_used_by_many_threads_at_once():
    """A network that fixes no state dimension builds its C++ network for a dimension on
    first use; threads racing to be first all get a working one."""
    expected = nde.odeint(nde.nets.Sequential(nde.nets.Sin(), nde.nets.Tanh()), Y0[0], T)
    fresh = nde.nets.Sequential(nde.nets.Sin(), nde.nets.Tanh())
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(lambda _: nde.odeint(fresh, Y0[0], T), range(THREADS)))
    for ys in got:
        np.testing.assert_array_equal(ys, expected)
