# Types of the C++ extension's boundary (cpp/bindings/). Every solve entry point takes
# (rhs, y0, t, options) and returns plain arrays; the Python layer checks arguments first.
# States come in float64 or float32 (times are always float64): each class that holds states
# exists twice, the float32 one named with the suffix 32 (NetworkRhs32, SolveResult32, ...),
# its arrays float32 where these say F64 for states. Network's methods take either.
from typing import Callable, Optional

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

__version__: str
methods: list[str]

def tableau(name: str) -> dict: ...
def status_names() -> list[tuple[str, str]]: ...

class Network:
    def __init__(self, layers: list[tuple[str, int, int, int, float]], dim: int,
                 num_params: int) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def num_params(self) -> int: ...
    def forward(self, t: F64, y: F64, theta: F64, num_threads: int = ...) -> F64: ...
    def vjp(self, t: F64, y: F64, theta: F64, a: F64,
            num_threads: int = ...) -> tuple[F64, F64, F64]: ...
    def jacobian(self, t: F64, y: F64, theta: F64, num_threads: int = ...) -> F64: ...
    def _jvp(self, t: F64, y: F64, theta: F64, v: F64) -> tuple[F64, F64]: ...

class SolverOptions:
    """How to solve: the method, its step control and the threads (0: the library decides)."""
    method: str
    rtol: float
    atol: list[float]  # one value, or one per state component
    step_size: float   # 0: step on the output grid
    first_step: float  # 0: Hairer's initial step
    max_step: float
    max_steps: int
    num_threads: int
    def __init__(self) -> None: ...

class AdjointOptions:
    """A backward solve's options (SolverOptions' fields and full_norm); atol covers the
    backward state entry by entry."""
    method: str
    rtol: float
    atol: list[float]
    step_size: float
    first_step: float
    max_step: float
    max_steps: int
    num_threads: int
    full_norm: bool
    def __init__(self) -> None: ...

class NetworkRhs:
    """A network with its parameters (checked finite, of the network's size)."""
    def __init__(self, net: Network, theta: F64) -> None: ...
    @property
    def theta(self) -> F64: ...

class PythonRhs:
    """Python dynamics: f(t, y) per sample, or batched (t (n,), y (n, D) -> (n, D)); for
    gradients the neuralode.Dynamics whose vjp to call."""
    def __init__(self, f: Callable, dynamics: Optional[object], params: Optional[F64], dim: int,
                 num_params: int, name: str, batched: bool) -> None: ...

class NetworkRhs32(NetworkRhs): ...  # theta float32 (not a subclass in the extension)
class PythonRhs32(PythonRhs): ...    # f gets and returns float32 states

Rhs = NetworkRhs | PythonRhs | NetworkRhs32 | PythonRhs32

class SolveResult:
    ys: F64                   # (T, B, D)
    status: NDArray[np.int32]  # (B,), status_names() index
    t_reached: F64            # (B,)
    stats: I64                # (B, 4): nfe, n_steps, n_accepted, n_rejected
    failed: int               # samples whose status is not success

class BackwardResult:
    grad_y0: F64              # (B, D)
    grad_theta: F64           # (P,): summed over samples in order, in float64
    theta_finite: NDArray[np.bool_]  # (B,): whether each sample's dL/dθ is finite
    a_t: F64                  # (B,): a_t at t_0
    dots: Optional[F64]       # (B, T): dL/dy(t_k)·f(t_k, y_k), column 0 unused; or None
    status: NDArray[np.int32]
    t_reached: F64
    stats: I64
    failed: int

class BackpropResult:
    grad_y0: F64              # (B, D)
    grad_theta: F64           # (P,): summed over samples in order, in float64
    theta_finite: NDArray[np.bool_]  # (B,): whether each sample's dL/dθ is finite
    work: I64                 # (B, 3): VJP evaluations, steps gone back through, 0

def solve(rhs: Rhs, y0: F64, t: F64, options: SolverOptions) -> SolveResult: ...
# s0 (B, 2D): z and a = dL/dz at t_N (a_θ and a_t start at zero).
def adjoint(rhs: Rhs, s0: F64, t_back: F64, ys: F64, dL_dys: F64,
            options: AdjointOptions) -> BackwardResult: ...

class RecordedSolve:
    """A forward solve that kept its accepted steps (NetworkRecordedSolve and
    PythonRecordedSolve in the extension)."""
    def result(self) -> SolveResult: ...
    @property
    def stored_floats(self) -> int: ...
    def evaluate(self, t: F64) -> F64: ...
    def pullback(self, dL_dys: F64, num_threads: int) -> BackpropResult: ...
    # s0 (B, D): dL/dy at t_N.
    def interpolated_pullback(self, s0: F64, t_back: F64, dL_dys: F64,
                              options: AdjointOptions) -> BackwardResult: ...

def record(rhs: Rhs, y0: F64, t: F64, options: SolverOptions) -> RecordedSolve: ...
