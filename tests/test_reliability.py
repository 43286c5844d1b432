"""Faults found by a reliability review (issue 12), each reproduced here: thread counts past
the cores, fixed steps below the resolution of t, silent casts of what f returns, the
caller's t read during a solve, NaN gradients from backprop, tape memory, Power(0)'s
derivative, parameter-count overflow and backward passes over very many outputs."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuralode as nde


def _run_python(code, **env):
    """Runs code in a fresh interpreter (its own OpenMP runtime and environment)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("num_threads", ["200", "None"])
def test_threads_never_exceed_the_cores(num_threads):
    # With OMP_NUM_THREADS=200 (or num_threads=200) OpenMP was asked for 200 threads: under a
    # per-user process limit, "libgomp: Thread creation failed" ended the process.
    out = _run_python(f"""
        import os
        import numpy as np
        import neuralode as nde
        net = nde.nets.MLP(2, hidden=[8])
        y0 = np.random.default_rng(0).normal(size=(1000, 2))
        ys = nde.odeint(net, y0, [0.0, 1.0], params=net.init(seed=0), num_threads={num_threads})
        one = nde.odeint(net, y0, [0.0, 1.0], params=net.init(seed=0), num_threads=1)
        assert np.array_equal(ys, one)
        print(len(os.listdir("/proc/self/task")))
        """, OMP_NUM_THREADS="200")
    cores = len(os.sched_getaffinity(0))
    assert int(out) <= cores + 1  # the interpreter's own thread and OpenMP's workers


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_fixed_steps_below_the_resolution_of_t_fail_as_underflow(method):
    # From t0 = 1e16 (where doubles are 2 apart) steps of 0.5 rounded to 0 or 2, rk4's error
    # grew 400x, and the status was "success".
    sol = nde.solve(lambda t, y: -y, [1.0], [1e16, 1e16 + 64.0], method=method, step_size=0.5,
                    throw=False)
    assert sol.status == "step_size_underflow"
    with pytest.raises(nde.SolverError, match="step_size_underflow"):
        nde.odeint(lambda t, y: -y, [1.0], [1e16, 1e16 + 64.0], method=method, step_size=0.5)


def test_fixed_steps_well_above_the_resolution_of_t_still_work():
    # At 1e16 doubles are 2 apart: steps of 32 are 16 ulps, and rk4 is exact on y' = 1.
    ys = nde.odeint(lambda t, y: np.ones(1), [0.0], [1e16, 1e16 + 320.0], method="rk4",
                    step_size=32.0)
    assert ys[-1, 0] == 320.0


@pytest.mark.parametrize("returned, kind", [
    (lambda y: y + 1j, "complex128"),
    (lambda y: y > 0, "bool"),
    (lambda y: np.array(["1.5"] * y.size), "<U3"),
    (lambda y: ["1.5"] * y.size, "list"),
])
def test_f_returning_non_real_numbers_is_refused_not_cast(returned, kind):
    # complex lost its imaginary part, booleans became 0 and 1, strings of digits were parsed.
    with pytest.raises(TypeError, match=f"`func` must return an array of real numbers; got .*{kind}"):
        nde.odeint(lambda t, y: returned(y), [1.0, 2.0], [0.0, 1.0])


class ComplexDecay(nde.Dynamics):
    num_params = 1

    def f(self, t, y, params):
        return -params[0] * y + 0j

    def vjp(self, t, y, params, a):
        return -params[0] * a + 0j, np.array([-(a @ y)]), 0.0


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated", "backprop"])
def test_dynamics_returning_complex_is_refused_in_every_gradient_mode(gradient):
    with pytest.raises(TypeError, match="must return .*real numbers"):
        ys, pullback = nde.odeint_vjp(ComplexDecay(), [1.0], [0.0, 1.0], params=[0.5],
                                      gradient=gradient)
        pullback(np.ones_like(ys))


def test_the_callers_t_is_copied_before_the_solve():
    expected = nde.odeint(lambda s, y: -y, [1.0], np.linspace(0.0, 1.0, 5))
    t = np.linspace(0.0, 1.0, 5)

    def f(s, y):
        t[1:] = 100.0  # the caller's array, edited mid-solve
        return -y

    np.testing.assert_array_equal(nde.odeint(f, [1.0], t), expected)
    t = np.linspace(0.0, 1.0, 5)
    sol = nde.solve(lambda s, y: -y, [1.0], t)
    assert not np.shares_memory(sol.ts, t)


