"""Build the stacked GMM system of a dynamic panel model from a balanced grid.

Row and instrument layout follow R's plm::pgmm 2.6 (so results match it):

* periods are ``0..T-1``; with ``TL1 = max(deepest regressor lag + 1, shallowest
  GMM lag)`` the differenced equations are periods ``TL1..T-1`` and, for the
  system estimator, the level equations are periods ``TL1-1..T-1``;
* GMM-style instruments of a variable with lags ``a..b`` are its levels at
  ``t-b..t-a`` for the differenced equation of period ``t`` (one column per
  period and lag, or one per lag when collapsed); the level equation of
  period ``t`` is instrumented by the variable's difference at ``t-1``;
* IV-style ("normal") instruments enter as one column each, differenced in the
  differenced equations and in levels in the level equations;
* period effects are differenced period dummies (instrumenting themselves) in
  difference GMM, and an intercept plus period dummies instrumented in the
  level equations in system GMM; without period effects (``effect="individual"``)
  the level equations have no constant, as in plm, unless the model asks for
  one (``intercept=True``);
* rows with a missing outcome or regressor are zero rows; a missing instrument
  value is zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, EstimationError
from ._gmm_core import GMMSystem

# Largest stacked instrument array (N * R * p doubles) built before refusing.
MAX_CELLS = 150_000_000


@dataclass(frozen=True)
class GMMModel:
    """A dynamic panel model in plm's terms.

    Attributes
    ----------
    response : str
    regressors : tuple of (variable, lag, name)
    gmm : tuple of (variable, first lag, last lag)
        GMM-style instruments.
    normal : tuple of (variable, lag)
        IV-style instruments.
    effect : {"twoways", "individual"}
    transformation : {"d", "ld"}
    collapse : bool
    intercept : bool
        System GMM with ``effect="individual"`` only: a constant in the level
        equations (instrumented by itself). plm has none.
    """

    response: str
    regressors: tuple[tuple[str, int, str], ...]
    gmm: tuple[tuple[str, int, int], ...]
    normal: tuple[tuple[str, int], ...]
    effect: str = "twoways"
    transformation: str = "d"
    collapse: bool = False
    intercept: bool = False

    def __post_init__(self) -> None:
        if self.effect not in ("twoways", "individual"):
            raise ConfigError(f"effect must be one of ['individual', 'twoways'], got {self.effect!r}")
        if self.transformation not in ("d", "ld"):
            raise ConfigError(f"transformation must be one of ['d', 'ld'], got {self.transformation!r}")
        if not self.gmm:
            raise ConfigError("at least one GMM-style instrument is needed")
        for v, a, b in self.gmm:
            if a < 1 or b < a:
                raise ConfigError(f"GMM instrument lags of {v!r} must satisfy 1 <= first <= last, got {a}:{b}")


@dataclass(frozen=True)
class BuiltSystem:
    system: GMMSystem
    names: list[str]
    time_names: list[str]
    first_diff_period: int


def _lagged(g: np.ndarray, l: int) -> np.ndarray:
    out = np.full_like(g, np.nan)
    if l == 0:
        return g.copy()
    if l < g.shape[1]:
        out[:, l:] = g[:, :-l]
    return out


def build_system(model: GMMModel, grid: dict[str, np.ndarray], period_labels: list[str]) -> BuiltSystem:
    """Stack ``model``'s equations and instruments; ``grid`` maps variables to (N, T) arrays."""
    N, T = grid[model.response].shape
    main_max = max([l for _, l, _ in model.regressors] + [0])
    TL1 = max(main_max + 1, min(a for _, a, _ in model.gmm))
    TL2 = TL1 - 1
    R1 = T - TL1
    if R1 < 2:
        raise EstimationError(f"{T} periods leave {R1} differenced equation(s); at least 2 are needed")
    ld = model.transformation == "ld"
    R2 = T - TL2 if ld else 0
    R = R1 + R2
    tdiff = np.arange(TL1, T)
    tlev = np.arange(TL2, T)

    cols = [(model.response, 0)] + [(v, l) for v, l, _ in model.regressors]
    lag_cache = {c: _lagged(grid[c[0]], c[1]) for c in cols}
    for v, l in model.normal:
        lag_cache.setdefault((v, l), _lagged(grid[v], l))

    def diff_of(c):
        L = lag_cache[c]
        return L[:, tdiff] - L[:, tdiff - 1]

    # outcome and regressors
    yX = np.zeros((N, R, 1 + len(model.regressors)))
    for j, c in enumerate(cols):
        yX[:, :R1, j] = diff_of(c)
        if ld:
            yX[:, R1:, j] = lag_cache[c][:, tlev]
    names = [n for _, _, n in model.regressors]
    time_names: list[str] = []
    V = None
    if model.effect == "twoways":
        V1 = np.eye(R1) - np.eye(R1, k=-1)
        labels = [period_labels[t] for t in tdiff]
        if ld:
            V = np.zeros((R, R1 + 1))
            V[:R1, 1:] = V1
            V[R1:, 0] = 1.0
            V[R1 + 1 :, 1:] = np.eye(R1)
            time_names = ["(Intercept)", *labels]
        else:
            V = V1
            time_names = labels
    elif ld and model.intercept:
        V = np.zeros((R, 1))
        V[R1:, 0] = 1.0
        time_names = ["(Intercept)"]
    used = np.isfinite(yX).all(axis=2)

    # GMM-style instruments
    blocks: list[np.ndarray] = []
    for v, a, b in model.gmm:
        g = grid[v]
        if model.collapse:
            width = min(T - a, b + 1 - a)
            W = np.zeros((N, R, width))
            for r, t in enumerate(tdiff):
                lo = max(0, t - b)
                vals = g[:, lo : t - a + 1][:, ::-1]
                W[:, r, : vals.shape[1]] = vals
        else:
            counts = [t - a - max(0, t - b) + 1 for t in tdiff]
            W = np.zeros((N, R, sum(counts)))
            off = 0
            for r, t in enumerate(tdiff):
                lo = max(0, t - b)
                W[:, r, off : off + counts[r]] = g[:, lo : t - a + 1]
                off += counts[r]
        blocks.append(W)
    if ld:
        for v, _, _ in model.gmm:
            g = grid[v]
            rows = [(R1 + r, t) for r, t in enumerate(tlev) if t >= 2]
            W = np.zeros((N, R, 1 if model.collapse else len(rows)))
            for j, (row, t) in enumerate(rows):
                W[:, row, 0 if model.collapse else j] = g[:, t - 1] - g[:, t - 2]
            blocks.append(W)
    if V is not None:
        if ld:
            Vi = np.zeros((R, V.shape[1]))
            Vi[R1:] = V[R1:]
        else:
            Vi = V
        blocks.append(np.broadcast_to(Vi, (N, R, Vi.shape[1])).copy())
    if model.normal:
        W = np.zeros((N, R, len(model.normal) * (2 if ld else 1)))
        for j, c in enumerate(model.normal):
            W[:, :R1, j] = diff_of(c)
            if ld:
                W[:, R1:, len(model.normal) + j] = lag_cache[c][:, tlev]
        blocks.append(W)
    p = sum(b.shape[2] for b in blocks)
    if N * R * p > MAX_CELLS:
        raise EstimationError(
            f"{p} instruments over {R} equations for {N} units is too large; collapse the instruments or limit their lags"
        )
    Z = np.concatenate(blocks, axis=2)
    Z[~np.isfinite(Z)] = 0.0
    Z[~used] = 0.0
    yX[~used] = 0.0
    X = yX[:, :, 1:]
    if V is not None:
        X = np.concatenate([X, np.broadcast_to(V, (N, R, V.shape[1]))], axis=2)
        X[~used] = 0.0
    H = _weight_kernel(R1, R2)
    return BuiltSystem(GMMSystem(yX[:, :, 0].copy(), np.ascontiguousarray(X), Z, H, R1, used), names + time_names, time_names, TL1)


def _weight_kernel(R1: int, R2: int) -> np.ndarray:
    G = 2 * np.eye(R1) - np.eye(R1, k=1) - np.eye(R1, k=-1)
    if R2 == 0:
        return G
    FD = np.zeros((R1, R2))
    FD[np.arange(R1), np.arange(R1)] = -1.0
    FD[np.arange(R1), np.arange(R1) + 1] = 1.0
    return np.block([[G, FD], [FD.T, np.eye(R2)]])
