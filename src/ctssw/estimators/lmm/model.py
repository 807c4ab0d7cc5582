"""Gaussian linear mixed models with lme4 formula syntax, fitted from per-team sufficient statistics.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> team = np.repeat(np.arange(30), 20)
>>> x = rng.normal(size=team.size)
>>> y = 1 + 0.5 * x + rng.normal(size=30)[team] + rng.normal(size=team.size)
>>> res = lmm("y ~ x + (1 | team)", pd.DataFrame({"y": y, "x": x, "team": team}))
>>> round(float(res.params["x"]), 2)
0.53
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import (
    ConfigError,
    ConvergenceWarning,
    EstimationError,
    SingularFitWarning,
)
from ..blas import one_blas_thread
from ..results import Result, jsonable
from ._core import evaluate_nested, evaluate_single
from ._data import Design, build_design, stats_general, stats_nested, stats_single
from ._formula import parse_formula
from ._optim import Optimum, minimise
from ._satterthwaite import satterthwaite_df
from ._sparse import evaluate_sparse

__all__ = ["LMMResult", "fit_lmm_file", "lmm"]

#: a diagonal θ below this is a boundary (singular) fit, as lme4's ``isSingular``
SINGULAR_TOL = 1e-4
#: how each kind of random-effects structure is fitted
STRUCTURE = {
    "single": "one grouping factor (per-group sufficient statistics)",
    "nested": "two nested factors (per-cell sufficient statistics)",
    "general": "crossed or more than two factors (sparse blocked Cholesky)",
}
#: denominator degrees of freedom for fixed-effect tests and intervals
DDF = ("normal", "satterthwaite")


@dataclass
class LMMResult(Result):
    """A fitted linear mixed model.

    Besides the :class:`Result` contract (``params``, ``std_errors``,
    ``conf_int``, ``pvalues``, ``tidy``, ``summary``, ``to_dict``) it holds the
    variance components and the optimiser's report.  Inference on fixed
    effects is Wald with the normal distribution (``ddf="normal"``) or a
    t-test with Satterthwaite degrees of freedom per coefficient
    (``ddf="satterthwaite"``, lmerTest's default); ``df`` holds them.

    Attributes
    ----------
    vcov : pandas.DataFrame
        Covariance of the fixed effects, ``σ² (X'V⁻¹X)⁻¹`` as lme4's ``vcov``.
    cov_re : pandas.DataFrame
        Random-effects covariance; rows and columns are (factor, term) pairs.
    sigma2 : float
        Residual variance.
    theta : pandas.Series
        Relative covariance factor parameters in lme4's order within each factor.
    loglik : float
        Log-likelihood (REML log-likelihood for REML fits), as lme4's ``logLik``.
    reml_criterion : float or None
        ``-2 ×`` REML log-likelihood (REML fits).
    deviance : float or None
        ``-2 ×`` log-likelihood (ML fits).
    converged, n_iter, optimizer_message, singular
        Optimiser report; ``singular`` is True when a variance is at zero.
    n_groups : dict
        Levels of each grouping factor.
    ddf : str
        ``"normal"`` or ``"satterthwaite"``: the reference distribution of
        ``pvalues`` and ``conf_int``.
    df : pandas.Series or None
        Satterthwaite denominator df per fixed effect (``ddf="satterthwaite"``).
    """

    vcov: pd.DataFrame | None = None
    cov_re: pd.DataFrame | None = None
    sigma2: float = math.nan
    theta: pd.Series | None = None
    loglik: float = math.nan
    reml_criterion: float | None = None
    deviance: float | None = None
    converged: bool = True
    n_iter: int = 0
    n_eval: int = 0
    optimizer_message: str = ""
    singular: bool = False
    n_groups: dict[str, int] = field(default_factory=dict)
    reml: bool = True
    ddf: str = "normal"
    df: pd.Series | None = None
    _ranef: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _free: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def pvalues(self) -> pd.Series:
        if self.df is None:
            return super().pvalues
        t = np.abs(self.tstats.to_numpy(dtype=float))
        return pd.Series(2 * stats.t.sf(t, self.df.to_numpy(dtype=float)), index=self.params.index, name="pvalue")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        if self.df is None:
            return super().conf_int(level)
        c = stats.t.ppf(0.5 + level / 2, self.df.to_numpy(dtype=float))
        return pd.DataFrame({"lower": self.params - c * self.std_errors, "upper": self.params + c * self.std_errors})

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        out = super().tidy(level)
        if self.df is not None:
            out.insert(4, "df", self.df.to_numpy(dtype=float))
        return out

    def ranef(self, group: str | None = None) -> pd.DataFrame:
        """Conditional modes of the random effects, one row per group level.

        Parameters
        ----------
        group : str, optional
            Grouping factor name (``"org"``, ``"org:team"``); needed when the
            model has more than one.
        """
        if group is None:
            if len(self._ranef) != 1:
                raise ConfigError(f"ranef() needs group=; allowed: {sorted(self._ranef)}")
            group = next(iter(self._ranef))
        if group not in self._ranef:
            raise ConfigError(f"unknown grouping factor {group!r}; allowed: {sorted(self._ranef)}")
        return self._ranef[group].copy()

    def var_components(self) -> pd.DataFrame:
        """Variances, covariances, SDs and correlations, as ``as.data.frame(VarCorr(m))``."""
        rows = []
        cov = self.cov_re
        for grp in dict.fromkeys(cov.index.get_level_values(0)):
            sub = cov.loc[grp, grp]
            free = self._free.loc[grp, grp].to_numpy()
            terms = list(sub.index)
            sd = np.sqrt(np.diag(sub.to_numpy()))
            for i, a in enumerate(terms):
                rows.append((grp, a, None, sub.iloc[i, i], sd[i]))
            for j, b in enumerate(terms):
                for i in range(j + 1, len(terms)):
                    if not free[i, j]:
                        continue
                    v = sub.iloc[i, j]
                    den = sd[i] * sd[j]
                    rows.append((grp, b, terms[i], v, v / den if den > 0 else math.nan))
        rows.append(("Residual", None, None, self.sigma2, math.sqrt(self.sigma2)))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def _extra_lines(self) -> list[str]:
        vc = self.var_components()
        lines = ["Random effects:", vc.to_string(index=False, float_format=lambda x: f"{x:.6g}")]
        groups = ", ".join(f"{k}: {v}" for k, v in self.n_groups.items())
        lines.append(f"Groups: {groups}")
        crit = (
            f"REML criterion: {self.reml_criterion:.6f}" if self.reml else f"Deviance: {self.deviance:.6f}"
        )
        lines.append(f"{crit}   log-likelihood: {self.loglik:.6f}")
        lines.append(
            f"Converged: {self.converged} ({self.n_iter} iterations, {self.n_eval} evaluations)"
            f"   singular: {self.singular}"
        )
        return lines

    def _blocks(self) -> list:
        from ..presentation import lmm_blocks

        base = super()._blocks()
        return lmm_blocks(self, base[:2]) + base[2:]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            {
                "reml": self.reml,
                "sigma2": jsonable(self.sigma2),
                "loglik": jsonable(self.loglik),
                "reml_criterion": jsonable(self.reml_criterion) if self.reml_criterion is not None else None,
                "deviance": jsonable(self.deviance) if self.deviance is not None else None,
                "theta": jsonable(self.theta),
                "var_components": [
                    {k: jsonable(v) for k, v in r.items()} for r in self.var_components().to_dict(orient="records")
                ],
                "vcov": jsonable(self.vcov.to_dict()),
                "n_groups": dict(self.n_groups),
                "converged": self.converged,
                "n_iter": self.n_iter,
                "optimizer_message": self.optimizer_message,
                "singular": self.singular,
                "ddf": self.ddf,
                "df": jsonable(self.df) if self.df is not None else None,
            }
        )
        return out


def lmm(formula: str, data: pd.DataFrame, *, reml: bool = True, ddf: str = "normal") -> LMMResult:
    """Fit a Gaussian linear mixed model written in lme4 syntax.

    Parameters
    ----------
    formula : str
        ``response ~ fixed + (expr | factor)``. Random terms as in lme4: any
        number of terms per grouping factor (``(1 + x | team)`` correlated,
        ``(1 + x || team)`` uncorrelated, ``(0 + x | team)``) and any number
        of grouping factors, nested (``(1 | org/team)``, ``(1 | a/b/c)``) or
        crossed (``(1 | team) + (1 | week)``). The fixed part is a formulaic
        formula (``C(f)``, ``log(x)``, ``- 1``, ...).
    data : pandas.DataFrame
        One row per observation; rows with missing values in the variables
        used are dropped.
    reml : bool, default True
        Restricted maximum likelihood; False gives maximum likelihood.
    ddf : {"normal", "satterthwaite"}, default "normal"
        Reference distribution for p-values and intervals of the fixed
        effects: the normal (Wald z), or t with Satterthwaite degrees of
        freedom per coefficient as lmerTest's ``summary(m)``. The default
        suits panels with many teams, where the df are large; with few
        groups (tens or fewer) ask for ``"satterthwaite"``.

    Returns
    -------
    LMMResult

    Raises
    ------
    ConfigError
        Malformed formula, unknown columns, an unknown ``ddf``.
    EstimationError
        Rank-deficient fixed design, too many random effects for the data.
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ConfigError(f"reml must be True or False; got {reml!r}")
    if ddf not in DDF:
        raise ConfigError(f"ddf must be one of {list(DDF)}; got {ddf!r}")
    if not isinstance(data, pd.DataFrame):
        if hasattr(data, "to_pandas"):
            data = data.to_pandas()
        else:
            raise ConfigError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    parsed = parse_formula(formula)
    design = build_design(parsed, data)
    _check_rank(design)
    # the dense factorisations are small and many: threaded BLAS only adds contention
    with one_blas_thread():
        opt, shift, evaluate = _optimise(design, bool(reml))
        res = _result(formula, design, opt, shift, bool(reml))
        if ddf == "satterthwaite":
            _add_satterthwaite(res, design, opt, evaluate)
    return res


def _check_rank(design: Design) -> None:
    X = design.X
    if X.shape[1] == 0:
        return
    scale = np.sqrt((X * X).sum(axis=0))
    scale[scale == 0] = 1.0
    xs = (X.T @ X) / np.outer(scale, scale)
    if np.linalg.matrix_rank(xs, tol=1e-10) < X.shape[1]:
        raise EstimationError(f"the fixed-effect design is rank deficient (columns {list(design.x_names)})")


def _optimise(design: Design, reml: bool):
    """Minimise the criterion; returns the optimum, the y shift and ``evaluate(θ, grad)``."""
    blocks = [f.block for f in design.factors]
    theta0 = np.concatenate([b.start() for b in blocks])
    lower = np.concatenate([b.lower_bounds() for b in blocks])
    columns = [c for b in blocks for c in b.columns()]
    if design.kind == "single":
        st, shift = stats_single(design)

        def evaluate(theta, grad):
            return evaluate_single(theta, st, blocks[0], reml, grad)

        analytic = True
    elif design.kind == "nested":
        stn, shift = stats_nested(design)

        def evaluate(theta, grad):
            return evaluate_nested(theta, stn, blocks[0], blocks[1], reml)

        analytic = False
    else:
        sts, shift = stats_general(design)

        def evaluate(theta, grad):
            return evaluate_sparse(theta, sts, reml)

        analytic = False
    return minimise(evaluate, theta0, lower, analytic=analytic, columns=columns), shift, evaluate


def _add_satterthwaite(res: LMMResult, design: Design, opt: Optimum, evaluate) -> None:
    def at(theta):
        ev = evaluate(theta, False)
        if ev is None:
            raise EstimationError("the criterion cannot be evaluated near the optimum, so no Satterthwaite df")
        return ev

    df = satterthwaite_df(at, opt.theta, math.sqrt(res.sigma2), design.n, design.X.shape[1], res.reml)
    res.df = pd.Series(df, index=res.params.index, name="df")
    res.ddf = "satterthwaite"
    res.settings["inference"] = "t with Satterthwaite df (lmerTest's method)"


def _result(formula: str, design: Design, opt: Optimum, shift: float, reml: bool) -> LMMResult:
    ev = opt.evaluation
    p = design.X.shape[1]
    n_eff = design.n - p if reml else design.n
    sigma2 = ev.pwrss / n_eff
    names = list(design.x_names)
    beta = ev.beta.copy()
    for j in range(p):
        if np.all(design.X[:, j] == 1.0):
            beta[j] += shift
            break
    rinv = np.linalg.inv(ev.RX)
    vcov = sigma2 * (rinv.T @ rinv)
    params = pd.Series(beta, index=names, name="estimate")
    se = pd.Series(np.sqrt(np.diag(vcov)), index=names, name="std_error")

    idx, theta_labels, blocks_cov, blocks_free = [], [], [], []
    ranefs: dict[str, pd.DataFrame] = {}
    singular = False
    for f, u in zip(design.factors, ev.u):
        T = f.block.T(opt.theta)
        blocks_cov.append(sigma2 * T @ T.T)
        S = (f.block.pattern >= 0).astype(int)
        blocks_free.append((S @ S.T) > 0)
        idx += [(f.name, c) for c in f.columns]
        rows, cols = f.block.positions()
        theta_labels += [
            f"{f.name}.{f.columns[r]}" if r == c else f"{f.name}.{f.columns[r]}.{f.columns[c]}" for r, c in zip(rows, cols)
        ]
        singular |= bool(np.any(opt.theta[f.block.pattern[rows[rows == cols], cols[rows == cols]]] < SINGULAR_TOL))
        ranefs[f.name] = pd.DataFrame(u @ T.T, index=pd.Index(f.levels, name=f.name), columns=list(f.columns))
    q = len(idx)
    cov = np.zeros((q, q))
    free = np.zeros((q, q), dtype=bool)
    k = 0
    for c, m in zip(blocks_cov, blocks_free):
        cov[k : k + c.shape[0], k : k + c.shape[0]] = c
        free[k : k + c.shape[0], k : k + c.shape[0]] = m
        k += c.shape[0]
    mi = pd.MultiIndex.from_tuples(idx, names=["group", "term"])
    cov_re = pd.DataFrame(cov, index=mi, columns=mi)

    dev = ev.deviance
    msgs: list[str] = []
    if singular:
        msgs.append("boundary (singular) fit: a random-effect variance is estimated at zero")
        warnings.warn(msgs[-1], SingularFitWarning, stacklevel=3)
    if not opt.converged:
        msgs.append(f"optimiser did not converge: {opt.message}")
        warnings.warn(msgs[-1], ConvergenceWarning, stacklevel=3)
    return LMMResult(
        params=params,
        std_errors=se,
        nobs=design.n,
        formula=formula,
        settings={
            "method": "REML" if reml else "ML",
            "random effects": STRUCTURE[design.kind],
            "optimizer": ("L-BFGS-B" if design.kind == "single" else "COBYQA") + ", restarts off the bounds",
            "inference": "Wald (normal)",
        },
        warnings=msgs,
        df_resid=None,
        title="Linear mixed model fit by " + ("REML" if reml else "maximum likelihood"),
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        cov_re=cov_re,
        sigma2=float(sigma2),
        theta=pd.Series(opt.theta, index=theta_labels, name="theta"),
        loglik=-dev / 2.0,
        reml_criterion=dev if reml else None,
        deviance=None if reml else dev,
        converged=opt.converged,
        n_iter=opt.n_iter,
        n_eval=opt.n_eval,
        optimizer_message=opt.message,
        singular=singular,
        n_groups={f.name: len(f.levels) for f in design.factors},
        reml=reml,
        _ranef=ranefs,
        _free=pd.DataFrame(free, index=mi, columns=mi),
    )


def fit_lmm_file(path: str | Path, formula: str, ml: bool = False, ddf: str = "normal") -> dict[str, Any]:
    """Read a CSV or Parquet file, fit :func:`lmm` and return JSON-safe output.

    The twin of ``ctssw fit lmm --data FILE --formula ... [--ml] [--ddf satterthwaite] --json``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = pd.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        data = pd.read_parquet(path)
    else:
        raise ConfigError(f"data file must end in .csv or .parquet; got {path.name!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = lmm(formula, data, reml=not ml, ddf=ddf)
    return res.to_dict()
