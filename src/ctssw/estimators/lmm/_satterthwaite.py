"""Satterthwaite denominator degrees of freedom for fixed effects, as lmerTest computes them.

Kuznetsova, Brockhoff & Christensen (2017), "lmerTest Package: Tests in
Linear Mixed Effects Models", J. Stat. Soft. 82(13), §3: with the variance
parameters ``φ = (θ, σ)``, ``A = 2 H⁻¹`` from the Hessian ``H`` of the
(RE)ML deviance in φ (β profiled, σ not), and ``g = ∂(l'V(φ)l)/∂φ`` for the
covariance ``V(φ) = σ² (X'V⁻¹X)⁻¹`` of the fixed effects, the df of ``l'β``
is ``2 (l'Vl)² / (g'Ag)``. ``H`` and ``g`` are taken by Richardson-extrapolated
central differences with the step rule of R's numDeriv (which lmerTest
uses), and ``H`` is inverted on its eigenvalues above 1e-8 (a Moore–Penrose
inverse), as lmerTest does.
"""

from __future__ import annotations

import math

import numpy as np

_LOG2PI = math.log(2.0 * math.pi)
# numDeriv's defaults: relative step d (0.1 for hessian, 1e-4 for jacobian), eps where x is ~0
_EPS, _D_HESS, _D_JAC, _R, _V = 1e-4, 0.1, 1e-4, 4, 2.0
_ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)
_EIG_TOL = 1e-8


def _steps(x: np.ndarray, d: float) -> np.ndarray:
    return np.abs(d * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _richardson(a: list[np.ndarray]) -> np.ndarray:
    a = list(a)
    for m in range(1, len(a)):
        a = [(a[k + 1] * 4**m - a[k]) / (4**m - 1) for k in range(len(a) - 1)]
    return a[0]


def hessian(f, x: np.ndarray) -> np.ndarray:
    """Hessian of scalar ``f`` at ``x`` (numDeriv's ``genD`` scheme)."""
    n = x.size
    f0 = f(x)
    h0 = _steps(x, _D_HESS)
    diag = np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        approx, h = [], h0.copy()
        for _ in range(_R):
            approx.append((f(x + e * h) - 2 * f0 + f(x - e * h)) / h[i] ** 2)
            h = h / _V
        diag[i] = _richardson(approx)
    H = np.diag(diag)
    for i in range(n):
        for j in range(i):
            e = np.zeros(n)
            e[i] = e[j] = 1.0
            approx, h = [], h0.copy()
            for _ in range(_R):
                num = f(x + e * h) - 2 * f0 + f(x - e * h) - diag[i] * h[i] ** 2 - diag[j] * h[j] ** 2
                approx.append(num / (2 * h[i] * h[j]))
                h = h / _V
            H[i, j] = H[j, i] = _richardson(approx)
    return H


def jacobian(f, x: np.ndarray) -> np.ndarray:
    """Jacobian of vector ``f`` at ``x``, shape ``(len(f(x)), len(x))`` (numDeriv's Richardson)."""
    n = x.size
    h = _steps(x, _D_JAC)
    levels = []
    for _ in range(_R):
        cols = []
        for i in range(n):
            e = np.zeros(n)
            e[i] = h[i]
            cols.append((f(x + e) - f(x - e)) / (2 * h[i]))
        levels.append(np.column_stack(cols))
        h = h / _V
    return _richardson(levels)


def satterthwaite_df(evaluate, theta: np.ndarray, sigma: float, n: int, p: int, reml: bool) -> np.ndarray:
    """Satterthwaite df for each fixed effect at the optimum ``(θ, σ)``.

    ``evaluate(θ)`` returns the ``Evaluation`` at θ (``ldL2``, ``pwrss``,
    ``ldRX2``, ``RX``). Returns an array of length p; NaN where the variance
    of the coefficient does not depend on the variance parameters.
    """
    varpar = np.append(np.asarray(theta, dtype=float), sigma)

    def deviance(vp: np.ndarray) -> float:
        ev = evaluate(vp[:-1])
        s2 = vp[-1] ** 2
        dev = ev.ldL2 + ev.pwrss / s2 + n * (_LOG2PI + math.log(s2))
        if reml:
            dev += ev.ldRX2 - p * (_LOG2PI + math.log(s2))
        return dev

    def covbeta(vp: np.ndarray) -> np.ndarray:
        ev = evaluate(vp[:-1])
        rinv = np.linalg.inv(ev.RX)
        return (vp[-1] ** 2 * (rinv.T @ rinv)).ravel()

    H = hessian(deviance, varpar)
    vals, vecs = np.linalg.eigh(H)
    pos = vals > _EIG_TOL
    A = 2.0 * (vecs[:, pos] / vals[pos]) @ vecs[:, pos].T
    V = covbeta(varpar).reshape(p, p)
    J = jacobian(covbeta, varpar)
    out = np.empty(p)
    for j in range(p):
        g = J[j * p + j]
        den = float(g @ A @ g)
        out[j] = 2.0 * V[j, j] ** 2 / den if den > 0 else math.nan
    return out
