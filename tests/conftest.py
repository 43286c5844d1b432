import signal

import numpy as np
import pytest

import neuralode as nde

SPIRAL_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_as_in_a_terminal():
    """The Ctrl-C tests send SIGINT to this process. A non-interactive shell starts its
    background jobs with SIGINT ignored, and Python then installs no handler: the signal
    would vanish and those solves run forever. Give the suite Python's default handler."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        yield
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        yield


def spiral(t, y):
    """The cubic spiral of the Neural ODE demo: dy/dt = (y**3) A."""
    return (y ** 3) @ SPIRAL_A


@pytest.fixture
def spiral_net():
    """The same spiral as a network: Linear(2, 2) on y**3 with W = A^T, b = 0."""
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 2))
    return net, np.concatenate([SPIRAL_A.T.ravel(), [0.0, 0.0]])
