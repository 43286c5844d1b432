"""pytest-benchmark suite for training: W6, DiffEqFlux's spiral benchmark (500 Adam steps)."""
import numpy as np
import pytest

import neuralode as nde
import peers
import workloads as w


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_w6_neuralode(benchmark, gradient):
    loss = benchmark.pedantic(w.neuralode_w6, args=(gradient,), rounds=3, warmup_rounds=1)
    assert np.isfinite(loss) and loss < 0.2  # DiffEqFlux publishes 0.028-0.06


def test_w6_torchdiffeq_few_steps(benchmark):
    """torchdiffeq's odeint_adjoint for 5 of the 500 steps (the full run takes minutes)."""
    net, theta = w.w3_net()
    run = peers.torchdiffeq_w6(net, theta, iterations=5)
    if run is None:
        pytest.skip("torchdiffeq is not installed")
    assert np.isfinite(benchmark.pedantic(run, rounds=1))
