"""From a DataFrame and a parsed formula to design columns, group codes and cross-products."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import formulaic
import numpy as np
import pandas as pd

from ...errors import ConfigError, EstimationError
from ._core import Block, GroupStats, NestedStats, block_pattern
from ._formula import ParsedFormula
from ._sparse import SparseStats, build_sparse


def _label(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else name


@dataclass(frozen=True)
class Factor:
    """One grouping factor: its name, level labels, per-row codes and Z columns."""

    name: str
    levels: pd.Index
    codes: np.ndarray
    columns: tuple[str, ...]
    Z: dict[str, np.ndarray]
    block: Block


@dataclass(frozen=True)
class Design:
    """The model after evaluation on data: fixed design, response, factors (fewest levels first).

    ``kind`` is ``"single"`` (one factor), ``"nested"`` (two factors, the
    second nested in the first) or ``"general"`` (crossed, or more factors).
    """

    X: np.ndarray
    x_names: tuple[str, ...]
    y: np.ndarray
    factors: tuple[Factor, ...]
    n: int
    kind: str = "single"


def _required(parsed: ParsedFormula) -> list[str]:
    names: set[str] = set()
    names |= set(formulaic.Formula(f"{parsed.response} ~ {parsed.fixed}").required_variables)
    for t in parsed.random:
        names |= set(formulaic.Formula(t.expr).required_variables)
        names |= set(t.factor)
    return sorted(str(n) for n in names)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _simple(expr: str, df: pd.DataFrame) -> tuple[list[str], list[np.ndarray]] | None:
    """Columns for a sum of plain numeric column names (with 1 / 0 / - 1), else None.

    Builds the same columns, in the same order, as formulaic would, without
    its per-row machinery; anything else goes through formulaic.
    """
    text = expr.replace(" ", "")
    intercept = True
    if text.endswith("-1"):
        text, intercept = text[:-2], False
    names, cols = [], []
    for tok in filter(None, text.split("+")):
        if tok == "1":
            continue
        if tok == "0":
            intercept = False
            continue
        if not _IDENT.match(tok) or tok not in df.columns or tok in names:
            return None
        col = df[tok]
        if not (pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype)):
            return None
        names.append(tok)
        cols.append(col.to_numpy(dtype=float))
    if intercept:
        names.insert(0, "(Intercept)")
        cols.insert(0, np.ones(len(df)))
    return names, cols


def _matrix(expr: str, df: pd.DataFrame):
    try:
        return formulaic.model_matrix(expr, df, na_action="ignore")
    except Exception as exc:  # formulaic raises many types for user errors
        raise ConfigError(f"cannot evaluate {expr!r} on the data: {exc}") from exc


def _codes(df: pd.DataFrame, factor: tuple[str, ...]) -> tuple[np.ndarray, pd.Index]:
    if len(factor) == 1:
        codes, uniques = pd.factorize(df[factor[0]], sort=True)
        return codes.astype(np.int64), pd.Index(uniques.astype(str) if uniques.dtype == object else uniques)
    parts = [pd.factorize(df[c], sort=True) for c in factor]
    combined = np.zeros(len(df), dtype=np.int64)
    for codes, uniques in parts:
        combined = combined * len(uniques) + codes
    codes, uniq = pd.factorize(combined, sort=True)
    labels = []
    rem = uniq.copy()
    digits = []
    for _, uniques in reversed(parts):
        digits.append(np.asarray(uniques.astype(str))[rem % len(uniques)])
        rem = rem // len(uniques)
    labels = [":".join(v) for v in zip(*reversed(digits))]
    return codes.astype(np.int64), pd.Index(labels)


def build_design(parsed: ParsedFormula, data: pd.DataFrame) -> Design:
    """Evaluate fixed and random parts on complete rows; raise on what is unsupported."""
    cols = _required(parsed)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ConfigError(f"formula uses columns not in the data: {missing}; available: {sorted(map(str, data.columns))}")
    complete = np.ones(len(data), dtype=bool)
    for c in cols:
        complete &= data[c].notna().to_numpy()
    df = data[cols] if complete.all() else data.loc[complete, cols]
    n = len(df)
    if n == 0:
        raise EstimationError("no complete rows for the variables in the formula")

    fast_y = _simple(f"0 + {parsed.response}", df)
    fast_x = _simple(parsed.fixed, df)
    if fast_y is not None and fast_x is not None and len(fast_y[0]) == 1:
        y = fast_y[1][0]
        X = np.column_stack(fast_x[1]) if fast_x[1] else np.empty((n, 0))
        x_names = tuple(fast_x[0])
    else:
        mm = _matrix(f"{parsed.response} ~ {parsed.fixed}", df)
        y = np.asarray(mm.lhs, dtype=float)
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ConfigError(f"the response must be one numeric column; got {list(mm.lhs.columns)}")
            y = y[:, 0]
        X = np.asarray(mm.rhs, dtype=float)
        x_names = tuple(_label(c) for c in mm.rhs.columns)
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise EstimationError("the response or fixed design has non-finite values (e.g. log of a non-positive number)")

    by_factor: dict[tuple[str, ...], list[tuple[list[str], list[np.ndarray], bool]]] = {}
    for term in parsed.random:
        fast = _simple(term.expr, df)
        if fast is not None:
            names, zlist = fast
            zarr = np.column_stack(zlist) if zlist else np.empty((n, 0))
            slices = [slice(i, i + 1) for i in range(len(names))]
        else:
            zmm = _matrix(term.expr, df)
            zarr = np.asarray(zmm, dtype=float)
            names = [_label(c) for c in zmm.columns]
            slices = list(zmm.model_spec.term_slices.values())
        if not np.isfinite(zarr).all():
            raise EstimationError(f"random-effect term ({term.expr} | ...) has non-finite values")
        if zarr.shape[1] == 0:
            raise ConfigError(f"random-effect term ({term.expr} | {':'.join(term.factor)}) has no columns")
        if term.correlated:
            pieces = [(list(range(len(names))), True)]
        else:
            pieces = [(list(range(sl.start, sl.stop)), True) for sl in slices]
        for idx, corr in pieces:
            by_factor.setdefault(term.factor, []).append(([names[i] for i in idx], [zarr[:, i] for i in idx], corr))

    factors: list[Factor] = []
    offset = 0
    coded = {f: _codes(df, f) for f in by_factor}
    order = sorted(by_factor, key=lambda f: len(coded[f][1]))
    for key in order:
        pieces = by_factor[key]
        names = [n for ns, _, _ in pieces for n in ns]
        if len(set(names)) != len(names):
            raise ConfigError(f"random-effect columns repeat for factor {':'.join(key)}: {names}")
        block = block_pattern([len(ns) for ns, _, _ in pieces], [c for _, _, c in pieces], offset)
        offset += block.n_theta
        codes, levels = coded[key]
        Z = {n: z for ns, zs, _ in pieces for n, z in zip(ns, zs)}
        factors.append(Factor(":".join(key), levels, codes, tuple(names), Z, block))
    for f in factors:
        if len(f.levels) < 2:
            raise EstimationError(f"grouping factor {f.name} has a single level; it needs at least two")
        if len(f.levels) >= n:
            raise EstimationError(
                f"grouping factor {f.name} has {len(f.levels)} levels for {n} observations; it must have fewer"
            )
    n_re = sum(len(f.levels) * len(f.columns) for f in factors)
    if n_re >= n:
        raise EstimationError(f"{n_re} random effects for {n} observations; the model is not identifiable")
    nested = False
    if len(factors) == 2:
        outer, inner = factors
        parent = np.full(len(inner.levels), -1, dtype=np.int64)
        parent[inner.codes] = outer.codes
        nested = bool(np.all(parent[inner.codes] == outer.codes))
        if nested and np.any(np.diff(parent) < 0):
            order = np.argsort(parent, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            inner = replace(inner, codes=rank[inner.codes], levels=inner.levels[order])
            factors = [outer, inner]
    kind = "single" if len(factors) == 1 else "nested" if nested else "general"
    return Design(X, x_names, y, tuple(factors), n, kind)


# -- sufficient statistics ---------------------------------------------------------
class _CellSums:
    """Per-cell sums of products of named columns, computed once per pair."""

    def __init__(self, codes: np.ndarray, ncell: int, columns: dict[str, np.ndarray]):
        self.codes, self.ncell, self.columns = codes, ncell, columns
        self.ones = {k for k, v in columns.items() if _is_ones(v)}
        self.cache: dict[frozenset[str] | tuple[str, str], np.ndarray] = {}

    def __call__(self, a: str, b: str) -> np.ndarray:
        key = frozenset((a, b)) if a != b else (a, a)
        if key not in self.cache:
            if a in self.ones and b in self.ones:
                w = None
            elif a in self.ones:
                w = self.columns[b]
            elif b in self.ones:
                w = self.columns[a]
            else:
                w = self.columns[a] * self.columns[b]
            self.cache[key] = np.bincount(self.codes, weights=w, minlength=self.ncell).astype(float)
        return self.cache[key]

    def matrix(self, left: tuple[str, ...], right: tuple[str, ...]) -> np.ndarray:
        """Per-cell ``left' right`` as ``(len(left), len(right), ncell)``."""
        out = np.empty((len(left), len(right), self.ncell))
        for i, a in enumerate(left):
            for j, b in enumerate(right):
                out[i, j] = self(a, b)
        return out


