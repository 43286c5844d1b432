"""A few tiny solves at import, so that a user's first solve is as fast as the second.

Nothing is compiled: what the first call would otherwise pay is cold code pages and caches
in the C++ core, first allocations, the start of OpenMP's thread pool and Python's first
pass through the argument checks (together 0.1-3 ms, against 0.05-0.5 ms for the solves
this speeds up). Each lane width (1, 4, 8 samples per thread) and each gradient mode runs
once here, on a small network over a short interval.
"""
import numpy as np

from .grad import GRADIENT_MODES, odeint_vjp
from .nets import Linear, Power, Sequential, Tanh
from .solve import odeint


def warm_up():
    net = Sequential(Power(3), Linear(2, 16), Tanh(), Linear(16, 2))
    theta = net.init(seed=0)
    t = np.array([0.0, 0.05, 0.1])
    rows = np.linspace(-1.0, 1.0, 64).reshape(32, 2)
    for y0, threads in ((rows[0], 1), (rows[:4], 1), (rows[:16], 1), (rows, None)):
        odeint(net, y0, t, params=theta, num_threads=threads)
        for gradient in GRADIENT_MODES:
            ys, pullback = odeint_vjp(net, y0, t, params=theta, gradient=gradient,
                                      num_threads=threads)
            pullback(np.ones_like(ys))
