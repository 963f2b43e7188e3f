import numpy as np
import pytest

from opjax.solvers.phi_functions import PHI_EXPRESSIONS, phi_functions

NAMES = ("phi1", "phi1_half", "phi2", "f1", "f2", "f3")


def test_contour_values_equal_the_closed_forms_away_from_zero():
    z = np.array([-50.0, -7.5, -2.0, -0.9, 1.3, 3.0, -4.0 + 6.0j, 2.5j, -1e3])
    values = phi_functions(z, NAMES)
    for name in NAMES:
        direct = PHI_EXPRESSIONS[name](z.astype(np.complex128), np.exp)
        np.testing.assert_allclose(values[name], direct, rtol=1e-12, err_msg=name)


def test_limits_at_zero_and_no_cancellation_near_it():
    """phi1 -> 1, phi1_half -> 1/2, phi2 -> 1/2, f1, f2, f3 -> 1/6, with Taylor accuracy."""
    limits = {"phi1": 1.0, "phi1_half": 0.5, "phi2": 0.5, "f1": 1 / 6, "f2": 1 / 6, "f3": 1 / 6}
    z = np.array([0.0, 1e-12, -1e-8, 1e-8j])
    values = phi_functions(z, NAMES)
    for name, limit in limits.items():
        np.testing.assert_allclose(values[name], limit, rtol=1e-7, err_msg=name)
    # Taylor series: phi1 = sum z^j / (j + 1)!, phi2 = sum z^j / (j + 2)!
    small = np.array([1e-3])
    v = phi_functions(small, ("phi1", "phi2"))
    np.testing.assert_allclose(v["phi1"], 1 + small / 2 + small**2 / 6 + small**3 / 24, rtol=1e-14)
    np.testing.assert_allclose(
        v["phi2"], 0.5 + small / 6 + small**2 / 24 + small**3 / 120, rtol=1e-14
    )


def test_simpson_consistency_of_the_etdrk4_weights():
    """f1 + 4 f2 + f3 = phi1 for every z (the scheme is exact for constant N)."""
    z = np.linspace(-30, 5, 71) + 0.3j
    v = phi_functions(z, ("phi1", "f1", "f2", "f3"))
    np.testing.assert_allclose(v["f1"] + 4 * v["f2"] + v["f3"], v["phi1"], rtol=1e-11)


def test_unknown_function_is_named():
    with pytest.raises(ValueError, match=r"unknown phi-functions \['phi9'\]"):
        phi_functions(np.zeros(1), ("phi9",))
