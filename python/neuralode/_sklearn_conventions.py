"""scikit-learn's conventions for a classifier's inputs, errors and warnings, kept without
importing scikit-learn (a second of import time, and not a dependency): X as a dense 2-D
float array, y as one discrete label per row, and its messages where its checks read them
(sklearn.utils.estimator_checks).
"""
from __future__ import annotations

import functools
import sys
import warnings

import numpy as np

__all__ = ["NotFittedError", "DataConversionWarning", "not_fitted", "check_features",
           "check_target", "check_labels"]


class NotFittedError(ValueError, AttributeError):
    """predict/score before fit (the same bases as scikit-learn's NotFittedError)."""

    def __reduce__(self):
        return NotFittedError, self.args  # also for the scikit-learn flavour below


class DataConversionWarning(UserWarning):
    """y was converted: a column vector (N, 1) taken as labels (N,)."""

    def __reduce__(self):
        return DataConversionWarning, self.args


def _like_sklearn(cls):
    """`cls`, or while scikit-learn is imported a subclass of both `cls` and scikit-learn's
    class of the same name, so that its tools, checks and warning filters recognise ours."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sklearn_exceptions, cls.__name__, None)
    return cls if theirs is None else _joint_class(cls, theirs)


@functools.lru_cache(maxsize=None)
def _joint_class(ours, theirs):
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})


def not_fitted(estimator) -> NotFittedError:
    return _like_sklearn(NotFittedError)(
        f"this {type(estimator).__name__} is not fitted yet; call fit")


def _sparse(X) -> bool:
    scipy_sparse = sys.modules.get("scipy.sparse")  # not imported: X cannot be sparse
    return scipy_sparse is not None and scipy_sparse.issparse(X)


def check_features(X, owner) -> np.ndarray:
    """X as a float64 array of shape (N, F), N and F >= 1, all finite."""
    if _sparse(X):
        raise TypeError(f"`X` is a sparse matrix, which {owner} does not support; convert it "
                        "with X.toarray()")
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: `X` must hold real numbers")
    try:
        X = X.astype(np.float64, copy=False)
    except (TypeError, ValueError) as error:
        raise type(error)(f"`X` must hold real numbers ({error})") from None
    if X.ndim != 2:
        raise ValueError(f"`X` must have shape (N, F); got shape {X.shape}. Reshape your data: "
                         "X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single "
                         "sample")
    for axis, what in enumerate(("sample(s)", "feature(s)")):
        if X.shape[axis] == 0:
            raise ValueError(f"`X` has 0 {what} (shape={X.shape}) while a minimum of 1 is "
                             "required.")
    if not np.all(np.isfinite(X)):
        raise ValueError("`X` contains NaN or inf")
    return X


def check_target(y, n_samples, owner, stacklevel=3) -> np.ndarray:
    """y as a vector of `n_samples` labels; a column vector (N, 1) is taken, with a
    DataConversionWarning (pointing `stacklevel` frames up), as scikit-learn does."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(_like_sklearn(DataConversionWarning)(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel()."), stacklevel=stacklevel)
        y = y[:, 0]
    if y.shape != (n_samples,):
        raise ValueError(f"`y` must have shape ({n_samples},); got {y.shape}")
    return y


def check_labels(y) -> tuple:
    """(classes, index of each label in classes) for discrete labels; ValueError for
    continuous or complex values (scikit-learn's "Unknown label type") and unorderable ones."""
    if y.dtype.kind == "c":
        raise ValueError("Unknown label type: complex; `y` must hold class labels")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("`y` contains NaN or inf")
        if np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous; `y` holds non-integer numbers, "
                             "but a classifier needs discrete class labels")
    try:
        return np.unique(y, return_inverse=True)
    except TypeError:  # labels of kinds that do not compare, e.g. strings and numbers
        raise ValueError("Unknown label type: `y` mixes labels that cannot be ordered "
                         f"({', '.join(sorted({type(v).__name__ for v in y}))})") from None
