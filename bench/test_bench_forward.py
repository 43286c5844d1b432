"""pytest-benchmark suite for the forward solve: `pytest bench/` (peers when installed)."""
import numpy as np
import pytest

import neuralode as nde
import peers
import workloads as w


def test_w1_neuralode_callable(benchmark):
    ys = benchmark(w.neuralode_w1_callable)
    assert np.abs(ys - w.scipy_w1()).max() < 1e-5


def test_w1_neuralode_net(benchmark):
    net, theta = w.spiral_net()
    ys = benchmark(w.neuralode_w1_net, net, theta)
    assert np.abs(ys - w.scipy_w1()).max() < 1e-5


def test_w1_scipy_rk45(benchmark):
    benchmark(w.scipy_w1)


@pytest.mark.parametrize("peer", sorted(peers.W1))
def test_w1_peer(benchmark, peer):
    run = peers.W1[peer]()
    if run is None:
        pytest.skip(f"{peer} is not installed")
    ys = benchmark(run)
    assert np.abs(ys - w.scipy_w1()).max() < 1e-4


@pytest.mark.parametrize("batch", w.W2_BATCHES)
def test_w2_neuralode(benchmark, batch):
    net, theta = w.w2_net()
    y0 = w.w2_y0(batch)
    ys = benchmark(w.neuralode_w2, net, theta, y0)
    assert ys.shape == (len(w.W2_T), batch, 2)


@pytest.mark.parametrize("batch", w.W2_BATCHES)
@pytest.mark.parametrize("peer", sorted(peers.W2))
def test_w2_peer(benchmark, peer, batch):
    net, theta = w.w2_net()
    run = peers.W2[peer](net, theta, w.w2_y0(batch))
    if run is None:
        pytest.skip(f"{peer} is not installed")
    ys = benchmark(run)
    reference = w.neuralode_w2(net, theta, w.w2_y0(batch))
    assert np.abs(ys - reference).max() < 1e-4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_w2_float32_tolerances_neuralode(benchmark, dtype):
    """W2 float32: B=1024 at rtol 1e-5, atol 1e-7, solved in float32 and in float64."""
    net, theta = w.w2_net()
    y0 = w.w2_y0(w.W2_32_BATCH)
    ys = benchmark(w.neuralode_w2, net, theta.astype(dtype), y0.astype(dtype), w.W2_32_TOL)
    assert ys.dtype == dtype
    assert np.abs(ys - w.neuralode_w2(net, theta, y0)).max() < 1e-4


def test_w7_neuralode(benchmark):
    """W7's wide network at a small row (D=8, H=256, B=64)."""
    dim, hidden, batch = w.W7_SMALL
    net, theta = w.w7_net(dim, hidden)
    y0 = w.w7_y0(dim, batch)
    ys = benchmark(w.neuralode_w7, net, theta, y0)
    assert ys.shape == (len(w.W7_T), batch, dim)
    assert np.array_equal(ys[0], y0)
    reference = nde.odeint(net, y0, w.W7_T, params=theta, rtol=1e-11, atol=1e-13)
    assert np.abs(ys - reference).max() < 1e-5
