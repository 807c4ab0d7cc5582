"""ctssw.estimators.lmm against committed lme4 / lmerTest output (tests/reference/lmm_*); R is not needed.

Every case is fitted once with Satterthwaite df and compared on each quantity
with that case's tolerance (tests/reference/lmm_common/README.md): the
criterion, fixed effects, their SEs and covariance, σ², the variance
components, the conditional modes and lmerTest's Satterthwaite df.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import SingularFitWarning
from ctssw.estimators.lmm import lmm
from ctssw.estimators.lmm.model import STRUCTURE

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = [
    "lmm_sleepstudy", "lmm_unbalanced", "lmm_intercept", "lmm_nested", "lmm_singular",
    # lme4's and nlme's shipped datasets (extended export: per-quantity tolerances, lme4's converged flag)
    "lmm_dyestuff", "lmm_dyestuff2", "lmm_penicillin_crossed", "lmm_penicillin_plate",
    "lmm_pastes_nested", "lmm_pastes_crossed", "lmm_cake", "lmm_orthodont", "lmm_orthodont_sex",
    "lmm_machines", "lmm_oats", "lmm_sleepstudy_ml", "lmm_insteval_crossed", "lmm_insteval_nested",
]


def _load(case: str):
    out = json.loads((REF / case / "lme4_output.json").read_text())
    tol = json.loads((REF / case / "tolerance.json").read_text())
    data = pd.read_csv(REF / case / "input.csv")
    return data, out["models"], tol


def _params():
    for case in CASES:
        _, models, _ = _load(case)
        for m in models:
            yield pytest.param(case, m["name"], id=f"{case}-{m['name']}")


_FITS: dict[tuple[str, str], tuple] = {}


def fitted(case: str, name: str):
    """Fit once per model; return (ctssw result, lme4 output, tolerance)."""
    if (case, name) not in _FITS:
        data, models, tol = _load(case)
        ref = next(m for m in models if m["name"] == name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            res = lmm(ref["formula_py"], data, reml=ref["reml"], ddf="satterthwaite")
        _FITS[case, name] = (res, ref, tol)
    return _FITS[case, name]


def deviations(res, ref, tol) -> dict[str, float]:
    """Largest scaled deviation from lme4 per quantity (1.0 = at the tolerance)."""
    rel = tol["rel"]
    fixef_rel, se_rel = tol.get("fixef_rel", rel), tol.get("se_rel", rel)
    vc_rel, df_rel = tol.get("var_components_rel", rel), tol.get("df_rel", rel)
    names = tol["names"]
    groups = tol["groups"]
    out: dict[str, float] = {}

    crit = "reml_criterion" if ref["reml"] else "deviance"
    got = res.reml_criterion if ref["reml"] else res.deviance
    out[crit] = abs(got - ref[crit]) / abs(ref[crit]) / tol["criterion_rel"]
    out["loglik"] = abs(res.loglik - ref["loglik"]) / abs(ref["loglik"]) / tol["criterion_rel"]

    fe, se = {}, {}
    for k, v in ref["fixef"].items():
        py = names.get(k, k)
        floor = max(abs(v), ref["se"][k])
        fe[k] = abs(res.params[py] - v) / floor / fixef_rel
        se[k] = abs(res.std_errors[py] - ref["se"][k]) / ref["se"][k] / se_rel
    out["fixef"] = max(fe.values())
    out["se"] = max(se.values())
    vcov_names = ref["vcov_names"] if isinstance(ref["vcov_names"], list) else [ref["vcov_names"]]
    vnames = [names.get(k, k) for k in vcov_names]
    V = res.vcov.loc[vnames, vnames].to_numpy()
    R = np.asarray(ref["vcov"])
    out["vcov"] = float(np.max(np.abs(V - R) / np.sqrt(np.outer(np.diag(R), np.diag(R))))) / rel

    s2 = ref["sigma"] ** 2
    out["sigma2"] = abs(res.sigma2 - s2) / s2 / rel
    mine = res.var_components()
    worst = 0.0
    for row in ref["varcorr"]:
        if row["grp"] == "Residual":
            continue
        grp = groups.get(row["grp"], row["grp"])
        var1, var2 = row["var1"], row.get("var2")
        if var2 is None:
            got = res.cov_re.loc[(grp, var1), (grp, var1)]
        else:
            got = res.cov_re.loc[(grp, var1), (grp, var2)]
        worst = max(worst, abs(got - row["vcov"]) / max(abs(row["vcov"]), s2) / vc_rel)
    out["var_components"] = worst
    out["satterthwaite_df"] = max(
        abs(res.df[names.get(k, k)] - v) / v / df_rel for k, v in ref["satterthwaite_df"].items()
    )
    assert len(mine) == len(ref["varcorr"])

    re = pd.DataFrame(ref["ranef"])
    worst = 0.0
    for (grpvar, term), sub in re.groupby(["grpvar", "term"]):
        grp = groups.get(grpvar, grpvar)
        levels = sub["grp"].astype(str)
        if grp != grpvar and ":" in grpvar:
            levels = levels.map(lambda s: ":".join(reversed(s.split(":"))))
        got = res.ranef(grp)[term]
        got.index = got.index.astype(str)
        got = got.loc[levels.to_numpy()].to_numpy()
        want = sub["condval"].to_numpy()
        scale = max(float(np.std(want)), np.sqrt(s2) * 1e-3)
        worst = max(worst, float(np.max(np.abs(got - want))) / scale / tol.get("ranef_rel", rel))
    out["ranef"] = worst
    return out


@pytest.mark.parametrize(("case", "name"), list(_params()))
def test_matches_lme4(case, name):
    res, ref, tol = fitted(case, name)
    dev = deviations(res, ref, tol)
    bad = {k: v for k, v in dev.items() if not v <= 1.0}
    assert not bad, f"beyond tolerance (1.0 = at tolerance): {bad}"
    assert res.nobs == ref["nobs"]
    assert res.singular == ref["singular"]
    assert res.converged
    assert res.ddf == "satterthwaite"
    # lmerTest's t statistics (its p-values are t tail areas at these t and the df checked above)
    if "t_value" in ref:
        want = pd.Series(ref["t_value"]).rename(index=tol["names"])
        rtol = tol.get("fixef_rel", tol["rel"]) + tol.get("se_rel", tol["rel"])
        np.testing.assert_allclose(res.tstats[want.index], want, rtol=rtol, atol=rtol)


def _extended():
    for case in CASES:
        _, models, _ = _load(case)
        for m in models:
            if "crossed" in m:
                yield pytest.param(case, m["name"], id=f"{case}-{m['name']}")


@pytest.mark.parametrize(("case", "name"), list(_extended()))
def test_structure_and_convergence_flags(case, name):
    """lme4's crossed cases take the general sparse path; nested pairs the nested one; converged as lme4."""
    res, ref, _ = fitted(case, name)
    want = "general" if ref["crossed"] else {1: "single"}.get(len(ref["ngrps"]), "nested")
    assert res.settings["random effects"] == STRUCTURE[want]
    assert res.converged == ref["converged"]


@pytest.mark.parametrize(("case", "name"), list(_params()))
def test_group_counts(case, name):
    res, ref, tol = fitted(case, name)
    want = {tol["groups"].get(k, k): v for k, v in ref["ngrps"].items()}
    assert res.n_groups == want


def test_singular_fit_warns():
    data, models, _ = _load("lmm_singular")
    with pytest.warns(SingularFitWarning):
        res = lmm(models[0]["formula_py"], data)
    assert res.singular
    assert any("singular" in w for w in res.warnings)
