"""Losses: values against their formulas, gradients against central differences."""
import numpy as np
import pytest

from finite_differences import central_differences
from neuralode import losses


@pytest.mark.parametrize("name", ["mse", "l1"])
def test_regression_losses_and_their_gradients(name):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    loss = getattr(losses, name)
    value, grad = loss(pred, target)
    expected = np.mean((pred - target) ** 2) if name == "mse" else np.mean(np.abs(pred - target))
    assert value == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(grad, central_differences(lambda p: loss(p, target)[0], pred), rtol=1e-6,
                               atol=1e-10)


def test_cross_entropy_against_the_log_softmax_formula_and_differences():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(6, 3)), np.array([0, 2, 1, 1, 0, 2])
    value, grad = losses.cross_entropy(logits, labels)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert value == pytest.approx(-np.mean(log_p[np.arange(6), labels]), rel=1e-14)
    np.testing.assert_allclose(grad, central_differences(lambda z: losses.cross_entropy(z, labels)[0], logits),
                               rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-15)  # softmax rows sum to 1


def test_cross_entropy_is_stable_for_huge_logits():
    value, grad = losses.cross_entropy(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([0, 1]))
    assert value == pytest.approx(500.0)  # second row: -log softmax = 1000
    assert np.all(np.isfinite(grad))


def test_zero_one_counts_wrong_argmax():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.1, 0.2]])
    assert losses.zero_one(logits, np.array([0, 1, 1, 0])) == 0.5


def test_loss_errors():
    with pytest.raises(ValueError, match="`target` must have the shape"):
        losses.mse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="`pred` is empty"):
        losses.l1(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="`logits` must have shape"):
        losses.cross_entropy(np.zeros(3), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="`labels` must have shape"):
        losses.cross_entropy(np.zeros((3, 2)), np.zeros(2, dtype=int))
    with pytest.raises(TypeError, match="`labels` must be integers"):
        losses.cross_entropy(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"`labels` must lie in \[0, 1\]"):
        losses.zero_one(np.zeros((3, 2)), np.array([0, 2, 1]))