def _is_ones(v: np.ndarray) -> bool:
    return bool(v[0] == 1.0 and np.all(v == 1.0))


def _centre(design: Design) -> tuple[np.ndarray, float]:
    """Shift y by its mean when X spans the constant (keeps y'y well scaled)."""
    has_const = any(_is_ones(design.X[:, j]) for j in range(design.X.shape[1]))
    shift = float(design.y.mean()) if has_const else 0.0
    return design.y - shift, shift


def stats_single(design: Design) -> tuple[GroupStats, float]:
    """Per-group cross-products for one factor; returns them and the y shift."""
    (f,) = design.factors
    y, shift = _centre(design)
    xn = tuple(f"x:{n}" for n in design.x_names)
    columns = {**f.Z, **dict(zip(xn, design.X.T)), "y": y}
    sums = _CellSums(f.codes, len(f.levels), columns)
    X = design.X
    st = GroupStats(
        zz=sums.matrix(f.columns, f.columns),
        zx=_zx(sums, f.columns, design, xn),
        zy=sums.matrix(f.columns, ("y",)),
        xx=X.T @ X,
        xy=X.T @ y,
        yy=float(y @ y),
        n=design.n,
    )
    return st, shift


def _zx(sums: _CellSums, zcols: tuple[str, ...], design: Design, xn: tuple[str, ...]) -> np.ndarray:
    """Z'X per cell; X columns that equal a Z column by name reuse its sums."""
    out = np.empty((len(zcols), len(xn), sums.ncell))
    for j, (name, key) in enumerate(zip(design.x_names, xn)):
        src = name if name in sums.columns else key
        for i, a in enumerate(zcols):
            out[i, j] = sums(a, src)
    return out


