"""Metrics: pure functions of predictions and targets, each benchmark's to its own definition.

One concept per file: :mod:`.relative` (neuraloperator's relative Lp and H1), :mod:`.pdebench`
(PDEBench), :mod:`.the_well` (The Well), :mod:`.poseidon` (Poseidon), :mod:`.correlation`
(PDE-Refiner / pdearena), :mod:`.spectra` (energy spectra), :mod:`.uncertainty` (the spread
of sampled rollouts), :mod:`.finite_element` (L2, H1 and boundary errors of finite-element
functions on meshes), and :mod:`.benchmark` (each benchmark's metrics, chosen by the data's
format).
"""

from opjax.metrics.benchmark import benchmark_metrics
from opjax.metrics.correlation import high_correlation_time, pearson_correlation
from opjax.metrics.finite_element import FiniteElementNorms
from opjax.metrics.pdebench import (
    pdebench_brmse,
    pdebench_crmse,
    pdebench_frmse,
    pdebench_max_error,
    pdebench_metrics,
    pdebench_nrmse,
    pdebench_rmse,
)
from opjax.metrics.poseidon import poseidon_median_relative_l1, poseidon_relative_lp
from opjax.metrics.relative import finite_difference, relative_h1, relative_lp
from opjax.metrics.spectra import energy_spectrum
from opjax.metrics.the_well import (
    default_spectral_bins,
    well_binned_spectral_mse,
    well_linf,
    well_mae,
    well_mse,
    well_nmse,
    well_nrmse,
    well_pearson_r,
    well_rmse,
    well_vrmse,
)
from opjax.metrics.uncertainty import sample_correlation, sample_std

__all__ = [
    "FiniteElementNorms",
    "benchmark_metrics",
    "energy_spectrum",
    "sample_correlation",
    "sample_std",
    "default_spectral_bins",
    "finite_difference",
    "high_correlation_time",
    "pdebench_brmse",
    "pdebench_crmse",
    "pdebench_frmse",
    "pdebench_max_error",
    "pdebench_metrics",
    "pdebench_nrmse",
    "pdebench_rmse",
    "pearson_correlation",
    "poseidon_median_relative_l1",
    "poseidon_relative_lp",
    "relative_h1",
    "relative_lp",
    "well_binned_spectral_mse",
    "well_linf",
    "well_mae",
    "well_mse",
    "well_nmse",
    "well_nrmse",
    "well_pearson_r",
    "well_rmse",
    "well_vrmse",
]
