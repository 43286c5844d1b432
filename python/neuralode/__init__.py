"""neuralode: Neural ODEs whose solvers and networks run in C++ (Eigen + OpenMP)."""
import os as _os
from importlib.metadata import PackageNotFoundError, version as _version


def _import_core():
    """Imports _core with OpenMP's idle threads spinning only briefly before they sleep.

    libgomp spins 300000 times by default (milliseconds) before an idle thread sleeps,
    taking that CPU from the caller and from other processes; sleeping at once
    (OMP_WAIT_POLICY=PASSIVE) makes every wake-up cost tens of microseconds, as much as a
    small batch's parallel speed-up. 30000 spins (tens of microseconds) keep a training
    loop's threads warm from one solve to the next (measured: bench/threads_busy.py). libgomp
    reads the setting once, when _core loads it; a user's own OMP_WAIT_POLICY or
    GOMP_SPINCOUNT wins, and what is set here is removed after, so that child processes and
    other OpenMP runtimes see the user's environment.
    """
    ours = not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & _os.environ.keys()
    if ours:
        _os.environ["GOMP_SPINCOUNT"] = str(_SPIN_COUNT)
    try:
        from . import _core
    finally:
        if ours:
            del _os.environ["GOMP_SPINCOUNT"]
    return _core


_SPIN_COUNT = 30000
_core = _import_core()
from . import data, losses, nets, optim  # noqa: E402 (after _core)
from ._warmup import warm_up as _warm_up
from .classifiers import ODENetClassifier, ResNetClassifier
from .dynamics import Batched, Dynamics, batched
from .grad import GRADIENT_MODES, Gradients, GradientStats, odeint_vjp
from .io import load
from .models import NeuralODE
from .solve import METHODS, Solution, SolverError, SolveStats, odeint, solve

try:
    __version__ = _version("neuralode")
except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled tree
    __version__ = _core.__version__

__all__ = ["Dynamics", "batched", "Batched", "odeint_vjp", "Gradients", "GradientStats", "GRADIENT_MODES", "odeint",
           "solve", "Solution", "SolveStats", "SolverError", "METHODS", "nets", "losses", "data",
           "optim", "NeuralODE", "ODENetClassifier", "ResNetClassifier", "load",
           "__version__"]

_warm_up()  # the first solve as fast as the second (see _warmup.py)
