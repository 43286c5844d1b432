"""pytest-benchmark suite for gradients: W3, one training step (peers when installed)."""
import numpy as np
import pytest

import neuralode as nde
import peers
import workloads as w


@pytest.mark.parametrize("gradient", nde.GRADIENT_MODES)
def test_w3_neuralode(benchmark, gradient):
    net, theta = w.w3_net()
    data = w.w3_data()
    loss, grad = benchmark(w.neuralode_w3, net, theta, data, gradient)
    assert np.isfinite(loss) and grad.shape == theta.shape


@pytest.mark.parametrize("peer", sorted(peers.W3))
def test_w3_peer(benchmark, peer):
    net, theta = w.w3_net()
    data = w.w3_data()
    run = peers.W3[peer](net, theta, data)
    if run is None:
        pytest.skip(f"{peer} is not installed")
    loss, grad = benchmark(run)
    ours_loss, ours_grad = w.neuralode_w3(net, theta, data, "backprop")
    assert loss == pytest.approx(ours_loss, rel=1e-5)
    assert np.abs(grad - ours_grad).max() < 1e-3 * np.abs(ours_grad).max()


W7_GRAD_TEST_BATCH = 16  # small: the agreement check, not the W7 gradient timing


@pytest.mark.parametrize("peer", sorted(peers.W7_GRAD))
def test_w7_grad_peer(benchmark, peer):
    net, theta = w.w7_net(*w.W7_GRAD)
    y0 = w.w7_y0(w.W7_GRAD[0], W7_GRAD_TEST_BATCH)
    run = peers.W7_GRAD[peer](net, theta, y0)
    if run is None:
        pytest.skip(f"{peer} is not installed")
    grad_y0, grad_theta = benchmark(run)
    ours = w.neuralode_w7_grad(net, theta, y0, "adjoint")
    assert np.abs(grad_y0 - ours.y0).max() < 1e-6 * np.abs(ours.y0).max()
    assert np.abs(grad_theta - ours.params).max() < 1e-6 * np.abs(ours.params).max()
