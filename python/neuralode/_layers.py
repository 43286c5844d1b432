"""The layer kinds of :mod:`neuralode.nets`, each one class that owns its spec (what saved
files and pickles hold), its parameter count, its initialization and its named views into θ.
``LAYERS`` maps a kind's name to its class: :func:`layer_from_spec` (and so ``neuralode.load``)
rebuilds layers through it. The C++ side of each kind is in cpp/include/neuralode/layers/;
the C++ core knows a kind by the same name.

Adding a kind: a class here with ``kind`` set (and ``num_params``, ``init``, ``views``,
``spec`` where it has parameters or settings), its entry in ``LAYERS``, its C++ struct.
"""
from __future__ import annotations

import warnings

import numpy as np

_MAX_FEATURES = 2**31 - 1  # the core counts a layer's features in a C int


def positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int; got {type(value).__name__}")
    if not 1 <= value <= _MAX_FEATURES:
        raise ValueError(f"`{name}` must be between 1 and {_MAX_FEATURES}; got {value}")
    return int(value)


class Layer:
    """One step of a :class:`~neuralode.nets.Sequential`. Subclasses set ``kind``, the name
    the C++ core and saved files know them by."""

    kind: str

    def input_width(self):
        """The number of inputs the layer requires, or None if it takes any."""
        return None

    def output_width(self, width: int) -> int:
        return width

    def num_params(self) -> int:
        return 0

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Fresh parameters (``num_params()`` of them) drawn from `rng`."""
        return np.zeros(0)

    def views(self, theta: np.ndarray, prefix: str) -> dict:
        """Named views into this layer's slice of θ, names starting with `prefix`."""
        return {}

    def setting(self) -> float:
        """The one real number the C++ kind reads besides its widths (Power: p)."""
        return 0.0

    def spec(self) -> dict:
        """The layer as a JSON-ready dict (saved files and pickles hold this)."""
        return {"kind": self.kind}

    def __reduce__(self):
        return layer_from_spec, (self.spec(),)  # rebuilt, and so checked, by its constructor

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Affine(Layer):
    """A layer with W (out, in) then b, and perhaps more parameters after them."""

    def __init__(self, in_features: int, out_features: int):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")

    def input_width(self):
        return self.in_features

    def output_width(self, width: int) -> int:
        if width != self.in_features:
            raise ValueError(f"{self!r} receives {width} inputs; it expects {self.in_features}")
        return self.out_features

    def num_params(self) -> int:
        return self.out_features * (self.in_features + 1)

    def init(self, rng):
        # Fan-in scaling, as torch.nn.Linear: uniform in ±1/√in_features.
        bound = 1.0 / np.sqrt(self.in_features)
        return rng.uniform(-bound, bound, self.out_features * (self.in_features + 1))

    def views(self, theta, prefix):
        n_weight = self.out_features * self.in_features
        return {f"{prefix}weight": theta[:n_weight].reshape(self.out_features, self.in_features),
                f"{prefix}bias": theta[n_weight:n_weight + self.out_features]}

    def spec(self) -> dict:
        return {"kind": self.kind, "in_features": self.in_features,
                "out_features": self.out_features}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_features}, {self.out_features})"


class Linear(_Affine):
    """``W @ x + b`` with ``W`` of shape ``(out_features, in_features)``; θ holds W (row-major)
    then b, as ``torch.nn.Linear``'s state dict. Views: ``"{i}.weight"``, ``"{i}.bias"``."""

    kind = "linear"


