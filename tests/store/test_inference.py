"""Teams and members inferred from activity, bots apart, and a roster that takes over."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ctssw.sources.bots import bot_rule
from ctssw.store import Store, load_git, load_roster
from ctssw.store.inference import inferred_teams

ROSTER = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "roster"
PEOPLE = ("alice@corp.example", "carol@corp.example", "dave@corp.example",
          "renovate[bot]@users.noreply.github.com", "41898282+github-actions[bot]@users.noreply.github.com")


def _repo(tmp: Path) -> Path:
    r = tmp / "payments-api"
    subprocess.run(["git", "init", "-q", str(r)], check=True)
    for week in range(6):
        for who in PEOPLE:
            day = f"2024-01-{1 + 7 * (week % 4):02d}T10:00:00Z" if week < 4 else f"2024-02-{5 + 7 * (week - 4):02d}T10:00:00Z"
            env = {"GIT_AUTHOR_NAME": who.split("@")[0], "GIT_AUTHOR_EMAIL": who, "GIT_COMMITTER_NAME": "c",
                   "GIT_COMMITTER_EMAIL": "c@corp.example", "GIT_AUTHOR_DATE": day, "GIT_COMMITTER_DATE": day,
                   "PATH": "/usr/bin:/bin"}
            subprocess.run(["git", "-C", str(r), "commit", "-q", "--allow-empty", "-m", f"w{week}"], check=True, env=env)
    return r


def test_bot_rules():
    assert bot_rule("49699333+dependabot[bot]@users.noreply.github.com") == "[bot]"
    assert bot_rule("bot@renovateapp.com") == "renovate"
    assert bot_rule("action@github.com") == "github-actions"
    assert bot_rule("198982749+Copilot@users.noreply.github.com") == "agent"
    assert bot_rule("devin-ai-integration") == "agent"
    assert bot_rule("alice@corp.example") is None and bot_rule("robert@corp.example") is None


def test_inferred_then_roster_takes_over(tmp_path):
    repo = _repo(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        load_git(s, repo)
        c = s.con
        assert inferred_teams(s) == ["payments-api"]
        assert c.execute("SELECT count(DISTINCT builder_id), bool_and(inferred) FROM memberships").fetchall() == [(3, True)]
        assert c.execute("SELECT count(*) FROM bots").fetchall() == [(2,)]
        alice = s.pseudonymise("alice@corp.example")
        assert c.execute("SELECT count(*) FROM memberships WHERE builder_id = ?", [alice]).fetchall()[0][0] > 0
        load_roster(s, sorted(ROSTER.glob("*.csv")))
        # alice is on the roster now: her inferred memberships are gone, the others' stay inferred
        rows = c.execute("SELECT team_id, inferred FROM memberships WHERE builder_id = ?", [alice]).fetchall()
        assert rows == [("payments", False)]
        left = c.execute("SELECT count(DISTINCT builder_id) FROM memberships WHERE inferred AND team_id = 'payments-api'")
        assert left.fetchall() == [(2,)]
        assert "payments-api" in inferred_teams(s) and "payments" not in inferred_teams(s)


def test_status_flags_fte_above_one_across_teams(tmp_path):
    from ctssw.pipeline.status import store_status

    r = tmp_path / "roster"
    r.mkdir()
    (r / "teams.csv").write_text("team_id,name\napi,API\nweb,Web\n")
    (r / "memberships.csv").write_text(
        "email,team_id,start,end,fte,oncall\nerin@corp.example,api,2024-01-01,,0.8,no\n"
        "erin@corp.example,web,2024-03-01,2024-06-30,0.5,no\nfrank@corp.example,api,2024-01-01,,1.0,no\n"
    )
    with Store(tmp_path / "s.duckdb") as s:
        load_roster(s, sorted(r.glob("*.csv")))
    st = store_status(tmp_path / "s.duckdb")
    assert st.rostered_teams == 2 and st.inferred_teams == []
    assert any(w.startswith("1 builder(s) have more than 1.0 FTE") for w in st.warnings)
    assert "erin" not in " ".join(st.warnings)
