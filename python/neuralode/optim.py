"""Gradient-descent optimizers over flat parameter vectors (numpy, float64).

Each optimizer follows the pseudo-code of its ``torch.optim`` page (SGD, Adam, AdamW,
RMSprop) line for line. ``step(params, grad)`` is pure: it returns new parameters and
leaves its inputs alone; only the optimizer's own state advances. The state is plain
numpy arrays plus ints and floats, so ``state_dict()`` can go into an ``.npz`` and JSON.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import check_float, check_int

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm", "StepLR",
           "CosineLR"]


def _positive(name, value):
    return check_float(value, name, positive=True)


def _non_negative(name, value):
    value = check_float(value, name)
    if value < 0:
        raise ValueError(f"`{name}` must be non-negative; got {value:g}")
    return value


def _unit(name, value, *, closed):
    value = check_float(value, name)
    if not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise ValueError(f"`{name}` must lie in [0, 1{']' if closed else ')'}; got {value:g}")
    return value


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {type(value).__name__}")
    return bool(value)


def _array(name, value):
    if np.iscomplexobj(value):
        raise TypeError(f"`{name}` must be an array of real numbers; got complex values")
    try:
        return np.array(value, dtype=np.float64)  # a copy: state may keep it
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of real numbers") from None


def clip_grad_norm(grad, max_norm):
    """Scale ``grad`` by max_norm / (‖grad‖₂ + 1e-6) when its L2 norm exceeds ``max_norm``,
    as ``torch.nn.utils.clip_grad_norm_`` does. Returns ``(clipped_grad, total_norm)``,
    ``total_norm`` being the norm before clipping; ``grad`` itself is left alone."""
    grad = _array("grad", grad)
    if not np.all(np.isfinite(grad)):
        raise ValueError("`grad` contains NaN or inf")
    max_norm = _positive("max_norm", max_norm)
    total_norm = float(np.linalg.norm(grad.ravel()))
    clip_coef = max_norm / (total_norm + 1e-6)
    return (grad * clip_coef if clip_coef < 1.0 else grad), total_norm


class StepLR:
    """lr = base_lr · gamma^⌊step / step_size⌋ (torch.optim.lr_scheduler.StepLR)."""

    def __init__(self, base_lr, step_size, gamma=0.1):
        self.base_lr = _positive("base_lr", base_lr)
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = _positive("gamma", gamma)

    def __call__(self, step):
        step = check_int(step, "step", 0)
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR:
    """lr = min_lr + (base_lr − min_lr)(1 + cos(π step / total_steps)) / 2, then min_lr from
    ``total_steps`` on (torch's CosineAnnealingLR closed form, T_max = total_steps)."""

    def __init__(self, base_lr, total_steps, min_lr=0.0):
        self.base_lr = _positive("base_lr", base_lr)
        self.total_steps = check_int(total_steps, "total_steps", 1)
        self.min_lr = _non_negative("min_lr", min_lr)
        if self.min_lr > self.base_lr:
            raise ValueError(f"`min_lr` must not exceed `base_lr` = {self.base_lr:g}; "
                             f"got {self.min_lr:g}")

    def __call__(self, step):
        step = check_int(step, "step", 0)
        if step >= self.total_steps:
            return self.min_lr
        cosine = (1 + math.cos(math.pi * step / self.total_steps)) / 2
        return self.min_lr + (self.base_lr - self.min_lr) * cosine


class Optimizer:
    """Base class: argument checks, clipping, schedules and state; subclasses give the rule.

    Args:
        lr: learning rate, > 0; may be reassigned between steps. With a ``schedule`` it is
            overwritten by ``schedule(k)`` before step k (k = 0, 1, ... counted here).
        weight_decay: λ ≥ 0, applied as each subclass's torch algorithm says.
        clip_norm: if given, ``clip_grad_norm(grad, clip_norm)`` runs before the update.
        schedule: a callable ``step -> lr`` such as :class:`StepLR` or :class:`CosineLR`.
    """

    def __init__(self, lr, *, weight_decay=0.0, clip_norm=None, schedule=None):
        self.lr = lr
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.clip_norm = None if clip_norm is None else _positive("clip_norm", clip_norm)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"`schedule` must be callable; got {type(schedule).__name__}")
        self.schedule = schedule
        self.reset()

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _positive("lr", value)

    @property
    def steps_taken(self):
        return self._steps

    def reset(self):
        """Forget all state: the next step is step 0 again, for parameters of any shape."""
        self._steps = 0
        self._shape = None
        self._state = {}

    def step(self, params, grad):
        """Return the parameters after one update; ``params`` and ``grad`` are not modified."""
        params, grad = _array("params", params), _array("grad", grad)
        if grad.shape != params.shape:
            raise ValueError(f"`grad` has shape {grad.shape} but `params` has shape "
                             f"{params.shape}; they must match")
        if not np.all(np.isfinite(grad)):
            raise ValueError("`grad` contains NaN or inf")
        if self._shape is None:
            self._shape = params.shape
            self._state = {name: np.zeros(params.shape) for name in self._state_names()}
        elif params.shape != self._shape:
            raise ValueError(f"`params` has shape {params.shape} but this optimizer's state "
                             f"was built for shape {self._shape}; call reset() to start over")
        if self.clip_norm is not None:
            grad, _ = clip_grad_norm(grad, self.clip_norm)
        if self.schedule is not None:
            lr = self.schedule(self._steps)
            if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr >= 0 \
                    or not math.isfinite(lr):
                raise ValueError(f"`schedule` must return a finite lr >= 0; got {lr!r} at "
                                 f"step {self._steps}")
            self._lr = float(lr)
        self._steps += 1
        return self._update(params, grad, self._lr, self._steps)

    def state_dict(self):
        """``{"step": int, "lr": float, <buffer name>: array, ...}``, all copies."""
        return {"step": self._steps, "lr": self._lr,
                **{name: value.copy() for name, value in self._state.items()}}

    def load_state_dict(self, state_dict):
        """Continue from ``state_dict`` as returned by :meth:`state_dict`."""
        for key in ("step", "lr"):
            if key not in state_dict:
                raise ValueError(f"`state_dict` lacks the key {key!r}")
        steps = check_int(state_dict["step"], "state_dict['step']", 0)
        expected = set(self._state_names()) if steps > 0 else set()
        buffers = set(state_dict) - {"step", "lr"}
        if buffers != expected:
            raise ValueError(f"`state_dict` has buffers {sorted(buffers)} but this "
                             f"{type(self).__name__} expects {sorted(expected)}")
        state = {name: _array(f"state_dict[{name!r}]", state_dict[name]) for name in expected}
        shapes = {value.shape for value in state.values()}
        if len(shapes) > 1:
            raise ValueError(f"`state_dict` buffers have differing shapes {sorted(shapes)}")
        lr = state_dict["lr"]  # a schedule may have driven it to 0
        check = _non_negative if self.schedule is not None else _positive
        self._lr = check("state_dict['lr']", lr)
        self._steps, self._state, self._shape = steps, state, shapes.pop() if shapes else None

    def _state_names(self):
        return ()

    def _update(self, params, grad, lr, t):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """SGD as torch.optim.SGD documents it: g += λp; b = μb + (1−τ)g (b = g at t = 1);
    g = g + μb (Nesterov) or b; p −= lr·g."""

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0,
                 *, clip_norm=None, schedule=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, schedule=schedule)
        self.momentum = _non_negative("momentum", momentum)
        self.dampening = _unit("dampening", dampening, closed=True)
        self.nesterov = _flag("nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("`nesterov` requires `momentum` > 0 and `dampening` = 0; got "
                             f"momentum={self.momentum:g}, dampening={self.dampening:g}")

    def _state_names(self):
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def _update(self, p, g, lr, t):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            b = g if t == 1 else \
                self.momentum * self._state["momentum_buffer"] + (1 - self.dampening) * g
            self._state["momentum_buffer"] = b
            g = g + self.momentum * b if self.nesterov else b
        return p - lr * g


