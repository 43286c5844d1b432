"""A forked child solves in parallel after its parent did (GNU OpenMP's thread pool does not
survive fork on its own; see cpp/include/neuralode/fork_safety.hpp)."""
import multiprocessing
import os
import signal
import threading
import time

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


def _child_interrupts_a_long_solve():
    """In a forked child: a long network solve, SIGINT'd after 0.3 s. Exit code 0 if it
    raised KeyboardInterrupt."""
    import os
    import signal
    import threading
    net = nde.nets.MLP(2, hidden=[16])
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        nde.odeint(net, np.ones((4, 2)), [0.0, 1e9], params=net.init(0), rtol=1e-12,
                   atol=1e-12, max_steps=10**9, num_threads=2)
    except KeyboardInterrupt:
        os._exit(0)
    os._exit(1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the platform has no fork")
@pytest.mark.parametrize("from_thread", [False, True])
def test_ctrl_c_works_in_a_child_forked_from_any_thread(from_thread):
    # A child forked from a thread has that thread as its main thread: it must arm there.
    pids = []

    def fork():
        pid = os.fork()
        if pid == 0:
            _child_interrupts_a_long_solve()
        pids.append(pid)

    if from_thread:
        thread = threading.Thread(target=fork)
        thread.start()
        thread.join()
    else:
        fork()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid, status = os.waitpid(pids[0], os.WNOHANG)
        if pid:
            break
        time.sleep(0.05)
    else:
        os.kill(pids[0], signal.SIGKILL)
        os.waitpid(pids[0], 0)
        pytest.fail("the child's solve was not interrupted")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