def test_the_pullback_does_not_read_the_callers_t():
    net = nde.nets.Sequential(nde.nets.ConcatTime(), nde.nets.Linear(2, 1))
    theta = net.init(seed=1)
    t = np.linspace(0.0, 1.0, 4)
    for gradient in ("adjoint", "interpolated", "backprop"):
        ys, pullback = nde.odeint_vjp(net, [1.0], t.copy(), params=theta, gradient=gradient)
        expected = pullback(np.ones_like(ys))
        t_edited = t.copy()
        ys, pullback = nde.odeint_vjp(net, [1.0], t_edited, params=theta, gradient=gradient)
        t_edited[:] = [5.0, 6.0, 7.0, 8.0]
        got = pullback(np.ones_like(ys))
        np.testing.assert_array_equal(got.params, expected.params)
        np.testing.assert_array_equal(got.t, expected.t)


def test_backprop_raises_on_a_non_finite_gradient_like_the_adjoint_modes():
    # y' = w * sqrt(y) + b from y0 = 0 with b = 0 stays at 0, but d sqrt(y)/dy is inf there.
    net = nde.nets.Sequential(nde.nets.Power(0.5), nde.nets.Linear(1, 1))
    theta = np.array([1.0, 0.0])
    for gradient in ("adjoint", "interpolated", "backprop"):
        ys, pullback = nde.odeint_vjp(net, [0.0], [0.0, 1.0], params=theta, gradient=gradient)
        assert np.all(ys == 0)
        with pytest.raises(nde.SolverError, match="non-finite|non_finite"):
            pullback(np.ones_like(ys))


def test_backprop_names_the_samples_whose_gradient_is_not_finite():
    net = nde.nets.Sequential(nde.nets.Power(0.5), nde.nets.Linear(1, 1))
    ys, pullback = nde.odeint_vjp(net, [[1.0], [0.0], [2.0]], [0.0, 1.0],
                                  params=np.array([1.0, 0.0]), gradient="backprop")
    with pytest.raises(nde.SolverError, match=r"samples 1\b"):
        pullback(np.ones_like(ys))


def test_power_zero_has_derivative_zero_everywhere():
    # d(u^0)/du is 0, also at u = 0, where p * u^(p-1) gave 0 * inf = NaN.
    net = nde.nets.Sequential(nde.nets.Power(0), nde.nets.Linear(2, 2))
    theta = net.init(seed=0)
    y = np.array([[0.0, 1.5], [-2.0, 0.0]])
    a = np.array([[1.0, -1.0], [0.5, 2.0]])
    a_y, a_theta, _ = net.vjp(0.0, y, theta, a)
    np.testing.assert_array_equal(a_y, np.zeros_like(y))
    assert np.all(np.isfinite(a_theta))


def test_layer_widths_past_a_c_int_are_refused():
    with pytest.raises(ValueError, match="`in_features` must be between 1 and 2147483647"):
        nde.nets.Linear(2**31, 1)
    with pytest.raises(ValueError, match="`hidden` must be between 1 and 2147483647"):
        nde.nets.MLP(2, hidden=[2**31])


def test_the_largest_widths_count_parameters_without_overflow():
    # out * (in + 1) overflowed int in C++ and the core reported a negative parameter count.
    net = nde.nets.Sequential(nde.nets.Linear(2**31 - 1, 2**31 - 1))
    assert net.num_params == (2**31 - 1) * 2**31
    net.core(2**31 - 1)  # built without error (and, in the sanitizer build, without UB)


def test_backprop_tapes_take_the_memory_they_report():
    # Every sample's tape reserved 64 steps: 16x what stored_floats reports for short solves.
    out = _run_python("""
        import resource
        import numpy as np
        import neuralode as nde
        net = nde.nets.Sequential(nde.nets.Linear(1, 1))
        y0 = np.ones((40_000, 1))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ys, pullback = nde.odeint_vjp(net, y0, [0.0, 1.0], params=np.array([-1.0, 0.0]),
                                      gradient="backprop", rtol=1e-3, atol=1e-6)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        stored = pullback(np.ones_like(ys)).stats.stored_floats
        print(peak * 1024, stored * 8)
        """)
    peak_bytes, stored_bytes = map(int, out.split())
    assert stored_bytes > 5_000_000  # large enough to see in the peak
    assert peak_bytes < 2 * stored_bytes + 8_000_000, (peak_bytes, stored_bytes)


@pytest.mark.parametrize("gradient", ["adjoint", "interpolated"])
def test_backward_passes_over_more_outputs_than_max_steps(gradient):
    # The backward solves stop at every output time: past about 1e5 outputs they hit the
    # default max_steps although every interval took one step.
    net = nde.nets.Sequential(nde.nets.Linear(1, 1))
    k = 0.5
    t = np.linspace(0.0, 1.0, 100_002)
    ys, pullback = nde.odeint_vjp(net, [1.0], t, params=np.array([-k, 0.0]), gradient=gradient)
    grads = pullback(np.ones_like(ys))
    # L = sum_i y(t_i) = sum_i exp(-k t_i) y0
    np.testing.assert_allclose(grads.y0[0], np.exp(-k * t).sum(), rtol=1e-6)
