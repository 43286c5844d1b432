"""Networks for the dynamics f(t, z; θ), defined in Python and evaluated in C++.

A network is a :class:`Sequential` list of layers over one flat float64 parameter vector θ.
``Linear(in, out)`` computes ``W @ x + b`` with ``W`` of shape ``(out, in)`` as
``torch.nn.Linear`` does; θ holds, layer by layer, ``W`` in row-major order then ``b``, so
weights move to and from torch state dicts unchanged. Each layer kind (its spec, parameter
count, initialization and named views) is one class in ``_layers.py``.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._checks import state_dtype
from ._layers import (ELU, ConcatSquashLinear, ConcatTime, Identity, Layer, Linear, Power,
                      ReLU, Sigmoid, SiLU, Sin, Softplus, Tanh, layer_from_spec, positive_int)

__all__ = ["Layer", "Linear", "Tanh", "Sigmoid", "Softplus", "ELU", "Sin", "SiLU", "Identity",
           "ReLU", "Power", "ConcatTime", "ConcatSquashLinear", "Sequential", "MLP",
           "layer_from_spec", "network_from_spec"]

_FLOAT64 = np.dtype(np.float64)  # `dtype is _FLOAT64`: the fast check of the common case


def _real_array(value, name, dtype=np.float64) -> np.ndarray:
    """`value` as an array of dtype, or a TypeError naming `name` for anything but integers
    and floats (strings, booleans and complex numbers are refused, not parsed or cast)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # a ragged list
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        kind = type(value).__name__ if arr is None else f"{type(value).__name__} of {arr.dtype}"
        raise TypeError(f"`{name}` must be an array of real numbers; got {kind}")
    return arr.astype(dtype, copy=False)