class ConcatSquashLinear(_Affine):
    """``(W @ x + b) * sigmoid(a * t + c) + d * t``: FFJORD's ConcatSquashLinear (Grathwohl et
    al. 2019), a Linear whose outputs a function of t gates and shifts.

    θ holds, in the order of FFJORD's state dict (``_layer``, ``_hyper_bias``,
    ``_hyper_gate``): W (out, in) row-major, b (out,), d (out,), a (out,), c (out,);
    ``out * (in + 4)`` numbers. Views: ``"{i}.weight"`` (W), ``"{i}.bias"`` (b),
    ``"{i}.hyper_bias.weight"`` (d as (out, 1)), ``"{i}.hyper_gate.weight"`` (a as (out, 1)),
    ``"{i}.hyper_gate.bias"`` (c): FFJORD's names without their underscore, ``_layer.``
    dropped. ``init`` draws W and b as ``Linear`` does, then d, a, c uniform in ±1 (torch's
    default for its ``Linear(1, out)`` hyper layers).
    """

    kind = "concat_squash_linear"

    def num_params(self) -> int:
        return self.out_features * (self.in_features + 4)

    def init(self, rng):
        return np.concatenate([super().init(rng), rng.uniform(-1.0, 1.0, 3 * self.out_features)])

    def views(self, theta, prefix):
        out, start = self.out_features, self.out_features * (self.in_features + 1)
        views = super().views(theta, prefix)
        views[f"{prefix}hyper_bias.weight"] = theta[start:start + out].reshape(out, 1)
        views[f"{prefix}hyper_gate.weight"] = theta[start + out:start + 2 * out].reshape(out, 1)
        views[f"{prefix}hyper_gate.bias"] = theta[start + 2 * out:start + 3 * out]
        return views


class Tanh(Layer):
    kind = "tanh"


class Sigmoid(Layer):
    kind = "sigmoid"


class Softplus(Layer):
    """log(1 + eˣ)."""

    kind = "softplus"


class ELU(Layer):
    """x for x > 0, eˣ - 1 otherwise (α = 1)."""

    kind = "elu"


class Sin(Layer):
    kind = "sin"


class SiLU(Layer):
    """x · sigmoid(x) (Elfwing et al. 2018; swish with β = 1), smooth, as torch.nn.SiLU."""

    kind = "silu"


class Identity(Layer):
    kind = "identity"


_relu_warned = False


class ReLU(Layer):
    """max(x, 0). Allowed, but f is then not smooth: adaptive solvers lose order at the kinks
    and Picard–Lindelöf gives no uniqueness guarantee. Warns once per process."""

    kind = "relu"

    def __init__(self):
        global _relu_warned
        if not _relu_warned:
            _relu_warned = True
            warnings.warn("ReLU makes the dynamics non-smooth: adaptive step control degrades at "
                          "its kinks; prefer Tanh, Softplus or ELU for ODE dynamics",
                          RuntimeWarning, stacklevel=2)


class Power(Layer):
    """Elementwise ``x ** p`` (``Power(3)`` gives the classic cubic-spiral model)."""

    kind = "power"

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"`p` must be a number; got {type(p).__name__}")
        if not np.isfinite(p):
            raise ValueError(f"`p` must be finite; got {p}")
        self.p = float(p)

    def setting(self) -> float:
        return self.p

    def spec(self) -> dict:
        return {"kind": self.kind, "p": self.p}

    def __repr__(self) -> str:
        return f"Power({self.p:g})"


class ConcatTime(Layer):
    """Appends t as one more input feature."""

    kind = "concat_time"

    def output_width(self, width: int) -> int:
        return width + 1


# The registry: kind name -> class, for specs read back from files and pickles.
LAYERS = {cls.kind: cls for cls in (Linear, Tanh, Sigmoid, Softplus, ELU, Sin, Identity, ReLU,
                                    Power, ConcatTime, SiLU, ConcatSquashLinear)}


def layer_from_spec(spec) -> Layer:
    """The layer :meth:`Layer.spec` describes; ValueError/TypeError if it is malformed."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if not isinstance(kind, str) or kind not in LAYERS:
        raise ValueError(f"a layer must be a dict with a kind among {', '.join(LAYERS)}; got "
                         f"kind {kind!r}")
    return LAYERS[kind](**{name: value for name, value in spec.items() if name != "kind"})
