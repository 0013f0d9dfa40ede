"""90 % prediction intervals by normalised (locally adaptive) conformal prediction on out-of-fold residuals.

Why normalised: the error of a prediction is dominated by the sampling noise of the district's observed value,
which is ten times larger in a district of 500 inhabitants than in a city (``targets.py``). A single half-width
would be far too wide for cities and too narrow for hamlets; conditional coverage would be poor at both ends. So
the conformity score is ``|y − ŷ| / σ(x)`` with

    σ²(x) = τ² + c · v(x)

where ``v(x)`` is the target's binomial sampling variance for the district's population (known for every district,
labelled or not; no coverage is used since unlabelled districts have none) and ``τ², c`` are fitted by Gaussian
maximum likelihood on the calibration residuals. The interval is ``ŷ ± q · σ(x)``, ``q`` the
``⌈(n+1)(1−α)⌉/n`` empirical quantile of the calibration scores, clipped to the target's bounds.

Calibration residuals are out-of-fold residuals of the cross-validation (cross-conformal / CV+ style, without
refitting anything): every labelled district is used both to train the final model and, through its out-of-fold
residual, to calibrate. By default the *grouped* (province) CV residuals calibrate: they include the error of
predicting a district whose whole province lacks results, so the intervals stay valid for clustered gaps and are
conservative for isolated ones. The coverage reported by the evaluation is measured honestly: the quantile and
scale used for fold k are calibrated on the other folds only.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The finite-sample-valid (1 − α) quantile of conformity scores: the ⌈(n+1)(1−α)⌉-th smallest."""
    scores = np.sort(np.asarray(scores, dtype=float)[np.isfinite(scores)])
    n = len(scores)
    if n == 0:
        return float("inf")
    rank = int(np.ceil((n + 1) * (1 - alpha)))
    return float(scores[min(rank, n) - 1]) if rank <= n else float(scores[-1])


class NormalisedConformal:
    """Locally adaptive conformal intervals ``ŷ ± q σ(x)`` with ``σ²(x) = τ² + c v(x)`` (see module docstring)."""

    def __init__(self, alpha: float = 0.1, bounds: tuple[float, float] | None = (0.0, 100.0), adaptive: bool = True):
        self.alpha = alpha
        self.bounds = bounds
        self.adaptive = adaptive

    def fit(self, residuals, noise_variance) -> NormalisedConformal:
        r = np.asarray(residuals, dtype=float)
        v = np.asarray(noise_variance, dtype=float)
        ok = np.isfinite(r) & np.isfinite(v)
        r, v = r[ok], v[ok]
        self.tau2_, self.c_ = fit_scale(r, v) if self.adaptive else (float(np.mean(r**2)), 0.0)
        self.scores_ = np.sort(np.abs(r) / self.scale(v))  # kept: intervals at any other level need no refit
        self.quantile_ = conformal_quantile(self.scores_, self.alpha)
        self.n_calibration_ = int(len(r))
        return self

    def scale(self, noise_variance) -> np.ndarray:
        v = np.nan_to_num(np.asarray(noise_variance, dtype=float), nan=float(np.nanmedian(noise_variance)))
        return np.sqrt(self.tau2_ + self.c_ * v)

    def quantile(self, alpha: float | None = None) -> float:
        """The score quantile for miscoverage ``alpha`` (default: the fitted ``alpha``)."""
        return self.quantile_ if alpha is None or alpha == self.alpha else conformal_quantile(self.scores_, alpha)

    def half_width(self, noise_variance, alpha: float | None = None) -> np.ndarray:
        return self.quantile(alpha) * self.scale(noise_variance)

    def interval(self, prediction, noise_variance, alpha: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        prediction = np.asarray(prediction, dtype=float)
        half = self.half_width(noise_variance, alpha)
        lower, upper = prediction - half, prediction + half
        if self.bounds is not None:
            lower, upper = np.clip(lower, *self.bounds), np.clip(upper, *self.bounds)
        return lower, upper

    def to_dict(self) -> dict:
        return {
            "method": "normalised split/cross conformal on out-of-fold residuals",
            "alpha": self.alpha,
            "quantile": self.quantile_,
            "tau2": self.tau2_,
            "noise_multiplier": self.c_,
            "n_calibration": self.n_calibration_,
        }


def fit_scale(residuals: np.ndarray, noise_variance: np.ndarray) -> tuple[float, float]:
    """Gaussian ML estimate of ``τ² ≥ 0, c ≥ 0`` in ``Var(residual) = τ² + c v`` (parameters on the log scale)."""
    r2 = residuals**2
    v = noise_variance
    start = np.log([max(np.mean(r2) / 2, 1e-6), 0.5])

    def nll(theta):
        var = np.exp(theta[0]) + np.exp(theta[1]) * v
        return float(np.sum(np.log(var) + r2 / var))

    best = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    tau2, c = np.exp(best.x)
    return float(tau2), float(c)


def cross_conformal_coverage(
    y, prediction, noise_variance, fold_of, alpha: float = 0.1, bounds=(0.0, 100.0), adaptive: bool = True
) -> dict:
    """Empirical coverage and width of intervals for each fold calibrated on the other folds' OOF residuals."""
    y = np.asarray(y, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    v = np.asarray(noise_variance, dtype=float)
    fold_of = np.asarray(fold_of)
    covered = np.zeros(len(y), dtype=bool)
    width = np.zeros(len(y))
    for fold in np.unique(fold_of):
        test = fold_of == fold
        calibration = NormalisedConformal(alpha, bounds, adaptive).fit(y[~test] - prediction[~test], v[~test])
        lower, upper = calibration.interval(prediction[test], v[test])
        covered[test] = (y[test] >= lower) & (y[test] <= upper)
        width[test] = upper - lower
    return {"coverage": float(covered.mean()), "mean_width": float(width.mean()), "covered": covered, "width": width}
