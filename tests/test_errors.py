"""Every error path: bad arguments before any work, numerical failures as statuses."""
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import neuralode as nde

NET = nde.nets.MLP(2, hidden=[4])
THETA = NET.init(0)


def f(t, y):
    return -y


@pytest.mark.parametrize("y0,match", [
    (np.zeros((2, 2, 2)), r"`y0` must have shape \(D,\) or \(B, D\)"),
    (np.zeros(0), r"`y0` must have shape"),
    ([1.0, np.nan], r"`y0` must be finite; y0\[1\] = nan"),
    ([np.inf, 1.0], r"`y0` must be finite"),
])
def test_bad_y0(y0, match):
    with pytest.raises(ValueError, match=match):
        nde.odeint(f, y0, [0.0, 1.0])


def test_y0_of_the_wrong_kind():
    with pytest.raises(TypeError, match="`y0` must be an array of real numbers"):
        nde.odeint(f, ["a", "b"], [0.0, 1.0])


@pytest.mark.parametrize("t,match", [
    ([0.0, 1.0, 0.5], r"strictly monotone.*t\[2\] = 0.5 follows t\[1\] = 1"),
    ([0.0, 0.5, 0.5], r"t\[2\] = 0.5 follows t\[1\] = 0.5"),
    ([1.0, 0.0, 0.5], r"t\[2\] = 0.5 follows t\[1\] = 0"),
    ([0.0, np.nan], r"`t` must be finite"),
    ([0.0, np.inf], r"`t` must be finite"),
    (np.zeros((3, 2)), r"`t` must have shape \(T,\)"),
    (np.zeros(0), r"at least one time"),
])
def test_bad_t(t, match):
    with pytest.raises(ValueError, match=match):
        nde.odeint(f, [1.0, 2.0], t)


