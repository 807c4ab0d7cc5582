"""Write tolerance.json for the lmm_* cases on R's shipped datasets.

Only the cases listed in CASES are written; the first five cases (sleepstudy,
unbalanced, intercept, nested, singular) keep their hand-written files.

Defaults: REML criterion / deviance 1e-6 relative, fixed effects 1e-5, standard
errors 1e-4, variance components 1e-4, Satterthwaite df 1e-4, and 1e-4 for
everything else ("rel": the fixed-effect covariance, sigma^2, conditional
modes). A quantity is widened for a case when lme4's own default stop is
already more than a third of the tolerance away from the optimum: the
tight_refit block of lme4_output.json gives that distance (max_rel_change, on
the scale the test compares on) and the tolerance becomes the smallest 1, 2 or
5 x 10^k that is at least three times it. Run from anywhere after the R
scripts: python make_tolerances.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

BASE_NOTE = (
    "Relative to the lme4 value; a quantity whose reference is near zero is compared on a floor scale instead "
    "(fixed effects: its standard error; variance components: the residual variance; conditional modes: their "
    "standard deviation across groups). Deviance-type criteria use criterion_rel. fixef_rel, se_rel, "
    "var_components_rel, df_rel (Satterthwaite df) and ranef_rel take precedence over rel for their quantity; "
    "rel covers the rest (fixed-effect vcov, sigma^2). See ../lmm_common/README.md."
)

DEFAULTS = {
    "criterion_rel": 1e-6,
    "fixef_rel": 1e-5,
    "se_rel": 1e-4,
    "var_components_rel": 1e-4,
    "df_rel": 1e-4,
    "rel": 1e-4,
}
# tolerance key -> the tight_refit.max_rel_change entries it has to cover
COVERS = {
    "criterion_rel": ["criterion"],
    "fixef_rel": ["fixef"],
    "se_rel": ["se"],
    "var_components_rel": ["var_components"],
    "df_rel": ["satterthwaite_df"],
    "rel": ["vcov", "sigma2"],
    "ranef_rel": ["ranef"],
}

NESTED = "lme4 names the inner factor of a/b 'b:a' and labels its levels 'b:a'; ctssw writes 'a:b'."
UNCORR = "lme4 names the second term of (x || g) 'g.1'."
CAKE_NAMES = {"recipeB": "C(recipe)[T.B]", "recipeC": "C(recipe)[T.C]"}
for s in [".L", ".Q", ".C", "^4", "^5"]:
    CAKE_NAMES[f"temperature{s}"] = f"C(temperature, contr.poly)[{s}]"
    for r in "BC":
        CAKE_NAMES[f"recipe{r}:temperature{s}"] = f"C(recipe)[T.{r}]:C(temperature, contr.poly)[{s}]"
SEX = "C(Sex, contr.treatment('Male'))[T.Female]"

CASES: dict[str, dict] = {
    "lmm_dyestuff": {},
    "lmm_dyestuff2": {"note": "lme4 reports a singular fit (Batch variance exactly 0)."},
    "lmm_penicillin_crossed": {},
    "lmm_penicillin_plate": {},
    "lmm_pastes_nested": {"groups": {"cask:batch": "batch:cask"}, "note": NESTED},
    "lmm_pastes_crossed": {},
    "lmm_cake": {
        "groups": {"recipe:replicate": "replicate:recipe"},
        "names": CAKE_NAMES,
        "note": NESTED + " R codes recipe with treatment contrasts (recipeB, recipeC) and the ordered factor "
        "temperature with orthogonal polynomial contrasts (temperature.L ... temperature^5); formulaic's "
        "C(temperature, contr.poly) gives the same columns.",
    },
    "lmm_orthodont": {},
    "lmm_orthodont_sex": {
        "groups": {"Subject.1": "Subject"},
        "names": {"SexFemale": SEX, "age:SexFemale": f"age:{SEX}"},
        "note": UNCORR + " Sex keeps nlme's level order (Male first), so R's contrast is SexFemale.",
    },
    "lmm_machines": {
        "groups": {"Machine:Worker": "Worker:Machine"},
        "names": {"MachineB": "C(Machine)[T.B]", "MachineC": "C(Machine)[T.C]"},
        "note": NESTED,
    },
    "lmm_oats": {"groups": {"Variety:Block": "Block:Variety"}, "note": NESTED},
    "lmm_sleepstudy_ml": {},
    "lmm_insteval_crossed": {"names": {"service1": "C(service)[T.1]"}},
    "lmm_insteval_nested": {"groups": {"d:dept": "dept:d"}, "note": NESTED},
}


def widen(change: float) -> float:
    """Smallest 1, 2 or 5 x 10^k at least 3 * change."""
    target = 3 * change
    k = math.floor(math.log10(target))
    for m in (1, 2, 5, 10):
        if m * 10**k >= target * (1 - 1e-12):
            return float(f"{m}e{k}") if m < 10 else float(f"1e{k + 1}")
    raise AssertionError


def tolerance(case: str, spec: dict) -> dict:
    out = json.loads((HERE / case / "lme4_output.json").read_text())
    change: dict[str, float] = {}
    for m in out["models"]:
        for k, v in m["tight_refit"]["max_rel_change"].items():
            change[k] = max(change.get(k, 0.0), v)
    tol = dict(DEFAULTS)
    widened = []
    for key, covers in COVERS.items():
        worst = max(change[c] for c in covers)
        base = tol.get(key, tol["rel"])
        if worst > base / 3:
            tol[key] = max(base, widen(worst))
            widened.append(f"{key} {tol[key]:g} (lme4's default stop is {worst:.2g} from the optimum)")
    note = BASE_NOTE
    if spec.get("note"):
        note += " " + spec["note"]
    if widened:
        note += " Widened: " + "; ".join(widened) + "."
    res = {"rel": tol.pop("rel"), "note": note}
    res.update(tol)
    res["names"] = spec.get("names", {})
    res["groups"] = spec.get("groups", {})
    return res


if __name__ == "__main__":
    for case, spec in CASES.items():
        (HERE / case / "tolerance.json").write_text(json.dumps(tolerance(case, spec), indent=2) + "\n")
