"""neuralode: Neural ODEs whose solvers and networks run in C++ (Eigen + OpenMP)."""
from importlib.metadata import PackageNotFoundError, version as _version

from . import _core, data, losses, nets, optim
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
