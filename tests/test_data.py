"""Generated data sets: the spiral against an independent solver, the shapes of the
irregular samples, and the geometry of moons and circles."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from conftest import spiral as cubic_spiral
from neuralode import data


def test_spiral_follows_the_cubic_dynamics():
    t, y = data.spiral(50, 10.0)
    assert t.shape == (50,) and y.shape == (50, 2)
    ref = solve_ivp(cubic_spiral, (0, 10.0), [2.0, 0.0], method="DOP853", t_eval=t,
                    rtol=1e-12, atol=1e-12).y.T
    np.testing.assert_allclose(y, ref, atol=1e-8)


def test_irregular_noisy_spiral_trajectories():
    t, y = data.spiral(40, 5.0, n_trajectories=6, noise=0.1, irregular=True, seed=3)
    assert t.shape == (6, 40) and y.shape == (40, 6, 2)
    assert np.all(t[:, 0] == 0) and np.all(np.diff(t, axis=1) > 0) and np.all(t <= 5.0)
    assert not np.array_equal(t[0], t[1])  # each trajectory has its own stamps
    clean_t, clean = data.spiral(40, 5.0, n_trajectories=6, irregular=True, seed=3)
    np.testing.assert_array_equal(t, clean_t)
    np.testing.assert_array_equal(y[0], clean[0])  # y0 is observed exactly
    residual = (y - clean)[1:]
    assert 0.08 < residual.std() < 0.12
    again = data.spiral(40, 5.0, n_trajectories=6, noise=0.1, irregular=True, seed=3)
    np.testing.assert_array_equal(again[1], y)


def test_moons_and_circles_geometry():
    X, labels = data.moons(101, noise=0.0)
    assert X.shape == (101, 2) and set(labels) == {0, 1} and abs(labels.sum() - 50.5) <= 0.5
    np.testing.assert_allclose(np.hypot(*X[labels == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*(X[labels == 1] - [1.0, 0.5]).T), 1.0)
    X, labels = data.circles(80, noise=0.0, factor=0.3)
    np.testing.assert_allclose(np.hypot(*X[labels == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*X[labels == 1].T), 0.3)


def test_data_errors():
    with pytest.raises(ValueError, match="`n_points` must be at least 2"):
        data.spiral(1)
    with pytest.raises(TypeError, match="`n_trajectories` must be an int"):
        data.spiral(10, n_trajectories=2.5)
    with pytest.raises(ValueError, match="`noise` must be finite and >= 0"):
        data.moons(10, noise=-1)
    with pytest.raises(ValueError, match="`factor` must lie in"):
        data.circles(10, factor=1.5)
    with pytest.raises(ValueError, match="`t_final` must be positive"):
        data.spiral(10, 0.0)
