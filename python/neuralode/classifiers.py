"""Classifiers with an ODE block as an implicit layer, following scikit-learn's estimator
conventions (fit/predict/predict_proba/score, get_params/set_params, its input checks and
messages; its check_estimator passes) without depending on it:

    logits = head(block(embed(x))),  embed and head Linear, block an ODE or a ResNet.

``ODENetClassifier``'s block solves dz/dt = f(z; θ) over t ∈ [0, 1] with an adaptive solver
and differentiates it by the chosen gradient mode; ``ResNetClassifier``'s block is K
weight-tied residual steps z_{k+1} = z_k + f(z_k), i.e. Euler with step 1, differentiated
exactly. The linear layers' gradients are written out in numpy. ``num_threads`` sets the
solves' threads (None: the library's default); results do not depend on it.
"""
from __future__ import annotations

import numpy as np

import numbers

from . import io, losses, nets, optim
from ._sklearn_conventions import (DataConversionWarning, NotFittedError, check_features,
                                   check_labels, check_target, not_fitted)
from .grad import check_gradient, odeint_vjp
from ._checks import check_dtype, check_method, check_threads
from .solve import odeint
from .train import fit_loop

__all__ = ["ODENetClassifier", "ResNetClassifier", "NotFittedError", "DataConversionWarning"]


