"""Teams and members inferred from activity, for organisations without a roster (DESIGN §3).

Rules (documented in ``docs/connectors.md``):

- **Team.** A repository with no team (no ``--team``, no path rules, no roster) is owned by a
  team of its own, named after the repository id. Such teams are *inferred*.
- **Member.** A builder belongs to a team in week *w* when they were active on that team
  (authored a commit or a change there) in at least ``min_active_weeks`` distinct weeks within
  ``window_weeks`` weeks either side of *w* (defaults: 8 weeks, 2 active weeks).
- **FTE.** In each week a builder's FTE is split across the teams they belong to by their share
  of activity there within the window, so it sums to 1.0 per builder-week.
- **Bots and agents** (:mod:`ctssw.sources.bots`) are never builders: they are kept in the
  ``bots`` table and counted apart.
- **A roster wins.** A builder with any rostered membership is never inferred; memberships
  inferred before a roster was loaded are replaced on the next load.

Inferred memberships carry ``inferred = true``; a team is inferred when all its memberships
are. Every load refreshes them (:func:`infer_memberships`), so they follow the store.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ..sources.bots import bot_rule
from ._db import Store
from ._schema import TABLES

__all__ = ["DEFAULT_MIN_ACTIVE_WEEKS", "DEFAULT_WINDOW_WEEKS", "default_teams", "infer_memberships", "inferred_teams", "register_bots"]

DEFAULT_WINDOW_WEEKS = 8
DEFAULT_MIN_ACTIVE_WEEKS = 2


def has_roster(store: Store) -> bool:
    """True when the store holds any membership that was not inferred."""
    return bool(store.con.execute("SELECT count(*) FROM memberships WHERE NOT coalesce(inferred, false)").fetchall()[0][0])


def register_bots(store: Store, tables: dict[str, pa.Table]) -> int:
    """Record every raw identity in ``tables`` that the bot rules match; return how many are new."""
    found: dict[str, str] = {}
    for name, t in tables.items():
        spec = TABLES.get(name)
        if spec is None or t is None:
            continue
        for col in spec.columns:
            if col.person and col.name in t.column_names and not (name == "identities" and col.name == "builder"):
                for v in set(t.column(col.name).to_pylist()):
                    if isinstance(v, str):
                        rule = bot_rule(v)
                        if rule is not None:
                            found.setdefault(v, rule)
    if not found:
        return 0
    rows = pa.table({"v": list(found), "rule": list(found.values())})
    store.con.register("_bots_in", rows)
    try:
        before = store.count("bots")
        store.con.execute(
            f"""INSERT INTO bots SELECT DISTINCT {store.builder_sql('v')}, rule, now() FROM _bots_in
                WHERE {store.builder_sql('v')} NOT IN (SELECT builder_id FROM bots)"""
        )
        return store.count("bots") - before
    finally:
        store.con.unregister("_bots_in")


def default_teams(store: Store, tables: dict[str, pa.Table]) -> list[str]:
    """Give each repository without a team a team of its own (when the store has no roster).

    Fills ``repos.team_id`` and the ``team_id`` of commits and changes of that repository, and
    adds the ``teams`` rows. Returns the team ids created.
    """
    repos = tables.get("repos")
    if repos is None or repos.num_rows == 0 or has_roster(store):
        return []
    rows = repos.to_pylist()
    own = {r["repo_id"]: r["repo_id"] for r in rows if not r.get("team_id")}
    if not own:
        return []
    for r in rows:
        r["team_id"] = r.get("team_id") or own[r["repo_id"]]
    tables["repos"] = pa.Table.from_pylist(rows, schema=repos.schema)
    for name in ("commits", "changes"):
        t = tables.get(name)
        if t is None or t.num_rows == 0 or "team_id" not in t.column_names:
            continue
        repo_col = t.column("repo_id").to_pylist()
        team_col = t.column("team_id").to_pylist()
        filled = [tm or own.get(rp) for tm, rp in zip(team_col, repo_col)]
        i = t.column_names.index("team_id")
        tables[name] = t.set_column(i, "team_id", pa.array(filled, pa.string()))
    known = {r[0] for r in store.con.execute("SELECT team_id FROM teams").fetchall()}
    new = sorted(set(own.values()) - known)
    old = tables.get("teams")
    add = pa.table({"team_id": pa.array(new, pa.string()), "name": pa.array(new, pa.string())})
    tables["teams"] = pa.concat_tables([old.select(["team_id", "name"]), add]) if old is not None and "name" in old.column_names else add
    return new


def roster_owned_repos(store: Store, tables: dict[str, pa.Table], share: float = 0.5) -> dict[str, str]:
    """Give a repository without a team the roster team whose members wrote most of its commits
    in this load (more than ``share`` of those the roster places), so its releases and
    deployments count for that team. Only with a roster; returns {repo: team}."""
    from ..sources.common import note

    repos, commits = tables.get("repos"), tables.get("commits")
    if repos is None or commits is None or commits.num_rows == 0 or not has_roster(store):
        return {}
    rows = repos.to_pylist()
    open_ = {r["repo_id"] for r in rows if not r.get("team_id")}
    counts: dict[str, dict[str, int]] = {}
    for rp, tm in zip(commits.column("repo_id").to_pylist(), commits.column("team_id").to_pylist()):
        if rp in open_ and tm:
            counts.setdefault(rp, {})[tm] = counts.setdefault(rp, {}).get(tm, 0) + 1
    owner = {}
    for rp, by in counts.items():
        tm, n = max(by.items(), key=lambda x: (x[1], x[0]))
        if n > share * sum(by.values()):
            owner[rp] = tm
    if not owner:
        return {}
    for r in rows:
        r["team_id"] = r.get("team_id") or owner.get(r["repo_id"])
    tables["repos"] = pa.Table.from_pylist(rows, schema=repos.schema)
    shown = ", ".join(f"{r} → {t}" for r, t in sorted(owner.items())[:6]) + (", …" if len(owner) > 6 else "")
    note(f"git: {len(owner)} repositor{'y' if len(owner) == 1 else 'ies'} given the roster team whose members wrote "
         f"most of its commits ({shown}); --team REPO=TEAM sets it")
    return owner


def infer_memberships(
    store: Store, *, window_weeks: int = DEFAULT_WINDOW_WEEKS, min_active_weeks: int = DEFAULT_MIN_ACTIVE_WEEKS
) -> int:
    """Replace the inferred memberships with ones derived from the activity now in the store.

    Returns the number of inferred membership rows written.
    """
    with store.transaction():
        store.writable("memberships")
        return _infer(store, window_weeks, min_active_weeks)


def _infer(store: Store, window_weeks: int, min_active_weeks: int) -> int:
    c = store.con
    c.execute("DELETE FROM memberships WHERE coalesce(inferred, false)")
    now = dt.datetime.now(dt.UTC)
    w = int(window_weeks)
    c.execute(
        """CREATE OR REPLACE TEMP TABLE _act AS
        WITH ev AS (
            SELECT c.author_id AS b, coalesce(c.team_id, r.team_id) AS team,
                   CAST(date_trunc('week', c.committed_at) AS DATE) AS wk
            FROM commits c LEFT JOIN repos r USING (repo_id)
            UNION ALL
            SELECT ch.author_id, coalesce(ch.team_id, r.team_id),
                   CAST(date_trunc('week', coalesce(ch.merged_at, ch.created_at)) AS DATE)
            FROM changes ch LEFT JOIN repos r USING (repo_id)
        )
        SELECT b, team, wk, count(*) AS n FROM ev
        WHERE b IS NOT NULL AND team IS NOT NULL AND wk IS NOT NULL
          AND team IN (SELECT team_id FROM teams)
          AND b NOT IN (SELECT builder_id FROM bots)
          AND b NOT IN (SELECT builder_id FROM memberships)
        GROUP BY ALL"""
    )
    c.execute(
        f"""CREATE OR REPLACE TEMP TABLE _win AS
        WITH weeks AS (
            SELECT DISTINCT b, team, CAST(wk + INTERVAL (k * 7) DAY AS DATE) AS week
            FROM _act, range(-{w}, {w} + 1) t(k)
        ), near AS (
            SELECT x.b, x.team, x.week, count(DISTINCT a.wk) AS active_weeks, sum(a.n) AS events
            FROM weeks x JOIN _act a ON a.b = x.b AND a.team = x.team
                 AND a.wk BETWEEN x.week - INTERVAL ({w * 7}) DAY AND x.week + INTERVAL ({w * 7}) DAY
            GROUP BY ALL
        )
        SELECT b, team, week, events / sum(events) OVER (PARTITION BY b, week) AS fte
        FROM near WHERE active_weeks >= {int(min_active_weeks)}"""
    )
    # no membership reaches past the store's last activity
    c.execute("DELETE FROM _win WHERE week > (SELECT max(wk) FROM _act)")
    # consecutive weeks with the same share become one membership
    c.execute(
        """CREATE OR REPLACE TEMP TABLE _runs AS
        WITH r AS (
            SELECT b, team, week, round(fte, 4) AS fte,
                   week - INTERVAL (7 * row_number() OVER (PARTITION BY b, team, round(fte, 4) ORDER BY week)) DAY AS island
            FROM _win
        )
        SELECT b, team, min(week) AS start, CAST(max(week) + INTERVAL 6 DAY AS DATE) AS "end", any_value(fte) AS fte
        FROM r GROUP BY b, team, fte, island"""
    )
    c.execute(
        """INSERT INTO memberships (builder_id, team_id, start, "end", fte, oncall, inferred, source, ingested_at)
           SELECT b, team, CAST(start AS DATE), "end", fte, false, true, 'inferred', ? FROM _runs""",
        [now],
    )
    n = c.execute("SELECT count(*) FROM _runs").fetchall()[0][0]
    for t in ("_act", "_win", "_runs"):
        c.execute(f"DROP TABLE IF EXISTS {t}")
    return n


def inferred_teams(store: Store) -> list[str]:
    """Teams all of whose memberships are inferred from activity."""
    rows = store.con.execute(
        "SELECT team_id FROM memberships GROUP BY team_id HAVING bool_and(coalesce(inferred, false)) ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]
