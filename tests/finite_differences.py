"""Central differences, the reference every hand-written gradient in the tests is held to."""
import numpy as np


def central_differences(f, x, h=1e-6):
    """∂f/∂x for a scalar function f of an array x, entry by entry: (f(x+h) - f(x-h)) / 2h."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in range(x.size):
        e = np.zeros_like(x, dtype=np.float64)
        e.flat[i] = h
        grad.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad
