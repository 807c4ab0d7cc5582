"""Minimising the profiled (RE)ML criterion over θ, and checking the minimum.

The criterion is a function of the relative covariance factor θ; diagonal
entries are bounded below by zero. At a zero diagonal the criterion is even
in that entry (it depends on θ through ΛΛ'), so its derivative there is zero
whether or not zero is the minimum: a gradient method that lands on the bound
cannot tell. After the local search, every diagonal at the bound is therefore
probed away from it and, where the criterion falls, the search restarts from
there (and from the column's reflection). A restart from the best point is
run unless the point is interior and the quasi-Newton model there promises no
decrease that would count as an improvement. ``converged`` is True only when the final point passes the check
(projected gradient near zero, no probe off a bound lower) and the last round
of restarts found no lower criterion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, minimize

from ...errors import EstimationError
from ._core import Evaluation

#: a restart counts as an improvement when it lowers the criterion by more than this (relative)
IMPROVE_REL = 1e-10
#: probes off a zero diagonal, as multiples of the largest diagonal θ (at least these values)
PROBES = (1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class Optimum:
    """The θ that minimises the profiled deviance, with the optimiser's report."""

    theta: np.ndarray
    evaluation: Evaluation
    converged: bool
    n_iter: int
    n_eval: int
    message: str


class _Counted:
    """The criterion as the optimisers see it: +inf where it cannot be evaluated.

    The last two evaluations are kept: the searches end where they evaluated, and
    the restarts and the check start there, so each would otherwise repeat it. Only
    two: on large models each holds arrays the size of the data, and keeping more
    alive slows every later evaluation (numpy can no longer reuse their memory).
    """

    def __init__(self, evaluate):
        self.evaluate = evaluate
        self.n_eval = 0
        self._seen: dict[bytes, tuple[bool, Evaluation | None]] = {}

    def ev(self, theta: np.ndarray, grad: bool = False) -> Evaluation | None:
        key = np.asarray(theta, dtype=float).tobytes()
        hit = self._seen.get(key)
        if hit is not None and (hit[0] or not grad):
            return hit[1]
        self.n_eval += 1
        out = self.evaluate(theta, grad)
        if len(self._seen) >= 2:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = (grad, out)
        return out

    def f(self, theta: np.ndarray) -> float:
        ev = self.ev(theta)
        return math.inf if ev is None else ev.deviance

    def fg(self, theta: np.ndarray):
        ev = self.ev(theta, True)
        if ev is None:
            return 1e300, np.zeros_like(theta)
        return ev.deviance, ev.grad


def minimise(
    evaluate,
    theta0: np.ndarray,
    lower: np.ndarray,
    analytic: bool,
    columns: list[tuple[int, np.ndarray]] = (),
    max_rounds: int = 6,
) -> Optimum:
    """Minimise ``evaluate(θ, grad) -> Evaluation | None`` over θ ≥ ``lower``.

    ``analytic`` says whether ``evaluate`` fills ``grad``: then L-BFGS-B with
    the analytic gradient does the local searches, else bounded Nelder–Mead
    (derivative-free, as lme4's default). ``evaluate`` returns None where the
    criterion cannot be evaluated (the optimisers treat that as +inf).
    ``columns`` lists, for each diagonal θ index, the θ indices below it in the
    same column of the relative factor.
    """
    crit = _Counted(evaluate)
    if crit.ev(np.asarray(theta0, dtype=float), analytic) is None:
        raise EstimationError(
            "the criterion cannot be evaluated at the starting values (singular fixed-effect system or perfect fit)"
        )
    diag = np.array([d for d, _ in columns], dtype=np.int64)
    below = {d: b for d, b in columns}
    n_iter = 0

    def local(start: np.ndarray):
        nonlocal n_iter
        x, f, it, msg, gain = _local(crit, start, lower, analytic)
        n_iter += it
        return x, f, msg, gain

    best, fbest, message, gain = local(np.asarray(theta0, dtype=float))
    improved = True
    rounds = 0
    while improved and rounds < max_rounds:
        rounds += 1
        improved = False
        # A restart from the best point can only count as an improvement if the local
        # quadratic model promises more than IMPROVE_REL; when it does not, skip it.
        again = gain > IMPROVE_REL * max(1.0, abs(fbest))
        starts = ([best] if again else []) + _boundary_starts(crit, best, fbest, lower, diag, below)
        for start in starts:
            x, f, msg, g = local(start)
            if f < fbest - IMPROVE_REL * max(1.0, abs(fbest)):
                best, fbest, message, gain, improved = x, f, msg, g, True
            elif f < fbest:
                best, fbest, gain = x, f, g
    theta = np.maximum(best, lower)
    final = crit.ev(theta, analytic)
    if final is None:
        raise EstimationError("the criterion cannot be evaluated at the optimum found")
    ok, why = _check(crit, final, theta, lower, diag, analytic)
    converged = ok and not improved
    if not converged:
        message = why if not ok else f"restarts still lowered the criterion after {max_rounds} rounds"
    return Optimum(theta, final, converged, n_iter, crit.n_eval, message)


def _local(crit: _Counted, start: np.ndarray, lower: np.ndarray, analytic: bool):
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    if analytic:
        res = minimize(
            crit.fg, start, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-10, "maxcor": 20},
        )
    else:
        lb = np.where(np.isfinite(lower), lower, -np.inf)
        radius = 0.1 * max(1.0, float(np.max(np.abs(start))))
        res = minimize(
            crit.f, start, method="COBYQA", bounds=Bounds(lb, np.full_like(lb, np.inf)),
            options={"initial_tr_radius": radius, "final_tr_radius": 1e-9, "maxfev": 500 * start.size},
        )
    x = np.maximum(np.asarray(res.x, dtype=float), lower)
    msg = res.message if isinstance(res.message, str) else str(res.message)
    return x, crit.f(x), int(getattr(res, "nit", 0)), msg, _gain(res, x, lower, analytic)


def _gain(res, x: np.ndarray, lower: np.ndarray, analytic: bool) -> float:
    """The decrease a quasi-Newton step from ``x`` promises, ½ g'H⁻¹g; +inf when unknown.

    Only an interior point of an L-BFGS-B search has one: at a bound, the criterion's
    evenness makes the gradient uninformative, and Nelder–Mead keeps no curvature.
    """
    if not analytic or np.any(x <= lower) or getattr(res, "jac", None) is None:
        return math.inf
    g = np.asarray(res.jac, dtype=float)
    try:
        step = np.asarray(res.hess_inv.matvec(g), dtype=float)
    except (AttributeError, ValueError):
        return math.inf
    gain = 0.5 * float(g @ step)
    return gain if np.isfinite(gain) and gain >= 0 else math.inf


def _scale(theta: np.ndarray, diag: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(theta[diag])))) if diag.size else 1.0


def _boundary_starts(crit, theta, f0, lower, diag, below) -> list[np.ndarray]:
    """Restart points off each diagonal that sits at its bound, where the criterion falls."""
    out = []
    s = _scale(theta, diag)
    for d in diag:
        if theta[d] > lower[d]:
            continue
        for v in (*(p * s for p in PROBES), 0.5 * s, s):
            for sign in (1.0, -1.0):
                x = theta.copy()
                x[d] = v
                x[below[d]] = sign * theta[below[d]]
                if sign < 0 and not np.any(theta[below[d]] != 0):
                    continue
                if crit.f(x) < f0:
                    out.append(x)
    return out


def _fd_grad(crit: _Counted, theta: np.ndarray, lower: np.ndarray, f0: float) -> np.ndarray:
    """Central differences with a bounded step; near a lower bound, the second-order one-sided formula."""
    g = np.empty_like(theta)
    for k in range(theta.size):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up = theta.copy()
        up[k] += h
        if theta[k] - h < lower[k]:
            up2 = theta.copy()
            up2[k] += 2 * h
            g[k] = (4 * crit.f(up) - crit.f(up2) - 3 * f0) / (2 * h)
        else:
            dn = theta.copy()
            dn[k] -= h
            g[k] = (crit.f(up) - crit.f(dn)) / (2 * h)
    return g


def _check(crit, ev: Evaluation, theta, lower, diag, analytic: bool) -> tuple[bool, str]:
    """Whether θ is a local minimum: projected gradient near zero, no lower point just off a bound."""
    g = ev.grad if analytic and ev.grad is not None else _fd_grad(crit, theta, lower, ev.deviance)
    at = theta <= lower
    g = np.where(at & (g > 0), 0.0, g)
    tol = max(1e-3, 1e-7 * abs(ev.deviance))
    if not np.all(np.isfinite(g)) or np.max(np.abs(g), initial=0.0) > tol:
        return False, f"the gradient at the final point is not zero (largest {np.max(np.abs(g)):.3g})"
    s = _scale(theta, diag)
    slack = 1e-9 * max(1.0, abs(ev.deviance))
    for d in diag:
        if not at[d]:
            continue
        for p in PROBES:
            x = theta.copy()
            x[d] = p * s
            if crit.f(x) < ev.deviance - slack:
                return False, f"the criterion is lower off the zero bound of θ[{d}] (at {p * s:.3g})"
    return True, "local minimum checked: projected gradient zero, no lower point off a bound"