class _BlockClassifier:
    """Shared machinery; subclasses say how the block integrates."""

    _param_names = ()
    _estimator_type = "classifier"  # scikit-learn before 1.6

    def __sklearn_tags__(self):
        """What scikit-learn >= 1.6 asks of an estimator; only scikit-learn calls this, so
        importing it here adds no dependency."""
        from sklearn.utils import ClassifierTags, Tags, TargetTags
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def get_params(self, deep=True) -> dict:
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._param_names:
                raise ValueError(f"unknown parameter {name!r} for {type(self).__name__}; valid: "
                                 f"{', '.join(self._param_names)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_params(self):
        """The hyperparameters, checked before any work (each named when wrong)."""
        def count(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
        for name in ("width", "max_iter", "batch_size") + (("depth",) if "depth" in
                                                            self._param_names else ()):
            count(name)
        hidden = self.hidden
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__") or any(
                isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
                for h in hidden):
            raise ValueError(f"`hidden` must be a sequence of layer widths >= 1; got {hidden!r}")
        if self.activation not in nets.ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {', '.join(nets.ACTIVATIONS)}; "
                             f"got {self.activation!r}")
        for name in ("learning_rate",) + (("rtol", "atol") if "rtol" in self._param_names
                                          else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                    not 0 < value < np.inf:
                raise ValueError(f"`{name}` must be a positive number; got {value!r}")
        if "method" in self._param_names:
            check_method(self.method)
        if "gradient" in self._param_names:
            check_gradient(self.gradient)
        check_threads(self.num_threads)
        check_dtype(self.dtype)

    # -- the model -------------------------------------------------------------------
    def _sizes(self, n_features, n_classes):
        """(embedding, dynamics, head) parameter counts, by arithmetic alone: a saved file's
        sizes are checked with it before anything of that size is built."""
        width = int(self.width)
        widths = [width, *map(int, self.hidden), width]
        dynamics = sum(w_out * (w_in + 1) for w_in, w_out in zip(widths[:-1], widths[1:]))
        return width * (n_features + 1), dynamics, n_classes * (width + 1)

    def _build(self, n_features, n_classes):
        width = int(self.width)
        self.dynamics_ = nets.MLP(width, hidden=list(self.hidden), activation=self.activation)
        self.sizes_ = self._sizes(n_features, n_classes)
        rng = np.random.default_rng(self.random_state)

        def linear(n_in, n_out):  # torch.nn.Linear's fan-in scaled uniform init
            return rng.uniform(-1, 1, n_out * (n_in + 1)) / np.sqrt(n_in)
        embed, head = linear(n_features, width), linear(width, n_classes)
        return np.concatenate([embed, self.dynamics_.init(rng.integers(2**32)), head])

    def _split(self, params):
        a, b, _ = self.sizes_
        n_features, width, n_classes = self.n_features_in_, int(self.width), len(self.classes_)
        w_in = params[:a - width].reshape(width, n_features)
        b_in = params[a - width:a]
        theta = params[a:a + b]
        head = params[a + b:]
        w_out = head[:n_classes * width].reshape(n_classes, width)
        return w_in, b_in, theta, w_out, head[n_classes * width:]

    def _logits(self, params, X):
        w_in, b_in, theta, w_out, b_out = self._split(params)
        z1 = self._block_forward(X @ w_in.T + b_in, theta)
        return z1 @ w_out.T + b_out

    def _loss_and_gradient(self, params, X, labels):
        w_in, b_in, theta, w_out, b_out = self._split(params)
        z0 = X @ w_in.T + b_in
        z1, pullback = self._block_vjp(z0, theta)
        value, d_logits = losses.cross_entropy(z1 @ w_out.T + b_out, labels)
        g = pullback(d_logits @ w_out)
        grad = np.concatenate([(g.y0.T @ X).ravel(), g.y0.sum(axis=0), g.params,
                               (d_logits.T @ z1).ravel(), d_logits.sum(axis=0)])
        return value, grad, int(np.sum(g.stats.nfe_forward)), int(np.sum(g.stats.nfe_backward))

    def _block_vjp(self, z0, theta):
        ts = self._times()
        ys, pullback = odeint_vjp(self.dynamics_, z0, ts, params=theta, **self._solver())

        def block_pullback(d_z1):  # the loss reads only the block's end state
            cotangent = np.zeros_like(ys)
            cotangent[-1] = d_z1
            return pullback(cotangent)
        return ys[-1], block_pullback

    def _block_forward(self, z0, theta):
        solver = {k: v for k, v in self._solver().items() if k != "gradient"}
        return odeint(self.dynamics_, z0, self._times(), params=theta, **solver)[-1]

    # -- estimator interface -----------------------------------------------------------
    def fit(self, X, y):
        """Trains on features X (N, F) and labels y (N,) with Adam on mini-batches. If it
        raises, a previous fit is left as it was."""
        fitted = {k: v for k, v in vars(self).items() if k.endswith("_")}
        try:
            return self._fit(X, y)
        except BaseException:
            for k in [k for k in vars(self) if k.endswith("_")]:
                delattr(self, k)
            vars(self).update(fitted)
            raise

    def _fit(self, X, y):
        self._check_params()
        X = self._check_X(X, fitting=True)
        y = check_target(y, X.shape[0], type(self).__name__, stacklevel=4)  # fit's caller
        self.classes_, labels = check_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"`y` must hold at least two classes; got {len(self.classes_)} "
                             "class")
        self.n_features_in_ = X.shape[1]
        params = self._build(X.shape[1], len(self.classes_))
        rng = np.random.default_rng(self.random_state)
        batch = min(int(self.batch_size), X.shape[0])

        def step(p, _):
            rows = rng.choice(X.shape[0], batch, replace=False)
            return self._loss_and_gradient(p, X[rows], labels[rows])

        schedule = optim.CosineLR(self.learning_rate, int(self.max_iter))
        opt = optim.Adam(lr=self.learning_rate, schedule=schedule)
        self.params_, self.history_ = fit_loop(step, params, opt, int(self.max_iter),
                                               progress=self.verbose)
        self.n_iter_ = len(self.history_.loss)  # fewer than max_iter if training stopped
        return self

    def predict_proba(self, X) -> np.ndarray:
        X = self._check_X(X)
        return losses.softmax(self._logits(self.params_, X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y) -> float:
        """Mean accuracy on (X, y)."""
        predicted = self.predict(X)
        return float(np.mean(predicted == check_target(y, len(predicted), type(self).__name__)))

    def save(self, path) -> None:
        """Writes the fitted classifier to `path` (.npz + JSON, atomically)."""
        if not hasattr(self, "params_"):
            raise not_fitted(self)
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        io.save(path, {"params": self.params_},
                {"model": type(self).__name__, "estimator_params": params,
                 "classes": self.classes_.tolist(), "n_features_in": int(self.n_features_in_)})

    @classmethod
    def from_saved(cls, meta, arrays):
        params = dict(meta["estimator_params"])
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        model._check_params()
        model.classes_ = np.array(meta["classes"])
        model.n_features_in_ = int(meta["n_features_in"])
        params = np.asarray(arrays["params"], dtype=np.float64)
        expected = sum(model._sizes(model.n_features_in_, len(model.classes_)))
        if params.shape != (expected,):  # before _build allocates `expected` numbers
            raise ValueError(f"{params.size} parameters for a model that has {expected}")
        model._build(model.n_features_in_, len(model.classes_))
        model.params_ = params
        return model

    def _check_X(self, X, fitting=False):
        if not fitting and not hasattr(self, "params_"):
            raise not_fitted(self)
        X = check_features(X, type(self).__name__)
        if not fitting and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        return X


class ODENetClassifier(_BlockClassifier):
    """Linear embedding -> ODE block dz/dt = MLP(z), t from 0 to 1 -> Linear head -> softmax."""

    _param_names = ("width", "hidden", "activation", "method", "rtol", "atol", "gradient",
                    "max_iter", "batch_size", "learning_rate", "random_state", "verbose",
                    "num_threads", "dtype")

    def __init__(self, width=8, hidden=(32,), activation="tanh", method="dopri5", rtol=1e-5,
                 atol=1e-7, gradient="adjoint", max_iter=300, batch_size=64,
                 learning_rate=0.02, random_state=0, verbose=False, num_threads=None,
                 dtype="float64"):
        self.width, self.hidden, self.activation = width, hidden, activation
        self.method, self.rtol, self.atol, self.gradient = method, rtol, atol, gradient
        self.max_iter, self.batch_size, self.learning_rate = max_iter, batch_size, learning_rate
        self.random_state, self.verbose, self.num_threads = random_state, verbose, num_threads
        self.dtype = dtype  # the ODE block's: "float64" or "float32"

    def _times(self):
        return np.array([0.0, 1.0])

    def _solver(self):
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol,
                "gradient": self.gradient, "num_threads": self.num_threads, "dtype": self.dtype}


class ResNetClassifier(_BlockClassifier):
    """The discrete baseline: ``depth`` weight-tied residual blocks z + MLP(z) (Euler with
    step 1 on t = 0, 1, ..., depth), differentiated exactly."""

    _param_names = ("width", "hidden", "activation", "depth", "max_iter", "batch_size",
                    "learning_rate", "random_state", "verbose", "num_threads", "dtype")

    def __init__(self, width=8, hidden=(32,), activation="tanh", depth=4, max_iter=300,
                 batch_size=64, learning_rate=0.02, random_state=0, verbose=False,
                 num_threads=None, dtype="float64"):
        self.width, self.hidden, self.activation, self.depth = width, hidden, activation, depth
        self.max_iter, self.batch_size, self.learning_rate = max_iter, batch_size, learning_rate
        self.random_state, self.verbose, self.num_threads = random_state, verbose, num_threads
        self.dtype = dtype  # the residual blocks': "float64" or "float32"

    def _times(self):
        return np.arange(int(self.depth) + 1, dtype=np.float64)

    def _solver(self):
        return {"method": "euler", "gradient": "backprop", "num_threads": self.num_threads,
                "dtype": self.dtype}


io.register_model(ODENetClassifier)
io.register_model(ResNetClassifier)
