"""What odeint_vjp does with its inputs: private copies, and per-component tolerances."""
import numpy as np
import pytest

import neuralode as nde

NET = nde.nets.MLP(2, hidden=[8], time_input=True)
THETA = NET.init(3)
Y0 = np.array([[0.5, -0.3], [1.0, 0.2]])
T = np.linspace(0.0, 1.0, 5)
TARGET = np.full((5, 2, 2), 0.1)


def grads(gradient, **options):
    ys, pullback = nde.odeint_vjp(NET, Y0, T, params=THETA, gradient=gradient, **options)
    return ys, pullback(ys - TARGET)


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_changing_the_inputs_and_outputs_later_does_not_change_the_gradients(gradient):
    _, expected = grads(gradient)
    params, t = THETA.copy(), T.copy()
    ys, pullback = nde.odeint_vjp(NET, Y0, t, params=params, gradient=gradient)
    ys -= TARGET  # the caller's residual, computed in place
    params *= 2.0  # e.g. an optimizer step taken before the pullback
    t += 1.0
    got = pullback(ys)
    for name in ("y0", "params", "t"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_per_component_atol(gradient):
    # Equal entries are the scalar, bit for bit; unequal ones still give the gradient.
    _, scalar = grads(gradient, atol=1e-9)
    _, equal = grads(gradient, atol=np.array([1e-9, 1e-9]))
    np.testing.assert_array_equal(equal.params, scalar.params)
    np.testing.assert_array_equal(equal.y0, scalar.y0)
    _, reference = grads(gradient, rtol=1e-12, atol=1e-12)
    _, mixed = grads(gradient, rtol=1e-8, atol=np.array([1e-10, 1e-7]),
                     adjoint_atol=np.array([1e-7, 1e-10]))
    for name in ("y0", "params", "t"):
        np.testing.assert_allclose(getattr(mixed, name), getattr(reference, name), rtol=1e-5,
                                   atol=1e-7, err_msg=name)


def test_integer_and_numpy_scalar_tolerances():
    _, as_float = grads("adjoint", rtol=1e-6, atol=1.0)
    _, as_int = grads("adjoint", rtol=1e-6, atol=1, adjoint_atol=np.float32(1.0))
    np.testing.assert_array_equal(as_int.params, as_float.params)


def test_bad_adjoint_tolerances_name_the_argument():
    with pytest.raises(ValueError, match=r"`adjoint_atol` must be a scalar or have shape \(2,\)"):
        grads("adjoint", adjoint_atol=np.ones(3))
    with pytest.raises(ValueError, match="`adjoint_rtol` must be positive"):
        grads("interpolated", adjoint_rtol=0.0)
    with pytest.raises(TypeError, match="`adjoint_atol` must be an array of real numbers"):
        grads("backprop", adjoint_atol="1e-9")