def stats_nested(design: Design) -> tuple[NestedStats, float]:
    """Cross-products for an inner factor nested in an outer one."""
    outer, inner = design.factors
    y, shift = _centre(design)
    xn = tuple(f"x:{n}" for n in design.x_names)
    z1 = {f"1:{k}": v for k, v in outer.Z.items()}
    z2 = {f"2:{k}": v for k, v in inner.Z.items()}
    c1, c2 = tuple(z1), tuple(z2)
    columns = {**z1, **z2, **dict(zip(xn, design.X.T)), "y": y}
    sums = _CellSums(inner.codes, len(inner.levels), columns)
    parent = np.empty(len(inner.levels), dtype=np.int64)
    parent[inner.codes] = outer.codes
    # inner levels are sorted lexicographically by (outer, inner), so parents ascend
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    red = np.add.reduceat
    st = NestedStats(
        z2z2=sums.matrix(c2, c2),
        z2z1=sums.matrix(c2, c1),
        z2x=sums.matrix(c2, xn),
        z2y=sums.matrix(c2, ("y",)),
        z1z1=red(sums.matrix(c1, c1), starts, axis=-1),
        z1x=red(sums.matrix(c1, xn), starts, axis=-1),
        z1y=red(sums.matrix(c1, ("y",)), starts, axis=-1),
        starts=starts,
        xx=design.X.T @ design.X,
        xy=design.X.T @ y,
        yy=float(y @ y),
        n=design.n,
    )
    return st, shift


def stats_general(design: Design) -> tuple[SparseStats, float]:
    """Cross-products of the whole sparse random-effects design (crossed or many factors)."""
    y, shift = _centre(design)
    parts = [(f.codes, len(f.levels), [f.Z[c] for c in f.columns], f.block.pattern) for f in design.factors]
    return build_sparse(design.X, y, parts), shift
