"""Threads: the default uses them only where the work pays, never more than the usable cores,
and idle OpenMP threads sleep; results never depend on the thread count."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neuralode as nde
from neuralode import _core

PYTHON_DIR = str(Path(nde.__file__).resolve().parent.parent)
MANY_CORES = len(os.sched_getaffinity(0)) >= 2


def _run(code, **env):
    """Runs code in a fresh interpreter that imports this neuralode; returns (stdout, stderr)."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DISPLAY_ENV")}
    environ.update(env, PYTHONPATH=PYTHON_DIR + os.pathsep + environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_usable_cores_are_at_most_the_affinity_mask():
    assert 1 <= _core._usable_cores() <= len(os.sched_getaffinity(0))


def test_usable_cores_follow_a_restricted_affinity():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "import numpy as np, neuralode as nde\n"
            "print(nde._core._usable_cores(), nde._core._threads_for(8, 1000, 1e9))\n"
            "net = nde.nets.MLP(2, hidden=[8]); y0 = np.ones((64, 2))\n"
            "nde.odeint(net, y0, [0.0, 1.0], params=net.init(seed=0), num_threads=8)\n")
    out, _ = _run(code)
    assert out.split() == ["1", "1"]


def test_explicit_threads_beyond_the_cores_are_capped_without_error():
    cores = _core._usable_cores()
    assert _core._threads_for(1000, 10**6, 1.0) == cores  # honoured up to the cores
    assert _core._threads_for(1000, 3, 1.0) == min(3, cores)  # and the samples
    assert _core._threads_for(1, 10**6, 1e12) == 1
    net = nde.nets.MLP(2, hidden=[8])
    ys = nde.odeint(net, np.ones((5, 2)), [0.0, 1.0], params=net.init(seed=0), num_threads=1024)
    assert np.all(np.isfinite(ys))


def test_the_default_gives_a_small_batch_one_thread():
    w3_solve = 24 * 252  # W3's network: 252 parameters, about 24 evaluations a sample
    assert _core._threads_for(0, 20, w3_solve) == 1
    assert _core._threads_for(0, 2, 3 * w3_solve) == 1  # an adjoint of two samples
    assert _core._threads_for(0, 1, 1e15) == 1  # one sample: never more than one thread
    assert _core._threads_for(0, 10**6, 0.0) == 1


@pytest.mark.skipif(not MANY_CORES, reason="needs two cores")
def test_the_default_gives_a_large_batch_the_cores():
    # In a fresh process: here, a team that did not pay on a busy machine (that the default
    # then runs on one thread for a while) may have been the last one.
    out, _ = _run("import neuralode as nde\n"
                  "print(nde._core._threads_for(0, 10**5, 1e6), nde._core._usable_cores())")
    threads, cores = map(int, out.split())
    assert 2 <= threads <= cores


@pytest.mark.skipif(not MANY_CORES, reason="needs two cores")
def test_a_team_of_threads_that_does_not_pay_pauses_the_defaults_threads():
    # Two threads on four tiny samples: starting and joining them costs more than the work.
    out, _ = _run("import time, numpy as np, neuralode as nde\n"
                  "big = lambda: nde._core._threads_for(0, 10**5, 1e6)\n"
                  "before = big()\n"
                  "net = nde.nets.MLP(2, hidden=[4]); theta = net.init(seed=0)\n"
                  "nde.odeint(net, np.ones((4, 2)), [0.0, 0.1], params=theta, num_threads=2)\n"
                  "paused = big()\n"
                  "time.sleep(0.2)\n"  # the first pause is 50 ms
                  "print(before, paused, big())")
    before, paused, after = map(int, out.split())
    assert before >= 2 and paused == 1 and after == before


@pytest.fixture(scope="module")
def wide_batch():
    """W2's network on a batch the default splits over threads (where there are two)."""
    net = nde.nets.MLP(2, hidden=[64], activation="tanh")
    return net, net.init(seed=0), np.random.default_rng(0).normal(size=(600, 2)) * 2


def test_solves_are_bit_identical_for_any_thread_count(wide_batch):
    net, theta, y0 = wide_batch
    t = np.linspace(0.0, 1.0, 10)
    runs = [nde.solve(net, y0, t, params=theta, rtol=1e-6, atol=1e-8, num_threads=n)
            for n in (1, 2, None)]
    for run in runs[1:]:
        assert np.array_equal(run.ys, runs[0].ys)
        assert np.array_equal(run.stats.nfe, runs[0].stats.nfe)


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
def test_gradients_are_bit_identical_for_any_thread_count(wide_batch, gradient):
    net, theta, y0 = wide_batch
    t = np.linspace(0.0, 1.0, 5)
    dL = np.random.default_rng(1).normal(size=(len(t),) + y0.shape)
    grads = []
    for n in (1, 2, None):
        ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient, rtol=1e-6,
                                      atol=1e-8, num_threads=n)
        grads.append((ys, pullback(dL)))
    for ys, g in grads[1:]:
        assert np.array_equal(ys, grads[0][0])
        for name in ("y0", "params", "t"):
            assert np.array_equal(getattr(g, name), getattr(grads[0][1], name)), name


def _omp_display(stderr):
    """libgomp's OMP_DISPLAY_ENV=verbose lines as {name: value}."""
    settings = {}
    for line in stderr.splitlines():
        name, eq, value = line.strip().partition(" = ")
        if eq:
            settings[name] = value.strip("'")
    return settings


def test_idle_openmp_threads_spin_briefly_by_default_and_the_environment_is_left_as_it_was():
    out, err = _run("import os, neuralode\nprint(os.environ.get('GOMP_SPINCOUNT'))",
                    OMP_DISPLAY_ENV="verbose")
    assert out.split() == ["None"]
    assert _omp_display(err)["GOMP_SPINCOUNT"] == "30000"  # a brief spin, then sleep
    # libgomp loaded without neuralode spins (300000 times by default): the check can fail
    _, err = _run("import ctypes; ctypes.CDLL('libgomp.so.1')", OMP_DISPLAY_ENV="verbose")
    assert _omp_display(err)["GOMP_SPINCOUNT"] != "0"


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "ACTIVE"),
                                         ("GOMP_SPINCOUNT", "12345")])
def test_the_users_own_wait_settings_win(name, value):
    out, err = _run(f"import os, neuralode\nprint(os.environ.get({name!r}))",
                    OMP_DISPLAY_ENV="verbose", **{name: value})
    assert out.split() == [value]
    settings = _omp_display(err)
    if name == "OMP_WAIT_POLICY":
        assert settings["OMP_WAIT_POLICY"] == "ACTIVE" and settings["GOMP_SPINCOUNT"] != "0"
    else:
        assert settings["GOMP_SPINCOUNT"] == value
