"""docs/tutorial.ipynb runs top to bottom on the simulator and on a small git repository built here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import ctssw

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "tutorial.ipynb"
PEOPLE = ["ana", "ben", "cai", "dee", "eli", "fay"]


def _git(repo: Path, *args: str, when: str | None = None, who: str | None = None) -> None:
    env = dict(os.environ)
    if who:
        env.update(GIT_AUTHOR_NAME=who, GIT_AUTHOR_EMAIL=f"{who}@corp.test", GIT_COMMITTER_NAME=who,
                   GIT_COMMITTER_EMAIL=f"{who}@corp.test", GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _repository(root: Path) -> tuple[Path, Path]:
    """Six people in one team, eight weeks of squash-merged changes, and the roster that names them."""
    repo = root / "service"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    n = 0
    for week in range(8):
        for i, who in enumerate(PEOPLE):
            n += 1
            (repo / f"{who}.txt").write_text(f"{week} {i}\n" * (week + 1))
            _git(repo, "add", ".")
            _git(repo, "commit", "-qm", f"Change {n} (#{n})", who=who, when=f"2024-03-{4 + week * 3 // 1:02d}T1{i}:00:00Z"
                 if 4 + week * 3 <= 31 else f"2024-04-{week * 3 - 27:02d}T1{i}:00:00Z")
    roster = root / "roster"
    roster.mkdir()
    (roster / "teams.csv").write_text("team_id,name,parent_id,architecture\nplatform,Platform,eng,service\n")
    (roster / "memberships.csv").write_text("email,team_id,start\n" + "".join(f"{p}@corp.test,platform,2024-01-01\n" for p in PEOPLE))
    return repo, roster


def test_tutorial_runs_on_the_simulator_and_a_git_repository(tmp_path, monkeypatch):
    # the kernel imports the same ctssw these tests import
    src = str(Path(ctssw.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    repo, roster = _repository(tmp_path)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f'TEAMS, WEEKS, SEED = 40, 60, 3\nREPO, ROSTER = "{repo}", "{roster}"\nWORK = "{tmp_path / "work"}"\n'
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 4  # drivers forest, event study, estimators side by side, value waterfall
    htmls = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("% per +1 SD" in h for h in htmls) and any("ctssw-etable" in h for h in htmls)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Event study" in text and "Pre-trend test" in text and "ATT(20" not in text
    assert "merged changes" in text and (tmp_path / "work" / "report.html").exists()
