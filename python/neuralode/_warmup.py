"""A few tiny solves at import, so that a user's first solve is as fast as the second.

Nothing is compiled: what the first call would otherwise pay is cold code pages and caches
in the C++ core, first allocations and Python's first pass through the argument checks.
Each lane width (1, 4, 8 samples per thread) and each gradient mode runs once here, on a
small network over a short interval, on the importing thread only: starting OpenMP's thread
pool at import would hang a process forked from a parent whose OpenMP runtime was already
running threads, and would start threads in every process that merely imports neuralode.
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
    for y0 in (rows[0], rows[:4], rows[:16]):  # 1, 4 and 8 lanes
        odeint(net, y0, t, params=theta, num_threads=1)
        for gradient in GRADIENT_MODES:
            ys, pullback = odeint_vjp(net, y0, t, params=theta, gradient=gradient,
                                      num_threads=1)
            pullback(np.ones_like(ys))