def test_bad_values_in_a_batch_are_located():
    with pytest.raises(ValueError, match=r"`y0` must be finite; y0\[1, 0\] = inf"):
        nde.odeint(f, [[1.0, 2.0], [np.inf, 0.0]], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`t` must be finite; t\[1, 2\] = nan"):
        nde.odeint(f, np.zeros((2, 2)), [[0.0, 1.0, 2.0], [0.0, 1.0, np.nan]])


def test_per_sample_t_must_match_the_batch():
    with pytest.raises(ValueError, match=r"\(T,\) or \(3, T\)"):
        nde.odeint(f, np.zeros((3, 2)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"t\[1, 2\] = 0 follows t\[1, 1\] = 1"):
        nde.odeint(f, np.zeros((2, 2)), [[0.0, 1.0, 2.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("kwargs,error,match", [
    ({"rtol": 0.0}, ValueError, "`rtol` must be positive; got 0.0"),
    ({"rtol": -1e-6}, ValueError, "`rtol` must be positive"),
    ({"atol": -1.0}, ValueError, "`atol` must be positive"),
    ({"atol": [1e-6, 0.0]}, ValueError, "`atol` must be positive"),
    ({"atol": [1e-6, 1e-6, 1e-6]}, ValueError, r"`atol` must be a scalar or have shape \(2,\)"),
    ({"rtol": "tight"}, TypeError, "`rtol` must be a real number"),
    ({"method": "rk45"}, ValueError, "`method` must be one of 'euler', 'midpoint', 'rk4', "
                                     "'bosh3', 'dopri5'; got 'rk45'"),
    ({"method": 4}, TypeError, "`method` must be a string"),
    ({"step_size": 0.1}, ValueError, "`step_size` applies to the fixed-step methods"),
    ({"method": "rk4", "step_size": -0.1}, ValueError, "`step_size` must be positive"),
    ({"first_step": 0.0}, ValueError, "`first_step` must be positive"),
    ({"max_step": -1.0}, ValueError, "`max_step` must be positive"),
    ({"max_step": np.array([np.inf, 1.0])}, TypeError, "`max_step` must be a real number"),
    ({"max_step": float("nan")}, ValueError, "`max_step` must be finite"),
    ({"max_steps": True}, TypeError, "`max_steps` must be an int"),
    ({"max_steps": 0}, ValueError, "`max_steps` must be at least 1"),
    ({"max_steps": 10.5}, TypeError, "`max_steps` must be an int"),
    ({"num_threads": 0}, ValueError, "`num_threads` must be at least 1"),
    ({"params": THETA}, ValueError, "`params` is only used with networks"),
    ({"rtoll": 1e-3}, TypeError, "rtoll"),
])
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        nde.odeint(f, [1.0, 2.0], [0.0, 1.0], **kwargs)


def test_network_params_errors():
    with pytest.raises(ValueError, match=r"`params` must have shape \(22,\) for this network; "
                                         r"got shape \(21,\)"):
        nde.odeint(NET, [1.0, 2.0], [0.0, 1.0], params=THETA[:-1])
    with pytest.raises(ValueError, match=r"`params` must be finite; params\[3\] = nan"):
        nde.odeint(NET, [1.0, 2.0], [0.0, 1.0], params=np.where(np.arange(22) == 3, np.nan, THETA))
    with pytest.raises(ValueError, match="`params` is required"):
        nde.odeint(NET, [1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="`y0` has 3 components but the network takes states of 2"):
        nde.odeint(NET, [1.0, 2.0, 3.0], [0.0, 1.0], params=THETA)


def test_func_of_the_wrong_kind():
    with pytest.raises(TypeError, match="`func` must be a neuralode.nets network, a neuralode.Dynamics or a callable"):
        nde.odeint("f", [1.0], [0.0, 1.0])


def test_callable_returning_the_wrong_shape():
    with pytest.raises(ValueError, match=r"`func` must return an array of shape \(2,\)"):
        nde.odeint(lambda t, y: np.zeros(3), [1.0, 2.0], [0.0, 1.0])


def test_exception_in_f_propagates_unchanged():
    class Boom(Exception):
        pass

    error = Boom("from f")

    def bad(t, y):
        if t > 0.3:
            raise error
        return -y

    with pytest.raises(Boom) as caught:
        nde.odeint(bad, [1.0], [0.0, 1.0])
    assert caught.value is error


def test_blow_up_is_a_step_size_underflow():
    """y' = y², y(0) = 1 has y = 1/(1 - t): a singularity at t = 1."""
    with pytest.raises(nde.SolverError, match=r"stopped at t = (0\.9999|1\.0000).* 'step_size_underflow'.*blow up"):
        nde.odeint(lambda t, y: y**2, [1.0], [0.0, 2.0])
    sol = nde.solve(lambda t, y: y**2, [1.0], [0.0, 0.5, 0.9, 1.5, 2.0], throw=False)
    assert sol.status == "step_size_underflow" and not sol.success
    assert abs(sol.t_reached - 1.0) < 1e-6  # the numerical blow-up time
    np.testing.assert_allclose(sol.ys[:3, 0], [1, 2, 10], rtol=1e-6)
    assert np.all(np.isnan(sol.ys[3:]))


def test_max_steps_reached_per_sample():
    y0 = np.array([[0.1], [10.0]])  # the second sample needs many more steps
    sol = nde.solve(lambda t, y: -y**3, y0, np.linspace(0, 1, 5), max_steps=30, throw=False)
    assert list(sol.status) == ["success", "max_steps_reached"]
    assert sol.stats.n_steps[1] == 30
    assert np.all(np.isfinite(sol.ys[:, 0])) and np.isnan(sol.ys[-1, 1])
    with pytest.raises(nde.SolverError, match=r"1 of 2 samples failed:\nsample 1 stopped at t = .* "
                                              r"'max_steps_reached'.*increase `max_steps`"):
        nde.solve(lambda t, y: -y**3, y0, np.linspace(0, 1, 5), max_steps=30)


def test_non_finite_state_from_a_network():
    """sqrt of a negative number inside the network gives NaN; the sample says so."""
    net = nde.nets.Sequential(nde.nets.Linear(1, 1), nde.nets.Power(0.5))
    sol = nde.solve(net, np.array([[4.0], [-1.0]]), [0.0, 1.0], params=[1.0, 0.0], throw=False)
    assert list(sol.status) == ["success", "non_finite_state"]
    with pytest.raises(nde.SolverError, match="non_finite_state.*NaN or inf"):
        nde.odeint(net, np.array([[4.0], [-1.0]]), [0.0, 1.0], params=[1.0, 0.0])


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_non_finite_state_midway(method):
    def f(t, y):
        return -y if t < 0.5 else np.array([np.nan])

    kwargs = {"step_size": 0.01} if method == "rk4" else {}
    sol = nde.solve(f, [1.0], [0.0, 0.25, 1.0], method=method, throw=False, **kwargs)
    assert sol.status == "non_finite_state"
    assert 0.2 < sol.t_reached <= 0.5
    assert np.isfinite(sol.ys[1, 0]) and np.isnan(sol.ys[2, 0])


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_interrupts_a_long_solve():
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            nde.odeint(lambda t, y: np.cos(y), [0.0], [0.0, 1e9], method="rk4", step_size=1e-3,
                       max_steps=10**12)
    finally:
        timer.cancel()


@pytest.mark.parametrize("kwargs,error,match", [
    ({"atol": "1e-9"}, TypeError, "`atol` must be an array of real numbers; got str"),
    ({"atol": True}, TypeError, "`atol` must be an array of real numbers; got bool"),
    ({"method": "rk4", "first_step": 0.1}, ValueError, "`first_step` applies to the adaptive"),
    ({"method": "euler", "max_step": 0.1}, ValueError, "`max_step` applies to the adaptive"),
    ({"max_steps": 2**70}, ValueError, "`max_steps` must be at most"),
    ({"num_threads": 2**40}, ValueError, "`num_threads` must be at most 1024"),
])
def test_more_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        nde.odeint(NET, [1.0, 2.0], [0.0, 1.0], params=THETA, **kwargs)


def test_complex_values_are_refused_not_truncated():
    with pytest.raises(TypeError, match="`y0` must be an array of real numbers; got ndarray of "
                                        "complex128"):
        nde.odeint(f, np.array([1.0 + 1j, 2.0]), [0.0, 1.0])
    with pytest.raises(TypeError, match="`t` must be an array of real numbers"):
        nde.odeint(f, [1.0, 2.0], np.array([0.0, 1.0 + 0j]))


def test_callable_returning_something_that_is_not_numbers():
    with pytest.raises(TypeError, match="`func` must return an array of real numbers; got str"):
        nde.odeint(lambda t, y: "ab", [1.0, 2.0], [0.0, 1.0])


class Decay(nde.Dynamics):
    num_params = 1

    def __init__(self, vjp_result):
        self.vjp_result = vjp_result

    def f(self, t, y, params):
        return -params[0] * y

    def vjp(self, t, y, params, a):
        return self.vjp_result(y, a)


@pytest.mark.parametrize("vjp_result,match", [
    (lambda y, a: (-a, np.array([-(a @ y)]), None), "`vjp` must return a_t as a real number"),
    (lambda y, a: None, r"`vjp` must return a tuple \(a_y, a_params, a_t\); got NoneType"),
    (lambda y, a: ("x", np.zeros(1), 0.0), "`vjp` must return a_y and a_params as arrays"),
])
def test_vjp_returning_the_wrong_things(vjp_result, match):
    ys, pullback = nde.odeint_vjp(Decay(vjp_result), [1.0], [0.0, 1.0], params=np.array([0.5]))
    with pytest.raises(TypeError, match=match):
        pullback(np.ones_like(ys))


def test_mlp_hidden_must_be_a_list():
    with pytest.raises(TypeError, match=r"`hidden` must be a list of layer widths, e.g. \[64\]; "
                                        "got int"):
        nde.nets.MLP(2, hidden=50)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_interrupts_a_long_network_solve(threads):
    # Without the interruption this solve would run for minutes and then fail on max_steps.
    net = nde.nets.MLP(2, hidden=[16])
    y0 = np.random.default_rng(0).normal(size=(8, 2))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            nde.odeint(net, y0, [0.0, 1e9], params=net.init(0), rtol=1e-12, atol=1e-12,
                       max_steps=10**9, num_threads=threads)
    finally:
        timer.cancel()
    # The next solve runs normally.
    ys = nde.odeint(net, y0, [0.0, 0.1], params=net.init(0), num_threads=threads)
    assert np.all(np.isfinite(ys))


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_stops_every_thread_not_only_the_caller():
    # One short and one endless sample on two threads: whichever thread is left with the
    # endless one stops too.
    net = nde.nets.MLP(2, hidden=[16])
    t = np.array([np.linspace(0.0, 1.0, 3), np.linspace(0.0, 1e9, 3)])
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            nde.odeint(net, np.ones((2, 2)), t, params=net.init(0), rtol=1e-12, atol=1e-12,
                       max_steps=10**9, num_threads=2)
    finally:
        timer.cancel()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_interrupts_a_backprop_pullback():
    # Signalled 15% into the pullback, it must stop long before a whole pullback's time.
    net = nde.nets.MLP(2, hidden=[512])
    y0 = np.random.default_rng(1).normal(size=(8000, 2))
    ys, pullback = nde.odeint_vjp(net, y0, [0.0, 1.0, 2.0], params=net.init(0),
                                  gradient="backprop", rtol=1e-6, num_threads=2)
    start = time.perf_counter()
    pullback(np.ones_like(ys))
    whole = time.perf_counter() - start
    timer = threading.Timer(0.15 * whole, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pullback(np.ones_like(ys))
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 0.6 * whole


def test_exact_numbers_convert():
    from decimal import Decimal
    from fractions import Fraction
    t = [Fraction(0), Fraction(1, 2), Fraction(1)]
    ys = nde.odeint(f, [1.0, 2.0], t, atol=Decimal("1e-9"))
    np.testing.assert_array_equal(ys, nde.odeint(f, [1.0, 2.0], [0.0, 0.5, 1.0], atol=1e-9))
    with pytest.raises(TypeError, match="`t` must be an array of real numbers"):
        nde.odeint(f, [1.0, 2.0], np.array([0.0, "1"], dtype=object))


def test_fixed_step_blow_up_counts_every_call():
    calls = []

    def square(t, y):
        calls.append(t)
        with np.errstate(over="ignore", invalid="ignore"):
            return y * y

    sol = nde.solve(square, [1.0], np.linspace(0.0, 2.0, 21), method="rk4", throw=False)
    assert sol.status == "non_finite_state"
    assert sol.stats.nfe == len(calls)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_a_sigint_handler_of_the_programs_own_lets_the_solve_finish():
    # A handler that does not raise (a graceful shutdown, asyncio) must not cost the result.
    net = nde.nets.MLP(2, hidden=[64])
    y0 = np.random.default_rng(2).normal(size=(40_000, 2))  # about 0.4 s
    kwargs = dict(params=net.init(0), rtol=1e-10, atol=1e-12, num_threads=2)
    expected = nde.odeint(net, y0, [0.0, 3.0], **kwargs)
    noted = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        ys = nde.odeint(net, y0, [0.0, 3.0], **kwargs)
        timer.join()
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    np.testing.assert_array_equal(ys, expected)
    assert noted == [signal.SIGINT]


@pytest.mark.parametrize("y0,t,theta,match", [
    (np.zeros((1, 1, 2)), np.array([[0.0, 1.0]]), THETA, "the core takes y0 as"),
    (np.zeros((2, 2)), np.zeros((3, 2)), THETA, "the core takes y0 as"),
    (np.zeros((1, 2)), np.zeros((1, 0)), THETA, "the core takes y0 as"),
    (np.zeros((1, 3)), np.array([[0.0, 1.0]]), THETA, "states of 2 components, not 3"),
    (np.zeros((1, 2)), np.array([[0.0, 1.0]]), THETA[:-1], r"`params` must have shape \(22,\)"),
])
def test_the_core_refuses_arrays_that_do_not_fit(y0, t, theta, match):
    """The private core is reached through the checks above; handed raw arrays of the wrong
    shape, it raises rather than reading or writing past them."""
    from neuralode import _core
    with pytest.raises(ValueError, match=match):
        _core.solve(_core.NetworkRhs(NET.core(2), theta), y0, t, _core.SolverOptions())


# Messages that leaked numpy/pybind11 internals or pointed at a mini-batch row (found by
# tests/test_properties.py); each now names the argument.
@pytest.mark.parametrize("call,error,match", [
    (lambda: NET(np.zeros(3), np.zeros((2, 2)), THETA), ValueError,
     r"`t` must be a scalar or hold one time per row of `y` \(2\); got shape \(3,\)"),
    (lambda: NET("a", np.zeros(2), THETA), TypeError, "`t` must be an array of real numbers"),
    (lambda: NET(0.0, [[1.0], [1.0, 2.0]], THETA), TypeError,
     "`y` must be an array of real numbers; got list"),
    (lambda: NET(0.0, np.array([1.0 + 1j, 0.0]), THETA), TypeError,
     "`y` must be an array of real numbers; got ndarray of complex128"),
    (lambda: NET(0.0, np.zeros(3), THETA), ValueError,
     "`y` has 3 components but the network takes states of 2"),
    (lambda: NET.vjp(0.0, np.zeros(2), THETA, "ab"), TypeError,
     "`a` must be an array of real numbers"),
    (lambda: NET.vjp(np.zeros(3), np.zeros((2, 2)), THETA, np.zeros((2, 2))), ValueError,
     "`t` must be a scalar or hold one time per row"),
    (lambda: nde.odeint(NET, [1.0, 2.0], [0.0, 1.0], params=[[1.0], [1.0, 2.0]]), TypeError,
     "`params` must be a float array; got a ragged list"),
    (lambda: NET.init(seed="a"), TypeError, "`seed` must be None or an int >= 0; got 'a'"),
    (lambda: NET.init(seed=-1), ValueError, "`seed` must be None or an int >= 0; got -1"),
    (lambda: nde.load(None), TypeError, "`path` must be a file name"),
])
def test_messages_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def fit(t, y, **kwargs):
    return nde.NeuralODE(NET).fit(t, y, iterations=1, progress=False, **kwargs)


T_FIT = np.linspace(0.0, 1.0, 5)
Y_FIT = np.zeros((5, 3, 2))


@pytest.mark.parametrize("t,y,kwargs,error,match", [
    # the solves see mini-batch rows: these used to say t[0, 3] for the caller's t[2, 3]
    (np.array([T_FIT, T_FIT, [0.0, 0.1, 0.2, 0.2, 0.3]]), Y_FIT, {}, ValueError,
     r"`t` must be strictly monotone .*; t\[2, 3\] = 0.2 follows t\[2, 2\] = 0.2"),
    ([0.0, 1.0, 1.0, 2.0, 3.0], Y_FIT, {}, ValueError,
     r"t\[2\] = 1 follows t\[1\] = 1"),
    (T_FIT, np.zeros((5, 3, 3)), {}, ValueError,
     "`y` has 3 components but the network takes states of 2"),
    (T_FIT, Y_FIT, {"validation": (T_FIT, np.zeros((5, 1, 3)))}, ValueError,
     "`validation`: `y` has 3 components"),
    (T_FIT, Y_FIT, {"validation": 5}, TypeError, "`validation` must be a pair"),
    (T_FIT, Y_FIT, {"callbacks": None}, TypeError, "`callbacks` must be a list of functions"),
    (T_FIT, Y_FIT, {"seed": "a"}, TypeError, "`seed` must be None or an int >= 0"),
    (T_FIT, Y_FIT, {"seed": -1, "validation_split": 0.3}, ValueError, "`seed` must be None"),
])
def test_fit_errors_point_at_the_callers_data(t, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit(t, y, **kwargs)


@pytest.mark.parametrize("content", [b"", b"\x80", b"\x93NUMPY", b"not a model"])
def test_load_of_a_file_that_is_not_an_archive(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"model.npz: not a readable neuralode model file "
                                         r"\((a single array, not an .npz archive|not a zip "
                                         r"archive)"):
        nde.load(path)


@pytest.mark.parametrize("returned", [lambda y: -y + 0j, lambda y: (-y + 1j).tolist()])
def test_callable_returning_complex_values_is_refused_not_truncated(returned):
    # With warnings as a program sees them, not as errors (pytest's setting), numpy's cast
    # used to truncate them with only a ComplexWarning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="`func` must return an array of real numbers"):
            nde.odeint(lambda t, y: returned(y), [1.0, 2.0], [0.0, 1.0])
    assert not caught


def test_a_failed_fit_names_the_callers_trajectories_not_mini_batch_rows():
    # Only trajectory 3 blows up (y' = 5 y**3 from (3, 3)); the others stay at 0.
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 2))
    y = np.zeros((6, 6, 2))
    y[:, 3] = 3.0
    model = nde.NeuralODE(net, params=[5.0, 0.0, 0.0, 5.0, 0.0, 0.0])
    with pytest.warns(nde.train.TrainingStopped):
        history = model.fit(np.linspace(0.0, 2.0, 6), y, iterations=3, batch_size=6,
                            batch_time=3, seed=1, progress=False)
    failures = [line for line in history.stopped.splitlines() if "stopped at" in line]
    assert failures and all(line.startswith("trajectory 3 (the window from observation ")
                            for line in failures), history.stopped
    assert "throw=False" not in history.stopped
    # Held out by validation_split: trajectory 4 is the third of the held-out [0, 2, 4].
    y = np.zeros((6, 6, 2))
    y[:, 4] = 3.0
    model = nde.NeuralODE(net, params=[5.0, 0.0, 0.0, 5.0, 0.0, 0.0])
    with pytest.warns(nde.train.TrainingStopped):
        history = model.fit(np.linspace(0.0, 2.0, 6), y, iterations=2, batch_size=1,
                            batch_time=2, seed=1, validation_split=0.5, progress=False)
    assert "the validation solve failed" in history.stopped
    assert "\ntrajectory 4 stopped at" in history.stopped, history.stopped


def test_the_options_object_keeps_its_method_after_a_bad_one():
    from neuralode import _core
    for options in (_core.SolverOptions(), _core.AdjointOptions()):
        with pytest.raises(ValueError, match="unknown method 'nope'"):
            options.method = "nope"
        assert options.method == "dopri5"
