"""Property-based tests (hypothesis): random shapes, dtypes, strides, NaN/inf placements,
time grids, tolerances and keyword values for every public entry point.

Properties:
- nothing crashes: every error is a ValueError/TypeError naming the offending argument in
  backticks, or a SolverError; no pybind11 or numpy internal message reaches the user, and
  an element a message points at (``t[1, 2] = 0.5``) is that element of the caller's data;
- arrays of another dtype or layout (float32, ints, lists, non-contiguous or reversed
  views) give the bits of their float64 C-contiguous copy;
- a batched solve gives, bit for bit, the per-sample solves (values and gradients);
- gradients are finite wherever the solve succeeded.

The example budget is fixed and the examples derandomized, so the file runs in the same
few seconds every time.
"""
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuralode as nde
from neuralode.train import TrainingStopped


def budget(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


NET = nde.nets.MLP(2, hidden=[5], activation="tanh", time_input=True)
THETA = NET.init(seed=3)
GRADIENTS = nde.GRADIENT_MODES

# Messages of numpy, pybind11 or the interpreter that mean an argument slipped past the checks.
LEAKS = ("incompatible function arguments", "__call__()", "could not broadcast",
         "setting an array element with a sequence", "ufunc", "casting", "Cannot cast",
         "could not convert", "inhomogeneous", "Invoked with", "pybind11", "SeedSequence",
         "is not iterable", "argument after", "positional argument", "non-negative integer",
         "allow_pickle", "unsupported operand", "object of type", "not subscriptable",
         "has no attribute", "got an unexpected keyword", "remapped shapes",
         "float() argument", "int() argument")


def plain_f(t, y):
    return np.sin(t) - y


class Decay(nde.Dynamics):
    """dy/dt = -p0 y + p1 sin(t) and its VJP."""

    num_params = 2

    def f(self, t, y, params):
        return -params[0] * y + params[1] * np.sin(t)

    def vjp(self, t, y, params, a):
        return -params[0] * a, np.array([-(a @ y), np.sin(t) * a.sum()]), \
            params[1] * np.cos(t) * a.sum()


DECAY_PARAMS = np.array([0.7, 0.3])


def _check_references(message, args):
    """Every `name[i, j] = v` in the message names an element of the caller's `name`."""
    for name, index, shown in re.findall(r"\b(\w+)\[([\d, ]+)\] = (\S+?)(?=[ ;,)]|$)", message):
        if name not in args:
            continue
        values = np.asarray(args[name])
        index = tuple(int(i) for i in index.split(","))
        assert len(index) == values.ndim, \
            f"{message!r} points at {name}{list(index)}, but `{name}` has shape {values.shape}"
        assert all(0 <= i < n for i, n in zip(index, values.shape)), \
            f"{message!r} points outside `{name}` of shape {values.shape}"
        assert f"{float(values[index]):g}" == shown, \
            f"{message!r}: the caller's {name}{list(index)} is {values[index]}"


def attempt(call, **args):
    """call()'s result, or None after an allowed error: a SolverError, or a ValueError or
    TypeError that names one of `args` (the arguments that vary) and leaks nothing. Warnings
    are recorded as a user's program would see them (not raised as pytest's settings
    would): none may come, but a TrainingStopped from fit."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", TrainingStopped)
            try:
                return call()
            finally:
                assert not caught, [str(w.message) for w in caught]
    except nde.SolverError:
        return None
    except (ValueError, TypeError) as error:
        message = str(error)
        leaks = [leak for leak in LEAKS if leak in message]
        assert not leaks, f"{type(error).__name__} leaks an internal message: {message!r}"
        assert any(f"`{name}`" in message for name in args), \
            f"{type(error).__name__}({message!r}) names none of {sorted(args)}"
        _check_references(message, args)
        return None


# -- strategies ------------------------------------------------------------------------------

def finite(lo=-3.0, hi=3.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def float_arrays(draw, shape, lo=-3.0, hi=3.0):
    return np.array(draw(st.lists(finite(lo, hi), min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape)))), dtype=np.float64).reshape(shape)


@st.composite
def presented(draw, values):
    """The float64 array `values` handed over another way that means the same numbers."""
    how = draw(st.sampled_from(["as is", "list", "float32", "strided", "reversed", "fortran",
                                "readonly", "int"]))
    if how == "list":
        return values.tolist()
    if how == "float32":
        return values.astype(np.float32)
    if how == "int":
        return np.round(values).astype(draw(st.sampled_from([np.int64, np.int32, np.uint8]))) \
            if np.all(values >= 0) else np.round(values).astype(np.int16)
    if how == "strided" and values.ndim:
        big = np.zeros(values.shape[:-1] + (2 * values.shape[-1],))
        big[..., ::2] = values
        return big[..., ::2]
    if how == "reversed" and values.ndim:
        return np.ascontiguousarray(values[::-1])[::-1]
    if how == "fortran":
        return np.asfortranarray(values)
    if how == "readonly":
        values = values.copy()
        values.flags.writeable = False
    return values


@st.composite
def spoiled(draw, values):
    """`values` made invalid or odd in one way (or left alone)."""
    how = draw(st.sampled_from(["nan", "inf", "-inf", "complex", "bool", "object str",
                                "ragged", "str", "none", "dict", "scalar", "empty",
                                "extra dim", "drop dim", "fractions", "as is"]))
    if how in ("nan", "inf", "-inf") and values.size:
        values = values.astype(np.float64).copy()
        values.flat[draw(st.integers(0, values.size - 1))] = float(how)
        return values
    if how == "complex":
        return values + draw(st.sampled_from([0j, 1j]))
    if how == "bool":
        return values > 0
    if how == "object str" and values.size:
        obj = values.astype(object)
        obj.flat[0] = "1.0"
        return obj
    if how == "ragged" and values.ndim:
        rows = values.tolist() if values.ndim > 1 else [values.tolist()]
        return rows + [[1.0] * (len(rows[0]) + 1)]
    if how == "str":
        return "0 1"
    if how == "none":
        return None
    if how == "dict":
        return {"a": 1.0}
    if how == "scalar":
        return 1.5
    if how == "empty":
        return np.zeros((0,) + values.shape[1:])
    if how == "extra dim":
        return values[None]
    if how == "drop dim" and values.ndim:
        return values.reshape(-1)[:1].reshape(()) if values.ndim == 1 else values[0]
    if how == "fractions" and values.size:
        from fractions import Fraction
        return np.array([Fraction(v).limit_denominator(1000) for v in values.flat],
                        dtype=object).reshape(values.shape)
    return values


@st.composite
def grids(draw, rows=None, times=None):
    """A strictly monotone time grid (T,), or (rows, T) with each row its own (direction
    included) when `rows` is given."""
    times = draw(st.integers(1, 5)) if times is None else times

    def one():
        start = draw(finite(-2.0, 2.0))
        steps = draw(st.lists(st.floats(0.05, 0.6), min_size=times - 1, max_size=times - 1))
        row = start + np.concatenate([[0.0], np.cumsum(steps)])
        return row if draw(st.booleans()) else row[::-1].copy()
    if rows is None:
        return one()
    return np.array([one() for _ in range(rows)])


@st.composite
def odd_grids(draw, rows=None, times=None):
    """Monotone grids, or ones with a repeated time, a turn, NaN or inf at some place."""
    t = draw(grids(rows, times))
    how = draw(st.sampled_from(["as is", "repeat", "turn", "nan", "inf", "spoil", "present"]))
    T = t.shape[-1]
    if how in ("repeat", "turn") and T >= 2:
        t = t.copy()
        i = draw(st.integers(1, T - 1))
        row = t if t.ndim == 1 else t[draw(st.integers(0, t.shape[0] - 1))]
        row[i] = row[i - 1] if how == "repeat" else 2 * row[i - 1] - row[i]
    elif how in ("nan", "inf"):
        t = t.copy()
        t.flat[draw(st.integers(0, t.size - 1))] = float(how)
    elif how == "spoil":
        return draw(spoiled(t))
    elif how == "present":
        return draw(presented(t))
    return t


ODD_NUMBERS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 200_000), st.sampled_from([2**70, -2**70]),
    st.floats(allow_nan=True, allow_infinity=True), st.complex_numbers(max_magnitude=2),
    st.text(max_size=3), st.sampled_from([[1e-6, 1e-6], [1e-6], [[1e-6, 1e-6]], (1e-6, 1e-6)]),
    st.builds(np.float32, st.sampled_from([1e-6, 1e-3, 0.5, -1.0])),
    st.builds(np.int64, st.integers(1, 9)),
    st.builds(np.array, st.sampled_from([1e-6, [1e-6, 1e-5], [0.0, 1e-6], [[1e-6]]])),
    st.floats(1e-12, 1.0), st.floats(0.02, 1.0))

METHOD_VALUES = st.one_of(st.sampled_from(nde.METHODS), st.sampled_from(
    ["RK4", "rk45", "", None, 4, ["rk4"], b"rk4"]))


@st.composite
def solver_options(draw, gradients=False):
    """1 to 3 of the solver keywords with odd values (the loops stay bounded: a tiny step
    meets at most the default max_steps)."""
    names = ["rtol", "atol", "method", "step_size", "first_step", "max_step", "max_steps",
             "num_threads"]
    if gradients:
        names += ["adjoint_rtol", "adjoint_atol", "adjoint_norm"]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    options = {}
    for name in chosen:
        if name == "method":
            options[name] = draw(METHOD_VALUES)
        elif name == "adjoint_norm":
            options[name] = draw(st.sampled_from(["seminorm", "full", "semi", None, 1]))
        elif name == "max_steps":
            options[name] = draw(st.one_of(st.integers(-2, 100_000), st.sampled_from(
                [2**70, 2.5, True, "10", None, np.int64(40)])))
        elif name == "num_threads":
            options[name] = draw(st.one_of(st.integers(-1, 4), st.sampled_from(
                [2**40, 1.0, "2", True, np.int32(2), None])))
        else:
            options[name] = draw(ODD_NUMBERS)
    return options


def reference(x, dtype=np.float64):
    """The C-contiguous copy (float64, or dtype) an argument of real numbers stands for."""
    return np.ascontiguousarray(np.asarray(x, dtype=dtype))


def promoted(*arguments):
    """The dtype a solve of these arguments runs in: numpy's promotion, float32 (or float16)
    alone staying float32, anything else float64."""
    kind = np.result_type(*(np.asarray(a).dtype for a in arguments if a is not None))
    return np.float32 if kind in (np.float32, np.float16) else np.float64


# -- odeint and solve ------------------------------------------------------------------------

FUNCS = {"network": (NET, THETA), "callable": (plain_f, None), "dynamics": (Decay(), DECAY_PARAMS)}


@budget(200)
@given(data=st.data(), func=st.sampled_from(sorted(FUNCS)), batch=st.sampled_from([None, 1, 3]))
def test_odeint_y0_of_any_kind(data, func, batch):
    f, params = FUNCS[func]
    y0 = data.draw(float_arrays((2,) if batch is None else (batch, 2)))
    y0 = data.draw(st.one_of(presented(y0), spoiled(y0)))
    t = data.draw(grids())
    ys = attempt(lambda: nde.odeint(f, y0, t, params=params), y0=y0)
    if ys is not None:
        dtype = promoted(y0, params)  # a float32 y0 alone (a plain callable) solves in float32
        expected = nde.odeint(f, reference(y0, dtype), t, params=params)
        np.testing.assert_array_equal(ys, expected)
        assert ys.shape == (len(t),) + np.shape(y0) and ys.dtype == dtype


@budget(200)
@given(data=st.data(), func=st.sampled_from(sorted(FUNCS)), batch=st.sampled_from([None, 2]))
def test_odeint_t_of_any_kind(data, func, batch):
    f, params = FUNCS[func]
    y0 = data.draw(float_arrays((2,) if batch is None else (batch, 2)))
    t = data.draw(odd_grids(rows=batch if batch and data.draw(st.booleans()) else None))
    sol = attempt(lambda: nde.solve(f, y0, t, params=params, throw=False), t=t)
    if sol is not None:
        expected = nde.solve(f, y0, reference(t), params=params, throw=False)
        np.testing.assert_array_equal(sol.ys, expected.ys)
        np.testing.assert_array_equal(sol.ts, reference(t))
        np.testing.assert_array_equal(sol.ys[0], y0)


@budget(300)
@given(options=solver_options(), func=st.sampled_from(["network", "callable"]),
       batch=st.sampled_from([None, 2]))
def test_odeint_keywords_of_any_value(options, func, batch):
    f, params = FUNCS[func]
    y0 = np.array([[0.5, -1.0], [1.0, 0.25]])[:batch] if batch else np.array([0.5, -1.0])
    with np.errstate(all="ignore"):
        attempt(lambda: nde.odeint(f, y0, [0.0, 0.4, 1.0], params=params, **options), **options)


@budget(100)
@given(params=st.one_of(float_arrays((NET.num_params,)), float_arrays((3,)))
       .flatmap(lambda p: st.one_of(presented(p), spoiled(p))))
def test_network_params_of_any_kind(params):
    ys = attempt(lambda: nde.odeint(NET, [0.5, -1.0], [0.0, 1.0], params=params), params=params)
    if ys is not None:
        np.testing.assert_array_equal(ys, nde.odeint(NET, [0.5, -1.0], [0.0, 1.0],
                                                     params=reference(params)))


@budget(150)
@given(data=st.data(), func=st.sampled_from(["network", "callable"]),
       method=st.sampled_from(nde.METHODS), per_sample=st.booleans(),
       batch=st.integers(1, 9), threads=st.sampled_from([None, 1, 2]))
def test_a_batch_solves_each_sample_as_alone(data, func, method, per_sample, batch, threads):
    f, params = FUNCS[func]
    y0 = data.draw(float_arrays((batch, 2)))
    t = data.draw(grids(rows=batch if per_sample else None, times=data.draw(st.integers(1, 4))))
    kwargs = dict(params=params, method=method, rtol=data.draw(st.sampled_from([1e-3, 1e-7])),
                  atol=1e-8)
    if func == "network":
        kwargs["num_threads"] = threads
    sol = nde.solve(f, y0, t, throw=False, **kwargs)
    for b in range(batch):
        alone = nde.solve(f, y0[b], t[b] if per_sample else t, throw=False, **kwargs)
        np.testing.assert_array_equal(sol.ys[:, b], alone.ys)
        assert sol.status[b] == alone.status
        assert sol.stats.nfe[b] == alone.stats.nfe


RETURNS = st.sampled_from([
    "list", "float32", "int", "strided", "reversed", "complex", "complex zero", "bool",
    "scalar", "none", "str", "wrong length", "2-d", "object", "ragged", "tuple", "nan"])


def odd_return(how, y):
    """f(t, y) = -y, returned in the way `how` names."""
    value = -y
    return {"list": lambda: value.tolist(), "float32": lambda: value.astype(np.float32),
            "int": lambda: np.round(value).astype(int),
            "strided": lambda: np.repeat(value, 2)[::2], "reversed": lambda: value[::-1][::-1],
            "complex": lambda: value + 1j, "complex zero": lambda: value + 0j,
            "bool": lambda: value > 0, "scalar": lambda: 1.0, "none": lambda: None,
            "str": lambda: "ab", "wrong length": lambda: np.append(value, 1.0),
            "2-d": lambda: value[None], "object": lambda: value.astype(object),
            "ragged": lambda: [value.tolist(), [1.0]], "tuple": lambda: tuple(value),
            "nan": lambda: value * np.nan}[how]()


@budget(100)
@given(how=RETURNS, method=st.sampled_from(nde.METHODS), batch=st.sampled_from([None, 2]))
def test_callable_returning_anything(how, method, batch):
    y0 = np.array([[0.5, -1.0], [1.0, 0.25]])[:batch] if batch else np.array([0.5, -1.0])
    with np.errstate(invalid="ignore"):
        ys = attempt(lambda: nde.odeint(lambda t, y: odd_return(how, y), y0, [0.0, 0.5],
                                        method=method), func=how)
    if ys is not None:
        np.testing.assert_array_equal(ys, nde.odeint(
            lambda t, y: reference(odd_return(how, y)), y0, [0.0, 0.5], method=method))


class OddDynamics(nde.Dynamics):
    num_params = 1

    def __init__(self, f_how, vjp_how):
        self.f_how, self.vjp_how = f_how, vjp_how

    def f(self, t, y, params):
        return odd_return(self.f_how, y)

    def vjp(self, t, y, params, a):
        return odd_return(self.vjp_how, a), np.zeros(1), 0.0


@budget(150)
@given(f_how=RETURNS, vjp_how=RETURNS, gradient=st.sampled_from(GRADIENTS))
def test_dynamics_returning_anything(f_how, vjp_how, gradient):
    dynamics = OddDynamics(f_how, vjp_how)
    with np.errstate(invalid="ignore"):
        out = attempt(lambda: nde.odeint_vjp(dynamics, [0.5, -1.0], [0.0, 0.5], params=[1.0],
                                             gradient=gradient), func=f_how, f=f_how)
        if out is not None:
            ys, pullback = out
            g = attempt(lambda: pullback(np.ones_like(ys)), func=f_how, f=f_how, vjp=vjp_how)
            # A vjp that returns NaN fails the backward solve of the adjoint modes, and
            # backprop's check of its gradients: every mode raises SolverError.
            if g is not None:
                assert all(np.all(np.isfinite(x)) for x in (g.y0, g.params, g.t))


# -- gradients -------------------------------------------------------------------------------

@budget(150)
@given(data=st.data(), func=st.sampled_from(["network", "dynamics"]),
       gradient=st.sampled_from(GRADIENTS), method=st.sampled_from(nde.METHODS),
       per_sample=st.booleans(), batch=st.integers(1, 4))
def test_gradients_of_a_batch_are_the_per_sample_gradients(data, func, gradient, method,
                                                           per_sample, batch):
    f, params = FUNCS[func]
    y0 = data.draw(float_arrays((batch, 2)))
    t = data.draw(grids(rows=batch if per_sample else None, times=data.draw(st.integers(1, 4))))
    T = t.shape[-1]
    dL = data.draw(float_arrays((T, batch, 2)))
    kwargs = dict(params=params, gradient=gradient, method=method, rtol=1e-6, atol=1e-8)
    out = attempt(lambda: nde.odeint_vjp(f, y0, t, **kwargs))
    if out is None:
        return
    ys, pullback = out
    g = pullback(dL)
    for grad in (g.y0, g.params, g.t):
        assert np.all(np.isfinite(grad)), (gradient, method, grad)
    assert g.y0.shape == y0.shape and g.params.shape == params.shape and g.t.shape == t.shape
    alone = []
    for b in range(batch):
        ys_b, pullback_b = nde.odeint_vjp(f, y0[b], t[b] if per_sample else t, **kwargs)
        np.testing.assert_array_equal(ys[:, b], ys_b)
        alone.append(pullback_b(dL[:, b]))
        np.testing.assert_array_equal(g.y0[b], alone[-1].y0)
    np.testing.assert_array_equal(g.params, np.stack([a.params for a in alone]).sum(axis=0))
    times = np.stack([a.t for a in alone])
    np.testing.assert_array_equal(g.t, times if per_sample else times.sum(axis=0))


@budget(200)
@given(data=st.data(), gradient=st.sampled_from(GRADIENTS), batch=st.sampled_from([None, 2]))
def test_odeint_vjp_keywords_of_any_value(data, gradient, batch):
    options = data.draw(solver_options(gradients=True))
    y0 = np.array([[0.5, -1.0], [1.0, 0.25]])[:batch] if batch else np.array([0.5, -1.0])
    with np.errstate(all="ignore"):
        out = attempt(lambda: nde.odeint_vjp(NET, y0, [0.0, 0.5, 1.0], params=THETA,
                                             gradient=gradient, **options), **options)
    if out is not None:
        ys, pullback = out
        g = attempt(lambda: pullback(np.ones_like(ys)), **options)
        if g is not None:
            assert all(np.all(np.isfinite(x)) for x in (g.y0, g.params, g.t))


@budget(150)
@given(data=st.data(), gradient=st.sampled_from(GRADIENTS), batch=st.sampled_from([None, 2]))
def test_pullback_cotangent_of_any_kind(data, gradient, batch):
    y0 = np.array([[0.5, -1.0], [1.0, 0.25]])[:batch] if batch else np.array([0.5, -1.0])
    ys, pullback = nde.odeint_vjp(NET, y0, [0.0, 0.5, 1.0], params=THETA, gradient=gradient)
    base = data.draw(float_arrays(ys.shape))
    dL_dys = data.draw(st.one_of(presented(base), spoiled(base)))
    g = attempt(lambda: pullback(dL_dys), dL_dys=dL_dys)
    if g is not None:
        expected = pullback(reference(dL_dys))
        np.testing.assert_array_equal(g.y0, expected.y0)
        np.testing.assert_array_equal(g.params, expected.params)
        np.testing.assert_array_equal(g.t, expected.t)


@budget(120)
@given(data=st.data(), gradient=st.sampled_from(GRADIENTS), which=st.sampled_from(["y0", "t"]))
def test_odeint_vjp_arrays_of_any_kind(data, gradient, which):
    args = {"y0": np.array([[0.5, -1.0], [1.0, 0.25]]), "t": np.array([0.0, 0.5, 1.0])}
    if which == "y0":
        args["y0"] = data.draw(float_arrays((2, 2)).flatmap(
            lambda v: st.one_of(presented(v), spoiled(v))))
    else:
        args["t"] = data.draw(odd_grids(rows=2 if data.draw(st.booleans()) else None))
    out = attempt(lambda: nde.odeint_vjp(NET, args["y0"], args["t"], params=THETA,
                                         gradient=gradient), **{which: args[which]})
    if out is not None:
        ys, pullback = out
        g = pullback(np.ones_like(ys))
        assert all(np.all(np.isfinite(x)) for x in (g.y0, g.params, g.t))


# -- networks --------------------------------------------------------------------------------

@budget(300)
@given(data=st.data(), which=st.sampled_from(["t", "y", "theta", "a"]),
       rows=st.sampled_from([None, 1, 5, 9]))
def test_network_call_and_vjp_with_arguments_of_any_kind(data, which, rows):
    shape = (2,) if rows is None else (rows, 2)
    args = {"t": data.draw(st.one_of(finite(), float_arrays(shape[:1]) if rows else finite())),
            "y": data.draw(float_arrays(shape)), "theta": THETA,
            "a": data.draw(float_arrays(shape))}
    base = np.asarray(args[which], dtype=np.float64)
    args[which] = data.draw(st.one_of(presented(base), spoiled(base)))
    t, y, theta, a = args["t"], args["y"], args["theta"], args["a"]
    if which != "a":
        out = attempt(lambda: NET(t, y, theta), **{which: args[which]})
        if out is not None:
            expected = NET(reference(t), reference(y), reference(theta))
            np.testing.assert_array_equal(out, expected)
            assert out.shape == np.shape(y)
            if np.ndim(y) == 2:  # each row as if alone
                t_rows = np.broadcast_to(reference(t), out.shape[:1])
                for b in range(out.shape[0]):
                    np.testing.assert_array_equal(out[b], NET(t_rows[b], reference(y)[b],
                                                              reference(theta)))
    out = attempt(lambda: NET.vjp(t, y, theta, a), **{which: args[which]})
    if out is not None:
        expected = NET.vjp(reference(t), reference(y), reference(theta), reference(a))
        for got, want in zip(out, expected):
            np.testing.assert_array_equal(got, want)
        if np.ndim(y) == 2:
            t_rows = np.broadcast_to(reference(t), np.shape(y)[:1])
            for b in range(np.shape(y)[0]):
                alone = NET.vjp(t_rows[b], reference(y)[b], reference(theta), reference(a)[b])
                np.testing.assert_array_equal(out[0][b], alone[0])
                np.testing.assert_array_equal(out[1][b], alone[1])
                np.testing.assert_array_equal(out[2][b], alone[2])


# -- NeuralODE -------------------------------------------------------------------------------

FIT_KEYWORDS = {
    "iterations": st.one_of(st.integers(-1, 3), st.sampled_from([2.0, "2", None, True])),
    "batch_size": st.one_of(st.integers(-1, 6), st.sampled_from([1.5, "4", None])),
    "batch_time": st.one_of(st.integers(-1, 6), st.sampled_from([3.0, None])),
    "validation_split": st.sampled_from([None, 0.3, 0.5, 0.0, 1.0, 2.0, -0.5, "half", np.nan]),
    "validate_every": st.one_of(st.integers(-1, 3), st.sampled_from([1.0, None])),
    "patience": st.sampled_from([None, 1, 0, -1, 2.5, "3"]),
    "seed": st.one_of(st.integers(0, 10), st.sampled_from([None, -1, "a", 1.5, 2**70])),
    "loss": st.sampled_from(["mse", "l1", "huber", None, 3, ["mse"]]),
    "optimizer": st.sampled_from([None, "adam", 0.1, nde.optim.SGD(lr=1e-3)]),
    "callbacks": st.sampled_from([(), [], None, 3, [3], lambda *a: False, [lambda *a: False]]),
    "validation": st.sampled_from([None, 5, (1, 2, 3), "t", (np.linspace(0, 1, 4),),
                                   (np.linspace(0, 1, 4), np.zeros((4, 2))),
                                   (np.linspace(0, 1, 4), np.zeros((4, 2, 3))),
                                   (np.linspace(0, 1, 4), np.full((4, 2), np.nan))]),
}


@st.composite
def observations(draw):
    """(t, y) in the layouts fit takes (D = 1, 2 or 3, the network takes 2), then perhaps
    spoiled or shown another way."""
    T, B, D = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.sampled_from([2, 2, 1, 3]))
    layout = draw(st.sampled_from(["(T,) (T, D)", "(T,) (T, B, D)", "(B, T) (T, B, D)"]))
    t = draw(grids(rows=B if layout.startswith("(B") else None, times=T))
    y = draw(float_arrays((T, D) if layout == "(T,) (T, D)" else (T, B, D), -1.0, 1.0))
    which = draw(st.sampled_from(["t", "t", "y", "neither"]))
    if which == "t":
        t = draw(st.one_of(odd_grids(rows=B if t.ndim == 2 else None, times=T), presented(t)))
    elif which == "y":
        y = draw(st.one_of(presented(y), spoiled(y)))
    return t, y


def fit_and_predict(model, t, y, **kwargs):
    """model.fit, then model.predict from the first observation, each through attempt."""
    history = attempt(lambda: model.fit(t, y, progress=False, **kwargs), t=t, y=y, **kwargs)
    assert np.all(np.isfinite(model.params))
    if history is not None:
        assert len(history.loss) <= kwargs.get("iterations", 1000)
        y0 = np.asarray(y)[0]
        t0 = t[0] if np.ndim(t) == 2 else t
        pred = attempt(lambda: model.predict(y0, t0), y0=y0, t=t0)
        assert pred is not None and np.all(np.isfinite(pred))


@budget(150)
@given(obs=observations(), gradient=st.sampled_from(GRADIENTS))
def test_neural_ode_fit_observations_of_any_kind(obs, gradient):
    t, y = obs
    model = nde.NeuralODE(NET, gradient=gradient, rtol=1e-5, atol=1e-7)
    fit_and_predict(model, t, y, iterations=2, batch_size=3, batch_time=3)


@budget(200)
@given(data=st.data(), gradient=st.sampled_from(GRADIENTS))
def test_neural_ode_fit_keywords_of_any_value(data, gradient):
    chosen = data.draw(st.lists(st.sampled_from(sorted(FIT_KEYWORDS)), min_size=1, max_size=2,
                                unique=True))
    kwargs = {name: data.draw(FIT_KEYWORDS[name]) for name in chosen}
    kwargs.setdefault("iterations", 2)
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0.0, 2.0, (4, 6)), axis=1)
    y = rng.uniform(-1.0, 1.0, (6, 4, 2))
    model = nde.NeuralODE(NET, gradient=gradient, rtol=1e-5, atol=1e-7)
    fit_and_predict(model, t, y, **kwargs)


@budget(100)
@given(data=st.data(), which=st.sampled_from(["y0", "t", "rtol", "atol"]))
def test_neural_ode_predict_with_anything(data, which):
    model = nde.NeuralODE(NET, params=THETA)
    args = {"y0": np.array([[0.5, -1.0], [1.0, 0.25]]), "t": np.array([0.0, 0.5, 1.0]),
            "rtol": None, "atol": None}
    if which == "y0":
        args["y0"] = data.draw(float_arrays((2, 2)).flatmap(
            lambda v: st.one_of(presented(v), spoiled(v))))
    elif which == "t":
        args["t"] = data.draw(odd_grids(rows=2 if data.draw(st.booleans()) else None))
    else:
        args[which] = data.draw(ODD_NUMBERS)
    pred = attempt(lambda: model.predict(args["y0"], args["t"], rtol=args["rtol"],
                                         atol=args["atol"]), **{which: args[which]})
    if pred is not None and which in ("y0", "t"):
        np.testing.assert_array_equal(pred, model.predict(reference(args["y0"]),
                                                          reference(args["t"])))


@budget(60)
@given(params=st.one_of(float_arrays((NET.num_params,)), float_arrays((4,)))
       .flatmap(lambda p: st.one_of(presented(p), spoiled(p))),
       seed=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([None, -1, "a", 1.5])))
def test_neural_ode_constructor_arguments(params, seed):
    if isinstance(seed, int) and seed >= 0 and params is not None:
        attempt(lambda: nde.NeuralODE(NET, params=params, seed=seed), params=params)
    attempt(lambda: nde.NeuralODE(NET, seed=seed), seed=seed)


# -- load ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    nde.NeuralODE(NET, params=THETA).save(path)
    return path.read_bytes()


@budget(200)
@given(data=st.data())
def test_load_of_any_bytes(saved_model, tmp_path_factory, data):
    how = data.draw(st.sampled_from(["random", "truncated", "flipped", "appended"]))
    if how == "random":
        content = data.draw(st.binary(max_size=300))
        if data.draw(st.booleans()):
            content = data.draw(st.sampled_from([b"PK\x03\x04", b"\x93NUMPY", b"\x80\x04"])) \
                + content
    elif how == "truncated":
        content = saved_model[:data.draw(st.integers(0, len(saved_model) - 1))]
    elif how == "flipped":
        flipped = bytearray(saved_model)
        for _ in range(data.draw(st.integers(1, 4))):
            flipped[data.draw(st.integers(0, len(flipped) - 1))] = data.draw(st.integers(0, 255))
        content = bytes(flipped)
    else:
        content = saved_model + data.draw(st.binary(min_size=1, max_size=50))
    path = tmp_path_factory.mktemp("load") / "model.npz"
    path.write_bytes(content)
    try:
        model = nde.load(path)
    except ValueError as error:
        message = str(error)
        assert str(path) in message, message
        assert not [leak for leak in LEAKS if leak in message], message
        return
    assert isinstance(model, nde.NeuralODE) and np.all(np.isfinite(model.params))


@pytest.mark.parametrize("path", [None, 3, 2.5, ["model.npz"]])
def test_load_of_something_that_is_not_a_path(path):
    with pytest.raises((TypeError, ValueError), match="`path`"):
        nde.load(path)
