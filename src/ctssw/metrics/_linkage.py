"""Linking changes, commits, deployments and incidents, as backend-neutral Ibis expressions.

- A deployment's *target* is its service (or repo when it has no service).
- The previous successful deployment is the one before it of the same (target,
  environment), ordered by finish time (ties by id).
- ``deployment_commits`` comes from the store; for a successful deployment with a
  sha and no stored rows it is derived: from a ``commits_diffs`` table
  (old_commit_sha, new_commit_sha, commit_sha) when the backend holds one, else as
  the repo's commits committed after the previous successful sha and up to this one.
- A merged change reached production with the first successful, non-rollback
  production deployment (by finish time) that shipped its merge commit.
- An incident belongs to the deployment named in ``incidents.deployment_id`` when
  given, else to the latest successful production deployment of its service (its
  team's services when it names none) that finished before it was created,
  optionally within a window.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir

from ..panel import id_key
from ..panel import stored_keys as panel_keys
from ..panel.backend import on_duckdb

NEVER = ibis.timestamp("1970-01-01 00:00:00")


@ibis.udf.scalar.builtin(name="ctssw_sha_key")
def _duckdb_sha_key(x: str) -> idt.Decimal(38, 0):  # the macro below; DuckDB types it HUGEINT
    ...


# two 64-bit hashes of the string, framed differently (the second over a byte and the sha, so its
# blocks of 8 bytes differ from the first's), in one 125-bit integer; NULL for NULL, which hash() is not
_SHA_KEY_MACRO = (
    "CREATE OR REPLACE TEMP MACRO ctssw_sha_key(s) AS "
    "CASE WHEN s IS NOT NULL THEN ((hash(s) >> 3)::HUGEINT << 64) | hash(chr(1) || s)::HUGEINT END"
)


def sha_key(con):
    """What the linkage joins and groups shas on: on DuckDB a 125-bit key hashed from each sha,
    elsewhere the sha itself.

    At 10,000 teams the 40-character shas are the linkage's widest join keys (80M deployment
    commits, 29M merge commits): on the keys the change facts took 26.9 s instead of 33.6 s
    (side by side, same machine). Nothing checks keys for collisions: two of 10^8 distinct shas share one
    with a chance near 10^-22 (if the two hashes behave as independent ones). Spark keeps the
    strings: its 64-bit ``xxhash64`` made the panel's distinct commit count no faster.
    """
    if not on_duckdb(con):
        return lambda sha: sha
    con.raw_sql(_SHA_KEY_MACRO)  # a temporary macro: per connection, and allowed on a read-only store
    return _duckdb_sha_key


def stored_keys(con) -> bool:
    """Whether the linkage joins deployments, their commits and the merge commits on the 64-bit
    keys a store file keeps beside those ids and shas (``ctssw.store._idkeys``) instead of the
    strings: on DuckDB, when every table it reads keeps them, and never beside a ``commits_diffs``
    table (a DevLake database read in place). Only joins use them: ties between deployments are
    still broken by the id strings, so the facts are the same either way.
    """
    return not _has_table(con, "commits_diffs") and panel_keys(con)


# the key columns the deployments carry for the linkage when it joins on stored keys
DEPLOYMENT_KEYS = ("deployment_id_key",)


def _keyed(con, deps: ir.Table | None) -> bool:
    """Whether to join on stored keys: :func:`stored_keys`, and ``deps`` (when given) carries them."""
    return (deps is None or set(DEPLOYMENT_KEYS) <= set(deps.columns)) and stored_keys(con)


def _has_table(con, name: str) -> bool:
    try:
        con.table(name)
    except Exception:  # each backend raises its own "not found"
        return False
    return True


def _dep_teams(con, keys: bool = False) -> ir.Table:
    d = con.table("deployments")
    s = con.table("services").select(svc_id="service_id", svc_team="team_id", svc_repo="repo_id")
    r = con.table("repos").select(rp_id="repo_id", repo_team="team_id")
    d = d.left_join(s, d.service_id == s.svc_id).left_join(r, d.repo_id == r.rp_id)
    return d.select(
        "deployment_id", "service_id", "environment", "started_at", "finished_at", "result",
        "is_rollback", "manual_interventions", "sha", *(DEPLOYMENT_KEYS if keys else ()),
        is_production=d.is_production if "is_production" in d.columns else ibis.null("boolean"),
        repo_id=ibis.coalesce(d.repo_id, d.svc_repo),
        target=ibis.coalesce(d.service_id, d.repo_id, "team:" + d.team_id),
        team_id=ibis.coalesce(d.team_id, d.svc_team, d.repo_team),
    )


def deployments(con, environment: str | None = None, *, previous: bool = True, keys: bool = False) -> ir.Table:
    """Deployments with their team, target and previous successful deployment of the same target.

    Columns added: ``team_id``, ``target``, ``ok`` (successful, not a rollback),
    ``prev_success_deployment_id``, ``prev_success_sha`` (both NULL for failed rows
    and for the first success of a target). ``previous=False`` leaves out the last two and the
    window over every deployment that finds them: the metrics' facts need a previous success only
    for the few deployments whose commits are derived (:func:`deployment_commits` finds those
    itself), and at 10,000 teams the window took 7 of the 8 s of their deployments step.
    ``keys=True`` adds the stored key of the id (:data:`DEPLOYMENT_KEYS`; only where
    :func:`stored_keys` holds).
    """
    d = _dep_teams(con, keys)
    if environment is not None:
        # production: the connector's is_production decides (flag or name pattern), else the name
        prod = d.is_production.fill_null(d.environment == environment) if environment == "production" else None
        d = d.filter(prod if prod is not None else d.environment == environment)
    if previous:
        d = _with_previous(d)
    return d.mutate(ok=(d.result == "success") & ~d.is_rollback)


def _with_previous(d: ir.Table) -> ir.Table:
    """``d`` with ``prev_success_deployment_id`` and ``prev_success_sha`` (successful rows only)."""
    # one window over every deployment, the successes in a partition of their own: lag() there is
    # the previous success, with no second pass over the successes joined back
    success = d.result == "success"
    keys = [d.target, success] + ([d.environment] if "environment" in d.columns else [])
    w = ibis.window(group_by=keys, order_by=[d.finished_at, d.deployment_id])
    return d.mutate(
        prev_success_deployment_id=ibis.ifelse(success, d.deployment_id.lag().over(w), ibis.null(d.deployment_id.type())),
        prev_success_sha=ibis.ifelse(success, d.sha.lag().over(w), ibis.null(d.sha.type())),
    )


def _previous_sha(d: ir.Table, cand: ir.Table) -> ir.Table:
    """(p_dep, prev_success_sha) for the deployments in ``cand`` (a table with ``deployment_id``
    and ``target``, read twice: a materialised one): the window of :func:`_with_previous` over the
    deployments of their targets only, which are all it looks at. ``d`` holds one environment's
    deployments, or an ``environment`` column."""
    t = cand.select(c_target="target").distinct()
    d = d.semi_join(t, d.target == t.c_target)
    d = _with_previous(d)
    return d.select(p_dep="deployment_id", prev_success_sha="prev_success_sha")


def derivation_candidates(con, deps: ir.Table, key=None) -> ir.Table:
    """The successful deployments whose commits :func:`deployment_commits` derives: no stored
    rows, and a sha that names a known commit (of their repo, or the new commit of a
    ``commits_diffs`` row when the backend holds that table).

    Columns: ``deployment_id``, ``repo_id``, ``target``, ``sha`` (as ``key`` maps it) and ``hi``
    (the commit's time; NULL with ``commits_diffs``). ``deps`` is :func:`deployments`. When
    ``deps`` carries the stored keys (:func:`stored_keys`), ``sha`` is the commit's :func:`id_key`
    and ``deployment_id_key`` the deployment's stored key.
    """
    keyed = _keyed(con, deps)
    k = id_key if keyed else key or (lambda sha: sha)
    kept = ["deployment_id_key"] if keyed else []
    have = con.table("deployment_commits").select(h_dep=kept[0] if keyed else "deployment_id")
    need = deps.filter((deps.result == "success") & deps.sha.notnull())
    need = need.select("deployment_id", "repo_id", "target", "sha", *kept)
    if keyed:
        # on keys, the deployments without stored rows first: the distinct stored keys (one per
        # deployment with rows) are the build side, and the commits are then joined with the
        # deployments left only. At 10,000 teams (10.6M of 22M successes without rows, none
        # naming a known commit) this step took 7.2-9.5 s against 8.2-9.9 s for the commits
        # first, and `ctssw metrics` 58.1-60.7 s against 60.5-60.9 s (three runs each,
        # interleaved); where every deployment has rows, the join with the commits has nothing
        # to build
        stored = have.distinct()
        need = need.anti_join(stored, need.deployment_id_key == stored.h_dep)
    # on strings, the deployments whose sha names a known commit first, then those without stored
    # rows: the anti-join then probes the stored rows with the few candidates instead of every
    # deployment. Every commit probes this join once, so it compares the strings: hashing each
    # into a key first cost more (at 10,000 teams 8.3, 6.3 s against 7.1, 5.3 s)
    if _has_table(con, "commits_diffs"):
        cd = con.table("commits_diffs")
        cand = need.semi_join(cd, need.sha == cd.new_commit_sha).mutate(hi=ibis.null("timestamp"))
    else:
        c = con.table("commits")
        c = c.select("repo_id", c_sha="sha", at="committed_at")
        cand = need.join(c, [need.repo_id == c.repo_id, need.sha == c.c_sha])
        cand = cand.select("deployment_id", "repo_id", "target", "sha", *kept, hi="at")
    cand = cand.mutate(sha=k(cand.sha))
    return cand if keyed else cand.anti_join(have, cand.deployment_id == have.h_dep)


def deployment_commits(
    con, environment: str = "production", *, deps: ir.Table | None = None, key=None,
    candidates: ir.Table | None = None, derive: bool = True,
) -> ir.Table:
    """(deployment_id, sha) for every successful deployment: stored rows, else derived ones.

    ``deps`` is :func:`deployments` for ``environment`` (with or without the previous
    successes) when the caller already holds it; ``key`` maps a sha to what the rows carry and
    join on instead (:func:`sha_key`). ``candidates`` is :func:`derivation_candidates` when the
    caller materialised it: then only their targets' previous successes are looked for;
    ``derive=False`` (the caller found none) leaves the derivation out.
    The store keeps one row per (deployment_id, sha), its key, and only deployments
    without stored rows are derived, so the two parts never overlap: a plain union,
    with only the (small) derived part made distinct.
    """
    k = key or (lambda sha: sha)
    stored = con.table("deployment_commits")
    stored = stored.select("deployment_id", sha=k(stored.sha))
    if not derive:
        return stored
    return stored.union(_derived_commits(con, environment, deps=deps, key=key, candidates=candidates, keyed=False))


def _derived_commits(
    con, environment: str, *, deps: ir.Table | None, key, candidates: ir.Table | None, keyed: bool,
) -> ir.Table:
    """The derived part of :func:`deployment_commits` (distinct rows). ``keyed``: the rows are the
    deployment's stored key and the commit's :func:`id_key`, and ``deps`` and ``candidates`` carry
    the deployments' stored keys."""
    k = id_key if keyed else key or (lambda sha: sha)
    d = deps if deps is not None else deployments(con, environment, previous=not keyed, keys=keyed)
    if keyed or candidates is not None:
        cand = candidates if candidates is not None else derivation_candidates(con, d, k)
        prev = _previous_sha(d, cand)
    else:  # read once: the previous successes of every deployment instead of the candidates'
        cand = derivation_candidates(con, d, k)
        d = d if "prev_success_sha" in d.columns else _with_previous(d)
        prev = d.select(p_dep="deployment_id", prev_success_sha="prev_success_sha")
    cand = cand.left_join(prev, cand.deployment_id == prev.p_dep)
    cand = cand.mutate(prev_success_sha=k(cand.prev_success_sha))
    if _has_table(con, "commits_diffs"):
        cd = con.table("commits_diffs")
        cd = cd.select(new_commit_sha=k(cd.new_commit_sha), old_commit_sha=k(cd.old_commit_sha), commit_sha=k(cd.commit_sha))
        j = cand.join(
            cd,
            [cand.sha == cd.new_commit_sha,
             cand.prev_success_sha.isnull() | (cd.old_commit_sha == cand.prev_success_sha)],
        )
        derived = j.select("deployment_id", sha=j.commit_sha)
    else:
        c2 = con.table("commits")
        c2 = c2.select(lo_repo="repo_id", lo_sha=k(c2.sha), lo="committed_at")
        hi = cand.left_join(c2, [cand.repo_id == c2.lo_repo, cand.prev_success_sha == c2.lo_sha])
        c3 = con.table("commits")
        c3 = c3.select(r3="repo_id", c3_sha=k(c3.sha), at="committed_at")
        j = hi.join(c3, [hi.repo_id == c3.r3, c3.at <= hi.hi, hi.lo.isnull() | (c3.at > hi.lo)])
        derived = j.select(deployment_id=j.deployment_id_key if keyed else j.deployment_id, sha=j.c3_sha)
    return derived.distinct()


def _merged_changes(con, keyed: bool = False) -> ir.Table:
    """Merged changes with their team; ``keyed`` adds ``m_key``, the merge commit's stored key."""
    ch = con.table("changes")
    rp = con.table("repos").select(rp_id="repo_id", repo_team="team_id")
    ch = ch.filter(ch.merged_at.notnull()).left_join(rp, ch.repo_id == rp.rp_id)
    return ch.select(
        "change_id", "repo_id", "created_at", "merged_at", "merge_sha", "first_commit_at", "first_review_at",
        "first_commit_sha", "first_review_id",
        *([ch.merge_sha_key.name("m_key")] if keyed else []),
        team_id=ibis.coalesce(ch.team_id, ch.repo_team),
    )


def shipped_merges(
    con, environment: str = "production", *, rule: str = "default", deps: ir.Table | None = None,
    candidates: ir.Table | None = None, derive: bool = True,
) -> ir.Table:
    """(sha, deployment_id, deployed_at): each successful, non-rollback deployment of a change's
    merge commit (the rows :func:`change_deployments` picks the first of), the commit as its
    stored key where :func:`stored_keys` holds and ``deps`` carries them, else as its
    :func:`sha_key`. ``candidates`` and ``derive`` are as for :func:`deployment_commits`."""
    keyed = _keyed(con, deps)
    d = deps if deps is not None else deployments(con, environment, keys=keyed)
    ch = con.table("changes")
    merged = ch.filter(ch.merged_at.notnull() & ch.merge_sha.notnull())
    dc = con.table("deployment_commits")
    # a semi-join keeps each row once however many changes share the merge commit: no DISTINCT needed
    if keyed:
        k = None
        merges = merged.select(m_sha="merge_sha_key")
        dc = dc.select(deployment_id="deployment_id_key", sha="sha_key")
        dc = dc.semi_join(merges, dc.sha == merges.m_sha)
    else:
        # The stored rows meet the merge commits on the sha strings and only the rows kept get a
        # key: at 10,000 teams (80M stored rows, 29M kept) this step took 7.4-7.8 s against
        # 8.9-10.6 s keying every stored row first, and `ctssw metrics` 56.2-57.3 s against
        # 57.4-58.2 s (peak memory 12.3 GiB against 11.6: the strings of the merge commits are
        # held instead of keys)
        k = sha_key(con)
        merges = merged.select(m_sha="merge_sha")
        dc = dc.select("deployment_id", "sha")
        dc = dc.semi_join(merges, dc.sha == merges.m_sha)
        dc = dc.mutate(sha=k(dc.sha))
        merges = merges.select(m_sha=k(merges.m_sha))
    if derive:  # the derived rows carry keys already (the candidates' shas are keys)
        dv = _derived_commits(con, environment, deps=d, key=k, candidates=candidates, keyed=keyed)
        dc = dc.union(dv.semi_join(merges, dv.sha == merges.m_sha))
    if rule == "devlake":  # DevLake ships nothing with a target's first successful deployment
        d = d if "prev_success_deployment_id" in d.columns else _with_previous(d)
        d = d.filter(d.prev_success_deployment_id.notnull())
    d = d.filter(d.ok)
    d = d.select(d_id=d.deployment_id_key if keyed else d.deployment_id, d_name=d.deployment_id, d_fin=d.finished_at)
    return dc.join(d, dc.deployment_id == d.d_id).select("sha", deployment_id="d_name", deployed_at="d_fin")


def change_deployments(
    con, environment: str = "production", *, rule: str = "default", deps: ir.Table | None = None,
    shipped: ir.Table | None = None,
) -> ir.Table:
    """Merged changes with the first successful production deployment that shipped them.

    One row per merged change. ``deployment_id`` and ``deployed_at`` are NULL when
    the change has not reached production. ``team_id`` is the change's team (its
    repo's owner when the change names none). ``deps`` (:func:`deployments`) and
    ``shipped`` (:func:`shipped_merges`) are for a caller that already holds them.
    """
    s = shipped if shipped is not None else shipped_merges(con, environment, rule=rule, deps=deps)
    keyed = s.sha.type().is_integer()  # the merge commits as stored keys (64-bit; sha_key's are decimals)
    ch = _merged_changes(con, keyed)
    # the first by (finish time, id) per merge commit: one grouping, the least (finish, id) pair
    # as the key of arg_min. At 10,000 teams the change facts took 7.8-8.2 s this way against
    # 9.0-9.2 s for the earliest finish, the latest and the least id, with the commits whose
    # deployments finished at different times joined back to break the ties
    s = s.filter(s.deployed_at.notnull())
    first = s.group_by(f_sha="sha").aggregate(
        deployment_id=s.deployment_id.argmin(ibis.struct({"f": s.deployed_at, "id": s.deployment_id})),
        deployed_at=s.deployed_at.min(),
    )
    if keyed:
        return ch.left_join(first, ch.m_key == first.f_sha).drop("f_sha", "m_key")
    return ch.left_join(first, sha_key(con)(ch.merge_sha) == first.f_sha).drop("f_sha")


def incident_deployments(
    con, *, window_hours: float | None = None, environment: str = "production", rule: str = "default",
    deps: ir.Table | None = None,
) -> ir.Table:
    """Incidents with the deployment they are attributed to (NULL when none qualifies).

    Columns: incident_id, team_id, service_id, created_at, resolved_at, deployment_id,
    attributed_by ("source" when the incident named it, "latest_before" otherwise).
    ``rule="devlake"`` looks at every deployment of the incident's team (DevLake's
    project) and ignores a deployment named by the source. ``deps`` is
    :func:`deployments` for ``environment`` when the caller already holds it.
    """
    inc = con.table("incidents")
    sv = con.table("services").select(svc_id="service_id", svc_team="team_id")
    inc = inc.left_join(sv, inc.service_id == sv.svc_id)
    inc = inc.select(
        "incident_id", "service_id", "created_at", "resolved_at",
        given="deployment_id",
        team_id=ibis.coalesce(inc.team_id, inc.svc_team),
    )
    if rule == "devlake":
        inc = inc.mutate(target="team:" + inc.team_id, given=ibis.null("string"))
    else:
        inc = inc.mutate(target=ibis.coalesce(inc.service_id, "team:" + inc.team_id))
    d = deps if deps is not None else deployments(con, environment)
    d = d.filter(d.result == "success")
    # only the targets some incident looks at: the others' deployments could never be attributed
    seen = inc.select(s_target="target").distinct()
    by_service = d.select("target", "finished_at", "deployment_id")
    by_service = by_service.semi_join(seen, by_service.target == seen.s_target)
    by_team = d.filter(d.team_id.notnull()).select(target="team:" + d.team_id, finished_at=d.finished_at, deployment_id=d.deployment_id)
    by_team = by_team.semi_join(seen, by_team.target == seen.s_target)
    # duplicates (a deployment seen by its service and by its team) change no maximum below
    deps = by_service.union(by_team)
    j = _asof_latest(inc, deps) if _asof(con) else _latest_before(inc, deps)
    within = j.l_dep.notnull()
    if window_hours is not None:
        within = within & (j.last_fin >= j.created_at.cast("timestamp") - ibis.interval(seconds=int(window_hours * 3600)))
    found = ibis.ifelse(within, j.l_dep, ibis.null("string"))
    return j.select(
        "incident_id", "team_id", "service_id", "created_at", "resolved_at",
        deployment_id=ibis.coalesce(j.given, found),
        attributed_by=ibis.cases(
            (j.given.notnull(), "source"), (found.notnull(), "latest_before"), else_=ibis.null("string")
        ),
    )


def _asof(con) -> bool:
    """Whether the backend runs Ibis's as-of join (DuckDB does; Spark SQL has none)."""
    return on_duckdb(con)


def _asof_latest(inc: ir.Table, deps: ir.Table) -> ir.Table:
    """Every incident with ``last_fin`` and ``l_dep`` by an as-of join: the greatest (finish,
    deployment id) of its target strictly before (created_at, ""), which is the last finish strictly
    before the incident and, of the deployments that finished then, the greatest id (both NULL when
    none qualifies).

    Ordering by the pair makes the ties part of the join: grouping every deployment by (target,
    finish) first to break them cost more than the join itself at 10,000 teams (20M groups). The
    join is a left one and carries the incident's columns, so nothing is joined back.
    """
    d = deps.filter(deps.finished_at.notnull())
    d = d.select(d_target="target", k=ibis.struct({"f": d.finished_at.cast("timestamp"), "id": d.deployment_id}))
    probe = ibis.struct({"f": inc.created_at.cast("timestamp"), "id": ibis.literal("")})
    i = inc.mutate(ek=ibis.ifelse(inc.created_at.notnull(), probe, ibis.null(probe.type())))
    m = i.asof_join(d, on=i.ek > d.k, predicates=[i.target == d.d_target])
    return m.select(*inc.columns, last_fin=m.k["f"], l_dep=m.k["id"])


def _latest_before(inc: ir.Table, deps: ir.Table) -> ir.Table:
    """Every incident with ``last_fin`` and ``l_dep``: the last finish strictly before it on its
    target, and the greatest deployment id that finished then, from one time-ordered stream per
    target (for backends without an as-of join)."""
    latest = deps.group_by(["target", "finished_at"]).aggregate(l_dep=deps.deployment_id.max())
    latest = latest.select("target", "l_dep", last_fin=latest.finished_at.cast("timestamp"))
    ev_d = deps.select("target", ts=deps.finished_at, kind=ibis.literal(1), fin=deps.finished_at, incident_id=ibis.null("string"))
    ev_i = inc.select("target", ts=inc.created_at, kind=ibis.literal(0), fin=ibis.null("timestamp"), incident_id=inc.incident_id)
    ev_d = ev_d.mutate(fin=ev_d.fin.cast("timestamp"), ts=ev_d.ts.cast("timestamp"))
    ev_i = ev_i.mutate(fin=ev_i.fin.cast("timestamp"), ts=ev_i.ts.cast("timestamp"))
    ev = ev_d.union(ev_i)
    # deployments sort after an incident at the same instant, so it sees only earlier ones
    w = ibis.window(group_by=ev.target, order_by=[ev.ts, ev.kind], preceding=None, following=0)
    ev = ev.mutate(last_fin=ev.fin.max().over(w)).filter(lambda t: t.kind == 0)
    ev = ev.select(e_id="incident_id", e_target="target", last_fin="last_fin")
    m = ev.left_join(latest, [ev.e_target == latest.target, ev.last_fin == latest.last_fin])
    m = m.select("e_id", "last_fin", "l_dep")
    j = inc.left_join(m, inc.incident_id == m.e_id)
    return j.select(*inc.columns, "last_fin", "l_dep")
