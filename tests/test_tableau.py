"""Every registered method's Butcher tableau is consistent (diffrax-style self-checks)."""
import numpy as np
import pytest

import neuralode as nde

ORDERS = {"euler": (1, 0), "midpoint": (2, 0), "rk4": (4, 0), "bosh3": (3, 2), "dopri5": (5, 4)}


@pytest.mark.parametrize("method", nde.METHODS)
def test_tableau_is_consistent(method):
    tab = nde._core.tableau(method)
    a, b, c, err = (np.array(tab[k]) for k in ("a", "b", "c", "error"))
    s = tab["stages"]
    assert a.shape == (s, s) and np.allclose(np.triu(a), 0)  # explicit
    np.testing.assert_allclose(a.sum(axis=1), c, atol=1e-15)
    assert b.sum() == pytest.approx(1, abs=1e-15)
    assert err.sum() == pytest.approx(0, abs=1e-15)
    assert (tab["order"], tab["error_order"]) == ORDERS[method]
    # Order conditions up to order 4 for the propagated solution.
    order = tab["order"]
    if order >= 2:
        assert b @ c == pytest.approx(1 / 2, abs=1e-14)
    if order >= 3:
        assert b @ c**2 == pytest.approx(1 / 3, abs=1e-14)
        assert b @ a @ c == pytest.approx(1 / 6, abs=1e-14)
    if order >= 4:
        assert b @ c**3 == pytest.approx(1 / 4, abs=1e-14)
        assert (b * c) @ a @ c == pytest.approx(1 / 8, abs=1e-14)
        assert b @ a @ c**2 == pytest.approx(1 / 12, abs=1e-14)
        assert b @ a @ a @ c == pytest.approx(1 / 24, abs=1e-14)
    # The embedded solution b - error has its own order.
    if tab["error_order"] >= 2:
        b_hat = b - err
        assert b_hat @ c == pytest.approx(1 / 2, abs=1e-14)
    if tab["error_order"] >= 3:
        b_hat = b - err
        assert b_hat @ c**2 == pytest.approx(1 / 3, abs=1e-14)
        assert b_hat @ a @ c == pytest.approx(1 / 6, abs=1e-14)


def test_fsal_is_derived_for_the_embedded_pairs():
    assert nde._core.tableau("dopri5")["fsal"] and nde._core.tableau("bosh3")["fsal"]
    assert not any(nde._core.tableau(m)["fsal"] for m in ("euler", "midpoint", "rk4"))


def test_dopri5_dense_output_ends_on_the_step():
    tab = nde._core.tableau("dopri5")
    dense = np.array(tab["dense"])
    # At θ = 1 the continuous extension equals the propagated solution: Σ_j P_ij = b_i.
    np.testing.assert_allclose(dense.sum(axis=1), tab["b"], atol=1e-14)