class Adam(Optimizer):
    """Adam as torch.optim.Adam documents it: g += λp; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ), or
    max(v)/(1−β₂ᵗ) with amsgrad; p −= lr·m̂/(√v̂ + ε) (Kingma & Ba 2015)."""

    _decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, clip_norm=None, schedule=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, schedule=schedule)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"`betas` must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (_unit("betas[0]", betas[0], closed=False),
                      _unit("betas[1]", betas[1], closed=False))
        self.eps = _non_negative("eps", eps)
        self.amsgrad = _flag("amsgrad", amsgrad)

    def _state_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, p, g, lr, t):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self._decoupled:
                p = p - lr * self.weight_decay * p
            else:
                g = g + self.weight_decay * p
        m = self._state["exp_avg"] = beta1 * self._state["exp_avg"] + (1 - beta1) * g
        v = self._state["exp_avg_sq"] = beta2 * self._state["exp_avg_sq"] + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        if self.amsgrad:
            # torch's docs since PR #142351 (and its code): the max is of v, corrected after
            v = self._state["max_exp_avg_sq"] = np.maximum(self._state["max_exp_avg_sq"], v)
        v_hat = v / (1 - beta2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """AdamW as torch.optim.AdamW documents it: p −= lr·λ·p, then the Adam update without
    L2 in the gradient (Loshchilov & Hutter 2019, decoupled weight decay)."""

    _decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, clip_norm=None, schedule=None):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, clip_norm=clip_norm,
                         schedule=schedule)


class RMSprop(Optimizer):
    """RMSprop as torch.optim.RMSprop documents it: g += λp; v = αv + (1−α)g²; centered:
    v − ḡ²; with momentum b = μb + g/(√ṽ + ε), p −= lr·b, else p −= lr·g/(√ṽ + ε)."""

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, clip_norm=None, schedule=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, schedule=schedule)
        self.alpha = _unit("alpha", alpha, closed=False)
        self.eps = _non_negative("eps", eps)
        self.momentum = _non_negative("momentum", momentum)
        self.centered = _flag("centered", centered)

    def _state_names(self):
        return (("square_avg",) + (("grad_avg",) if self.centered else ())
                + (("momentum_buffer",) if self.momentum > 0 else ()))

    def _update(self, p, g, lr, t):
        alpha = self.alpha
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        v = self._state["square_avg"] = alpha * self._state["square_avg"] + (1 - alpha) * g * g
        if self.centered:
            g_avg = self._state["grad_avg"] = alpha * self._state["grad_avg"] + (1 - alpha) * g
            v = v - g_avg * g_avg
        if self.momentum > 0:
            b = self.momentum * self._state["momentum_buffer"] + g / (np.sqrt(v) + self.eps)
            self._state["momentum_buffer"] = b
            return p - lr * b
        return p - lr * g / (np.sqrt(v) + self.eps)