def param_vector(value, size, name, owner, dtype=np.float64) -> np.ndarray:
    """`value` as a C-contiguous vector of dtype (float64 or float32) of `size` parameters of
    `owner` (for messages), or a TypeError/ValueError naming `name`."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # a ragged list
        raise TypeError(f"`{name}` must be a float array; got a ragged "
                        f"{type(value).__name__}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be a float array; got dtype {arr.dtype}")
    if arr.shape != (size,):
        raise ValueError(f"`{name}` must have shape ({size},) for {owner}; got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


# MLP's `activation` names (and ODENetClassifier's).
ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "softplus": Softplus, "elu": ELU, "sin": Sin,
               "silu": SiLU, "identity": Identity, "relu": ReLU}


class Sequential:
    """Layers applied in order; maps a state of dimension ``dim`` to a vector of ``dim``.

    ``net(t, y, theta)`` evaluates it (in C++) for y of shape (D,) or (B, D).
    """

    def __init__(self, *layers: Layer):
        if not layers:
            raise ValueError("`Sequential` needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} of `Sequential` must be a neuralode.nets layer; got "
                                f"{type(layer).__name__}")
        self.layers = tuple(layers)
        self.dim = self._infer_dim()
        self.num_params = sum(layer.num_params() for layer in self.layers)
        self._cores: dict[int, _core.Network] = {}
        if self.dim is not None:  # built now rather than in the first solve
            self.core(self.dim)

    def _infer_dim(self):
        """The state dimension fixed by the first layer that requires a number of inputs, a
        Linear say (None if no layer does)."""
        extra = 0
        for layer in self.layers:
            if layer.input_width() is not None:
                dim = layer.input_width() - extra
                if dim < 1:
                    raise ValueError(f"{layer!r} receives the state plus {extra} time feature(s), "
                                     f"so it needs more than {extra} inputs")
                self._check_widths(dim)
                return dim
            extra = layer.output_width(extra)
        return None

    def _check_widths(self, dim):
        width = dim
        for layer in self.layers:
            width = layer.output_width(width)
        if width != dim:
            raise ValueError(f"the network maps a state of {dim} components to {width} outputs; "
                             "dynamics need as many outputs as inputs")

    def core(self, dim: int) -> "_core.Network":
        """The C++ network for states of dimension ``dim`` (built once, then cached)."""
        if self.dim is not None and dim != self.dim:
            raise ValueError(f"`y0` has {dim} components but the network takes states of "
                             f"{self.dim}")
        if dim not in self._cores:
            self._check_widths(dim)
            specs, offset, width = [], 0, dim
            for layer in self.layers:
                out = layer.output_width(width)
                specs.append((layer.kind, width, out, offset, layer.setting()))
                offset += layer.num_params()
                width = out
            self._cores[dim] = _core.Network(specs, dim, self.num_params)
        return self._cores[dim]

    def init(self, seed=None) -> np.ndarray:
        """Fresh parameters, layer by layer from one generator, reproducible for a given seed:
        every Linear's W and b uniform in ±1/√in_features (fan-in scaling, as
        torch.nn.Linear); other layers as their ``init`` says."""
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as error:
            raise type(error)(f"`seed` must be None or an int >= 0; got {seed!r}") from None
        parts = [layer.init(rng) for layer in self.layers if layer.num_params()]
        return np.concatenate(parts) if parts else np.zeros(0)

    def unflatten(self, theta) -> dict:
        """Named views into θ: ``"{i}.weight"`` (out, in) and ``"{i}.bias"`` for each Linear,
        i its index in the Sequential, and each layer's own names (``ConcatSquashLinear``'s
        ``"{i}.hyper_gate.weight"``, ...). Writing to a view writes to θ."""
        theta = self.check_params(theta)
        views, offset = {}, 0
        for i, layer in enumerate(self.layers):
            size = layer.num_params()
            views.update(layer.views(theta[offset:offset + size], f"{i}."))
            offset += size
        return views

    def check_params(self, theta, name="theta", dtype=_FLOAT64) -> np.ndarray:
        """θ as a C-contiguous array of dtype (float64 or float32) of this network's length."""
        if type(theta) is np.ndarray and theta.dtype is dtype and \
                theta.shape == (self.num_params,) and theta.flags.c_contiguous:
            return theta  # the common case, without the slower checks below
        if theta is None:
            if self.num_params == 0:
                return np.zeros(0, dtype)
            raise ValueError(f"`{name}` is required for a network with {self.num_params} "
                             "parameters; make them with `net.init(seed)`")
        return param_vector(theta, self.num_params, name, "this network", dtype)

    def __call__(self, t, y, theta) -> np.ndarray:
        """f(t, y; θ) for y of shape (D,) or (B, D); t a scalar or one per row. In float32
        when y and θ are (numpy's promotion), else float64."""
        theta, y, rows, t_rows = self._point(t, y, theta)
        return self.core(rows.shape[1]).forward(t_rows, rows, theta).reshape(y.shape)

    def _point(self, t, y, theta):
        """(θ, y, y as (B, D) rows, t per row), checked, for evaluations at given points; θ
        and y in their promoted type."""
        dtype = state_dtype(None, y, theta)
        theta = self.check_params(theta, dtype=dtype)
        if not np.all(np.isfinite(theta)):
            raise ValueError("`theta` contains NaN or inf")
        y = _real_array(y, "y", dtype)
        if y.ndim not in (1, 2):
            raise ValueError(f"`y` must have shape (D,) or (B, D); got shape {y.shape}")
        rows = np.ascontiguousarray(np.atleast_2d(y))
        return theta, y, rows, np.ascontiguousarray(self._row_times(t, rows))

    def _row_times(self, t, rows):
        """t (a scalar or one per row) for each row of `rows`, once the rows are checked
        against the network's state dimension."""
        if self.dim is not None and rows.shape[1] != self.dim:
            raise ValueError(f"`y` has {rows.shape[1]} components but the network takes "
                             f"states of {self.dim}")
        t = _real_array(t, "t", np.float64)
        try:
            return np.broadcast_to(t, rows.shape[:1])
        except ValueError:
            raise ValueError(f"`t` must be a scalar or hold one time per row of `y` "
                             f"({rows.shape[0]}); got shape {t.shape}") from None

    def vjp(self, t, y, theta, a):
        """Vector-Jacobian products at (t, y), by hand-written backpropagation in C++:
        ``(a·∂f/∂y, a·∂f/∂θ, a·∂f/∂t)``, one set per row of y (D,) or (B, D); in float32
        when y, θ and a are."""
        dtype = state_dtype(None, y, theta, a)
        theta = self.check_params(theta, dtype=dtype)
        y = _real_array(y, "y", dtype)
        a = _real_array(a, "a", dtype)
        if y.ndim not in (1, 2):
            raise ValueError(f"`y` must have shape (D,) or (B, D); got shape {y.shape}")
        if a.shape != y.shape:
            raise ValueError(f"`a` must have the shape of `y` {y.shape}; got shape {a.shape}")
        rows = np.ascontiguousarray(np.atleast_2d(y))
        t_rows = np.ascontiguousarray(self._row_times(t, rows))
        a_y, a_theta, a_t = self.core(rows.shape[1]).vjp(
            t_rows, rows, theta, np.ascontiguousarray(np.atleast_2d(a)))
        if y.ndim == 1:
            return a_y[0], a_theta[0], float(a_t[0])
        return a_y, a_theta, a_t

    def jacobian(self, t, y, theta) -> np.ndarray:
        """∂f/∂y at (t, y), exact (forward mode through the layers, in C++): shape (D, D) for
        y of shape (D,), (B, D, D) for rows (B, D); t a scalar or one per row."""
        theta, y, rows, t_rows = self._point(t, y, theta)
        jacobians = self.core(rows.shape[1]).jacobian(t_rows, rows, theta)
        return jacobians[0] if y.ndim == 1 else jacobians

    def spec(self) -> list:
        """The layers as JSON-ready dicts (saved files and pickles hold this)."""
        return [layer.spec() for layer in self.layers]

    def __reduce__(self):
        # Rebuilt from its spec: the C++ networks it caches cannot be pickled, and the new
        # Sequential builds its own.
        return network_from_spec, (self.spec(),)

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


def network_from_spec(specs) -> Sequential:
    """The network :meth:`Sequential.spec` describes; ValueError if it is malformed."""
    if not isinstance(specs, list) or not specs:
        raise ValueError("the network description must be a non-empty list of layers")
    layers = []
    for i, spec in enumerate(specs):
        try:
            layers.append(layer_from_spec(spec))
        except (TypeError, ValueError) as error:
            raise ValueError(f"layer {i}: {error}") from None
    return Sequential(*layers)


def MLP(dim: int, hidden=(64,), activation: str = "tanh", time_input: bool = False) -> Sequential:
    """Multilayer perceptron dim → hidden... → dim with ``activation`` between Linears.

    With ``time_input=True`` a ConcatTime precedes every Linear, so each sees t as its last
    input feature (torchdiffeq's ConcatLinear).
    """
    dim = positive_int(dim, "dim")
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"`hidden` must be a list of layer widths, e.g. [64]; got "
                        f"{type(hidden).__name__}")
    hidden = [positive_int(h, "hidden") for h in hidden]
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    widths = [dim, *hidden, dim]
    layers: list[Layer] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        if time_input:
            layers.append(ConcatTime())
        layers.append(Linear(w_in + int(time_input), w_out))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)
