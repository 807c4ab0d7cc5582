"""Write input.csv for the lmm_* reference cases whose data are simulated (fixed seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent.parent


def unbalanced() -> pd.DataFrame:
    rng = np.random.default_rng(20260501)
    sizes = rng.integers(2, 61, size=40)
    team = np.repeat(np.arange(40), sizes)
    n = team.size
    x1 = rng.normal(size=n)
    x2 = rng.lognormal(mean=1.0, sigma=0.5, size=n)
    f = rng.choice(["a", "b", "c"], size=n)
    b0 = rng.normal(scale=1.5, size=40)
    b1 = 0.5 * b0 + rng.normal(scale=0.6, size=40)
    y = 2.0 + 0.8 * x1 - 0.5 * np.log(x2) + np.where(f == "b", 0.7, np.where(f == "c", -0.4, 0.0))
    y = y + b0[team] + b1[team] * x1 + rng.normal(scale=1.2, size=n)
    return pd.DataFrame({"team": [f"t{t:02d}" for t in team], "x1": x1, "x2": x2, "f": f, "y": y})


def intercept() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    team = np.repeat(np.arange(25), 12)
    n = team.size
    x = rng.normal(size=n) + 0.3 * rng.normal(size=25)[team]
    y = 1.0 + 0.3 * x + rng.normal(scale=0.8, size=25)[team] + rng.normal(size=n)
    return pd.DataFrame({"team": team + 100, "x": x, "y": y})


def nested() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for org in range(8):
        u_org = rng.normal(scale=1.0)
        for team in range(int(rng.integers(3, 7))):
            u_team = rng.normal(scale=0.7)
            for _ in range(int(rng.integers(4, 15))):
                x = rng.normal()
                rows.append((f"o{org}", f"t{team}", x, 3.0 - 0.6 * x + u_org + u_team + rng.normal(scale=0.9)))
    return pd.DataFrame(rows, columns=["org", "team", "x", "y"])


def singular() -> pd.DataFrame:
    # team effects only through the slope; the within-team residual mean is
    # removed, so the intercept variance is estimated at zero
    rng = np.random.default_rng(3)
    team = np.repeat(np.arange(20), 15)
    n = team.size
    x = rng.normal(size=n)
    e = rng.normal(size=n)
    e = e - pd.Series(e).groupby(team).transform("mean").to_numpy()
    y = 0.5 + 1.0 * x + rng.normal(scale=0.5, size=20)[team] * x + e
    return pd.DataFrame({"team": team, "x": x, "y": y})


if __name__ == "__main__":
    for name, fn in {"unbalanced": unbalanced, "intercept": intercept, "nested": nested, "singular": singular}.items():
        d = HERE / f"lmm_{name}"
        d.mkdir(exist_ok=True)
        fn().to_csv(d / "input.csv", index=False, float_format="%.17g")
