"""Data sets generated on the spot (nothing is downloaded): the cubic spiral of the Neural
ODE demo, with noise and irregular sampling, and two moons and concentric circles for
classification."""
from __future__ import annotations

import numpy as np

from ._checks import check_float, check_int
from .solve import odeint

__all__ = ["SPIRAL_A", "spiral_dynamics", "spiral", "moons", "circles"]

SPIRAL_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])


def spiral_dynamics(t, y):
    """The true dynamics of the demo: dy/dt = (y**3) A, y a row vector."""
    return (y ** 3) @ SPIRAL_A


def _nonnegative(value, name):
    value = check_float(value, name)  # a finite real number
    if value < 0:
        raise ValueError(f"`{name}` must be finite and >= 0; got {value}")
    return value


def spiral(n_points=1000, t_final=25.0, *, n_trajectories=1, noise=0.0, irregular=False,
           seed=0):
    """Trajectories of the cubic spiral dy/dt = (y³)A, A = [[-0.1, 2], [-2, -0.1]].

    The first trajectory starts at (2, 0), as in the original demo; further ones at random
    points at radius 1.5-2.5. With ``irregular=True`` every trajectory gets its own sorted
    random time stamps in [0, t_final] (the first at 0). Gaussian noise of standard deviation
    ``noise`` is added to every observation after y0.

    Returns:
        (t, y): t of shape (T,) and y of shape (T, 2) for one regularly sampled trajectory;
        otherwise t of shape (B, T) (or (T,) when regular) and y of shape (T, B, 2) — the
        layouts :func:`neuralode.odeint` takes and returns.
    """
    n_points = check_int(n_points, "n_points", 2)
    n_trajectories = check_int(n_trajectories, "n_trajectories", 1)
    noise = _nonnegative(noise, "noise")
    t_final = _nonnegative(t_final, "t_final")
    if t_final == 0:
        raise ValueError("`t_final` must be positive")
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, n_trajectories)
    radii = rng.uniform(1.5, 2.5, n_trajectories)
    y0 = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    y0[0] = (2.0, 0.0)
    if irregular:
        t = np.empty((n_trajectories, n_points))
        for b in range(n_trajectories):
            stamps = np.unique(rng.uniform(0, t_final, n_points - 1))
            while stamps.size < n_points - 1 or stamps[0] == 0:  # ties: draw again
                stamps = np.unique(rng.uniform(0, t_final, n_points - 1))
            t[b, 0], t[b, 1:] = 0.0, stamps
    else:
        t = np.linspace(0.0, t_final, n_points)
    y = odeint(spiral_dynamics, y0, t, rtol=1e-10, atol=1e-12)
    y[1:] += noise * rng.standard_normal(y[1:].shape)
    if n_trajectories == 1 and not irregular:
        return t, y[:, 0]
    return t, y


def moons(n_samples=200, *, noise=0.1, seed=0):
    """Two interleaving half circles (as scikit-learn's make_moons): X (N, 2), labels (N,)."""
    n_samples = check_int(n_samples, "n_samples", 2)
    noise = _nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    a = np.linspace(0, np.pi, n_out)
    b = np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(a), np.sin(a)], axis=1),
                        np.stack([1 - np.cos(b), 1 - np.sin(b) - 0.5], axis=1)])
    labels = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], labels[order]


def circles(n_samples=200, *, noise=0.05, factor=0.5, seed=0):
    """Two concentric circles, the inner one scaled by ``factor`` (as scikit-learn's
    make_circles): X (N, 2), labels (N,) with 1 for the inner circle."""
    n_samples = check_int(n_samples, "n_samples", 2)
    noise = _nonnegative(noise, "noise")
    factor = _nonnegative(factor, "factor")
    if not 0 < factor < 1:
        raise ValueError(f"`factor` must lie in (0, 1); got {factor}")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    a = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    b = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(a), np.sin(a)], axis=1),
                        factor * np.stack([np.cos(b), np.sin(b)], axis=1)])
    labels = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], labels[order]
