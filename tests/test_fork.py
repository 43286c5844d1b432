"""A forked child solves in parallel after its parent did (GNU OpenMP's thread pool does not
survive fork on its own; see cpp/include/neuralode/fork_safety.hpp)."""
import multiprocessing

import numpy as np
import pytest

import neuralode as nde

NET = nde.nets.MLP(2, hidden=[8], activation="tanh")
THETA = NET.init(seed=0)
Y0 = np.random.default_rng(0).normal(size=(64, 2))


def final_states(_=None):
    return nde.odeint(NET, Y0, [0.0, 0.5, 1.0], params=THETA, num_threads=2)[-1]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the platform has no fork")
def test_forked_children_solve_in_parallel_after_the_parent():
    expected = final_states()  # the parent's parallel region starts its thread pool
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        results = pool.map_async(final_states, range(4)).get(timeout=60)
    finally:
        pool.terminate()
    for result in results:
        np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(final_states(), expected)  # the parent's new pool
