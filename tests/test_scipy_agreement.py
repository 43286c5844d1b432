"""dopri5 is the algorithm of SciPy's RK45: same answer, same work, at equal tolerances."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import neuralode as nde
from conftest import spiral


@pytest.mark.parametrize("rtol,atol", [(1e-7, 1e-9), (1e-5, 1e-7)])
def test_dopri5_matches_scipy_rk45_on_the_cubic_spiral(rtol, atol, spiral_net):
    t = np.linspace(0, 25, 1000)
    ref = solve_ivp(spiral, (0, 25), [2.0, 0.0], method="RK45", t_eval=t, rtol=rtol, atol=atol)
    sol = nde.solve(spiral, [2.0, 0.0], t, rtol=rtol, atol=atol)
    assert abs(sol.stats.nfe - ref.nfev) <= 0.1 * ref.nfev
    scale = np.abs(ref.y).max()
    np.testing.assert_allclose(sol.ys, ref.y.T, rtol=0, atol=1e-6 * scale)
    # The network form of the same spiral takes the same steps.
    net, theta = spiral_net
    sol_net = nde.solve(net, [2.0, 0.0], t, params=theta, rtol=rtol, atol=atol)
    assert sol_net.stats.nfe == sol.stats.nfe
    np.testing.assert_allclose(sol_net.ys, sol.ys, rtol=0, atol=1e-10 * scale)
