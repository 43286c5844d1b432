"""Losses as (value, gradient with respect to the predictions), means over all entries.

The gradient is what :func:`neuralode.odeint_vjp`'s pullback takes as ``dL_dys``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mse", "l1", "cross_entropy", "zero_one", "LOSSES"]


def _pair(pred, target):
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"`target` must have the shape of `pred` {pred.shape}; got {target.shape}")
    if pred.size == 0:
        raise ValueError("`pred` is empty")
    return pred, target


def mse(pred, target):
    """Mean squared error: mean((pred - target)²) and its gradient 2(pred - target)/N."""
    pred, target = _pair(pred, target)
    diff = pred - target
    return float(np.mean(diff * diff)), diff * (2.0 / diff.size)


def l1(pred, target):
    """Mean absolute error: mean|pred - target| and its (sub)gradient sign(pred - target)/N."""
    pred, target = _pair(pred, target)
    diff = pred - target
    return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size


def _logits_and_labels(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"`logits` must have shape (N, C) with N >= 1; got {logits.shape}")
    labels = np.asarray(labels)
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"`labels` must have shape ({logits.shape[0]},); got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be integers (class indices); got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"`labels` must lie in [0, {logits.shape[1] - 1}]; got "
                         f"[{labels.min()}, {labels.max()}]")
    return logits, labels


def softmax(logits):
    """Row-wise softmax, shifted by the row maximum so that exp cannot overflow."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits, labels):
    """Softmax cross-entropy with integer labels, averaged over the N rows: the value and
    its gradient (softmax(logits) - onehot(labels))/N."""
    logits, labels = _logits_and_labels(logits, labels)
    rows = np.arange(logits.shape[0])
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    norm = e.sum(axis=1, keepdims=True)
    value = float(np.mean(np.log(norm[:, 0]) - z[rows, labels]))
    grad = e / norm  # softmax(logits)
    grad[rows, labels] -= 1.0
    return value, grad / logits.shape[0]


def zero_one(logits, labels) -> float:
    """The fraction of rows whose largest logit is not the label (a metric: no gradient)."""
    logits, labels = _logits_and_labels(logits, labels)
    return float(np.mean(np.argmax(logits, axis=1) != labels))


LOSSES = {"mse": mse, "l1": l1, "cross_entropy": cross_entropy}
