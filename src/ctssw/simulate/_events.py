"""Expand a simulated block of teams into canonical rows (DESIGN §2).

Person columns carry raw identities (emails, tool logins), as real exports do;
the store pseudonymises them at the door. All timestamps are UTC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._dgp import ARCHITECTURES, LICENSE_PER_SEAT_MONTH, TOOL, Block, SimConfig

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_US_PER_DAY = 86_400_000_000
_US_PER_HOUR = 3_600_000_000
UTC_US = pa.timestamp("us", tz="UTC")


def _ids(prefix: str, numbers: np.ndarray, width: int = 6) -> pa.Array:
    s = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


def _shas(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    chars = np.empty((n, 40), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    arr = pa.array(chars.view("S40").ravel())
    if isinstance(arr, pa.ChunkedArray):  # pyarrow splits large fixed-width inputs
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def _ts(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(us.astype("datetime64[us]"), type=pa.timestamp("us"), mask=mask).cast(UTC_US)


def team_ids(numbers: np.ndarray) -> pa.Array:
    return _ids("team-", numbers, 5)


def emails(builder_no: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(_ids("dev", builder_no), pa.scalar("@example.com"), "")


def logins(builder_no: np.ndarray) -> pa.Array:
    return _ids("gh-dev", builder_no)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Team and week index of each event, for a (teams, weeks) count matrix."""
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return np.divmod(flat, counts.shape[1])


def _week_us(cfg: SimConfig, week: np.ndarray) -> np.ndarray:
    start = np.datetime64(cfg.start, "us").astype(np.int64)
    return start + week.astype(np.int64) * 7 * _US_PER_DAY


def _working_time(rng: np.random.Generator, cfg: SimConfig, week: np.ndarray) -> np.ndarray:
    """A moment in working hours (Mon-Fri 08:00-18:00 UTC) of the given weeks."""
    day = rng.integers(0, 5, size=week.size)
    hour = rng.uniform(8, 18, size=week.size)
    return _week_us(cfg, week) + day * _US_PER_DAY + (hour * _US_PER_HOUR).astype(np.int64)


class Expander:
    """Turns blocks into tables; keeps the counters that make ids unique."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.n_change = 0
        self.n_deploy = 0
        self.n_incident = 0
        self.n_page = 0

    def tables(self, blk: Block, block_no: int) -> dict[str, pa.Table]:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, block_no, 1])
        out: dict[str, pa.Table] = {}
        n, W = blk.fte.shape
        tid = team_ids(blk.team_index)
        orgs = blk.team_index // 10
        out["teams"] = pa.table(
            {
                "team_id": pa.concat_arrays([tid, _ids("org-", np.unique(orgs), 4)]),
                "name": pa.concat_arrays(
                    [
                        pc.binary_join_element_wise(pa.scalar("Team "), pa.array(blk.team_index.astype(str)), ""),
                        pc.binary_join_element_wise(pa.scalar("Org "), pa.array(np.unique(orgs).astype(str)), ""),
                    ]
                ),
                "parent_id": pa.concat_arrays([_ids("org-", orgs, 4), pa.nulls(np.unique(orgs).size, pa.string())]),
                "architecture": pa.concat_arrays(
                    [
                        pa.array(np.array(ARCHITECTURES)[blk.architecture]),
                        pa.nulls(np.unique(orgs).size, pa.string()),
                    ]
                ),
                "unit_of_software": pa.nulls(n + np.unique(orgs).size, pa.string()),
            }
        )

        # services and repos: one repo per service
        svc_team = np.repeat(np.arange(n), blk.n_services)
        svc_no = np.concatenate([np.arange(k) for k in blk.n_services])
        svc_ids = pc.binary_join_element_wise(
            pc.take(tid, pa.array(svc_team)), pa.array(svc_no.astype(str)), "-svc"
        )
        svc_start = np.concatenate([[0], np.cumsum(blk.n_services)[:-1]])
        out["repos"] = pa.table(
            {"repo_id": svc_ids, "team_id": pc.take(tid, pa.array(svc_team)), "name": svc_ids}
        )
        out["services"] = pa.table(
            {"service_id": svc_ids, "team_id": pc.take(tid, pa.array(svc_team)), "repo_id": svc_ids}
        )

        out["memberships"], out["identities"] = self._people(blk, tid)
        slot_start = np.concatenate([[0], np.cumsum(np.bincount(blk.slot_team, minlength=n))[:-1]])
        size = np.bincount(blk.slot_team, minlength=n)

        def member(team: np.ndarray, week: np.ndarray) -> np.ndarray:
            slot = slot_start[team] + (rng.random(team.size) * size[team]).astype(np.int64)
            return blk.builder_no[slot, week]

        # --- changes and their commits -------------------------------------------------
        ct, cw = _expand(blk.changes)
        m = ct.size
        c_svc = svc_start[ct] + (rng.random(m) * blk.n_services[ct]).astype(np.int64)
        merged = _working_time(rng, cfg, cw)
        created = merged - (rng.lognormal(np.log(20), 0.9, m) * _US_PER_HOUR).astype(np.int64)
        first_commit = created - (rng.lognormal(np.log(16), 1.0, m) * _US_PER_HOUR).astype(np.int64)
        first_review = created + ((merged - created) * rng.uniform(0.1, 0.6, m)).astype(np.int64)
        no_review = rng.random(m) < 0.05
        author = member(ct, cw)
        adds = rng.lognormal(3.5, 1.2, m).astype(np.int64)
        dels = (adds * rng.uniform(0, 0.6, m)).astype(np.int64)
        merge_sha = _shas(rng, m)
        change_no = self.n_change + np.arange(m)
        self.n_change += m

        ot, ow = _expand(blk.open_changes)
        k = ot.size
        o_svc = svc_start[ot] + (rng.random(k) * blk.n_services[ot]).astype(np.int64)
        o_created = _working_time(rng, cfg, ow)
        o_closed = rng.random(k) < 0.5
        o_no = self.n_change + np.arange(k)
        self.n_change += k
        o_adds = rng.lognormal(3.0, 1.2, k).astype(np.int64)
        out["changes"] = pa.table(
            {
                "change_id": pc.binary_join_element_wise(
                    pc.take(svc_ids, pa.array(np.concatenate([c_svc, o_svc]))),
                    pa.array(np.concatenate([change_no, o_no]).astype(str)),
                    "#",
                ),
                "repo_id": pc.take(svc_ids, pa.array(np.concatenate([c_svc, o_svc]))),
                "author": emails(np.concatenate([author, member(ot, ow)])),
                "created_at": _ts(np.concatenate([created, o_created])),
                "merged_at": pa.concat_arrays([_ts(merged), pa.nulls(k, UTC_US)]),
                "closed_at": _ts(
                    np.concatenate([merged, o_created + 48 * _US_PER_HOUR]),
                    mask=np.concatenate([np.zeros(m, bool), ~o_closed]),
                ),
                "merge_sha": pa.concat_arrays([merge_sha, pa.nulls(k, pa.string())]),
                "first_commit_at": _ts(np.concatenate([first_commit, o_created - 3 * _US_PER_HOUR])),
                "first_review_at": _ts(
                    np.concatenate([first_review, o_created]),
                    mask=np.concatenate([no_review, np.ones(k, bool)]),
                ),
                "additions": pa.array(np.concatenate([adds, o_adds])),
                "deletions": pa.array(np.concatenate([dels, (o_adds * 0.3).astype(np.int64)])),
            }
        )

        # authored commits (1 + Poisson(0.8) per merged change) plus the merge commit
        per = 1 + rng.poisson(0.8, m)
        owner = np.repeat(np.arange(m), per)
        frac = rng.random(owner.size)
        authored = first_commit[owner] + ((created[owner] - first_commit[owner]) * frac).astype(np.int64)
        a_adds = (adds[owner] / per[owner]).astype(np.int64)
        a_sha = _shas(rng, owner.size)
        commit_change = np.concatenate([owner, np.arange(m)])
        out["commits"] = pa.table(
            {
                "repo_id": pc.take(svc_ids, pa.array(c_svc[commit_change])),
                "sha": pa.concat_arrays([a_sha, merge_sha]),
                "author": emails(author[commit_change]),
                "authored_at": _ts(np.concatenate([authored, merged])),
                "committed_at": _ts(np.concatenate([authored, merged])),
                "additions": pa.array(np.concatenate([a_adds, np.zeros(m, np.int64)])),
                "deletions": pa.array(np.concatenate([(dels[owner] / per[owner]).astype(np.int64), np.zeros(m, np.int64)])),
                "is_merge": pa.array(np.concatenate([np.zeros(owner.size, bool), np.ones(m, bool)])),
                "parents": pa.array(np.concatenate([np.ones(owner.size, np.int64), np.full(m, 2, np.int64)])),
            }
        )

        # --- deployments --------------------------------------------------------------------
        kinds = {
            "ok": blk.deployments,
            "rollback": blk.rollbacks,
            "failed": blk.failed,
            "staging": blk.staging,
        }
        parts = []
        for kind, cnt in kinds.items():
            dt_, dw = _expand(cnt)
            parts.append((kind, dt_, dw))
        d_team = np.concatenate([p[1] for p in parts])
        d_week = np.concatenate([p[2] for p in parts])
        d_kind = np.concatenate([np.full(p[1].size, i) for i, p in enumerate(parts)])
        nd = d_team.size
        d_svc = svc_start[d_team] + (rng.random(nd) * blk.n_services[d_team]).astype(np.int64)
        d_start = _working_time(rng, cfg, d_week)
        d_finish = d_start + (rng.lognormal(np.log(25), 0.5, nd) * 60_000_000).astype(np.int64)
        # Keep each deployment inside its week so the week of the finish is the simulated week.
        week_end = _week_us(cfg, d_week + 1) - 1
        d_finish = np.minimum(d_finish, week_end)
        # interventions: spread each team-week's count over its successful production deployments
        interventions = np.zeros(nd, np.int64)
        ok = d_kind == 0
        ok_idx = np.flatnonzero(ok)
        iv_t, iv_w = _expand(blk.interventions)
        if iv_t.size:
            key_ok = d_team[ok_idx] * W + d_week[ok_idx]
            order = np.argsort(key_ok, kind="stable")
            sorted_keys = key_ok[order]
            lo = np.searchsorted(sorted_keys, iv_t * W + iv_w, side="left")
            hi = np.searchsorted(sorted_keys, iv_t * W + iv_w, side="right")
            pick = lo + (rng.random(iv_t.size) * (hi - lo)).astype(np.int64)
            np.add.at(interventions, ok_idx[order[pick]], 1)
        dep_no = self.n_deploy + np.arange(nd)
        self.n_deploy += nd
        dep_ids = _ids("dep-", dep_no, 8)

        # ship each merged change with the first successful production deploy of its
        # service that finished after the merge
        prod_ok = np.flatnonzero(ok)
        key = d_svc[prod_ok].astype(np.float64) * 1e16 + d_finish[prod_ok]
        order = np.argsort(key)
        skey = key[order]
        ckey = c_svc.astype(np.float64) * 1e16 + merged
        pos = np.searchsorted(skey, ckey, side="left")
        valid = pos < skey.size
        target = np.full(m, -1)
        target[valid] = prod_ok[order[np.minimum(pos[valid], skey.size - 1)]]
        shipped = target >= 0
        shipped &= d_svc[np.maximum(target, 0)] == c_svc
        target[~shipped] = -1
        d_sha = _shas(rng, nd)
        # a deployment's sha is the merge commit of the newest change it shipped
        last_change = np.full(nd, -1)
        if shipped.any():
            idx = np.flatnonzero(shipped)
            np.maximum.at(last_change, target[idx], idx)
        has = last_change >= 0
        d_sha = pc.if_else(pa.array(has), pc.take(merge_sha, pa.array(np.maximum(last_change, 0))), d_sha)
        out["deployments"] = pa.table(
            {
                "deployment_id": dep_ids,
                "service_id": pc.take(svc_ids, pa.array(d_svc)),
                "repo_id": pc.take(svc_ids, pa.array(d_svc)),
                "environment": pa.array(np.where(d_kind == 3, "staging", "production")),
                "started_at": _ts(d_start),
                "finished_at": _ts(d_finish),
                "result": pa.array(np.where(d_kind == 2, "failure", "success")),
                "is_rollback": pa.array(d_kind == 1),
                "manual_interventions": pa.array(interventions),
                "sha": d_sha,
            }
        )
        sc = commit_change[shipped[commit_change]]
        shipped_rows = np.flatnonzero(shipped[commit_change])
        out["deployment_commits"] = pa.table(
            {
                "deployment_id": pc.take(dep_ids, pa.array(target[sc])),
                "sha": pc.take(out["commits"]["sha"], pa.array(shipped_rows)),
                "repo_id": pc.take(svc_ids, pa.array(c_svc[sc])),
            }
        )

        # --- incidents and pages --------------------------------------------------------------
        it, iw = _expand(blk.incidents)
        ni = it.size
        inc_no = self.n_incident + np.arange(ni)
        self.n_incident += ni
        inc_ids = _ids("inc-", inc_no, 8)
        # incidents arrive at any hour; pages follow within minutes
        inc_at = _week_us(cfg, iw) + (rng.random(ni) * 7 * _US_PER_DAY).astype(np.int64)
        resolved = inc_at + (rng.lognormal(np.log(90), 0.8, ni) * 60_000_000).astype(np.int64)
        i_svc = svc_start[it] + (rng.random(ni) * blk.n_services[it]).astype(np.int64)
        out["incidents"] = pa.table(
            {
                "incident_id": inc_ids,
                "team_id": pc.take(tid, pa.array(it)),
                "service_id": pc.take(svc_ids, pa.array(i_svc)),
                "created_at": _ts(inc_at),
                "resolved_at": _ts(resolved),
                "severity": pa.array(np.array(["sev1", "sev2", "sev3"])[rng.choice(3, ni, p=[0.1, 0.3, 0.6])]),
                "deployment_id": pa.nulls(ni, pa.string()),
            }
        )
        extra = blk.pages - blk.incidents
        # every incident pages once; extra pages re-page incidents of the same team-week
        et, ew = _expand(extra)
        ikey = it * W + iw
        lo = np.searchsorted(ikey, et * W + ew, side="left")
        hi = np.searchsorted(ikey, et * W + ew, side="right")
        extra_inc = lo + (rng.random(et.size) * (hi - lo)).astype(np.int64)
        p_inc = np.concatenate([np.arange(ni), extra_inc])
        p_team = it[p_inc]
        p_week = iw[p_inc]
        p_at = np.minimum(inc_at[p_inc] + (rng.random(p_inc.size) * 30 * 60_000_000).astype(np.int64), _week_us(cfg, p_week + 1) - 1)
        oncall_slots = np.flatnonzero(blk.slot_oncall)
        oc_count = np.bincount(blk.slot_team[oncall_slots], minlength=n)
        oc_start = np.concatenate([[0], np.cumsum(oc_count)[:-1]])
        pslot = oncall_slots[oc_start[p_team] + (rng.random(p_inc.size) * oc_count[p_team]).astype(np.int64)]
        np_ = p_inc.size
        page_no = self.n_page + np.arange(np_)
        self.n_page += np_
        hour = (p_at % _US_PER_DAY) / _US_PER_HOUR
        dow = ((p_at // _US_PER_DAY) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        out["pages"] = pa.table(
            {
                "page_id": _ids("page-", page_no, 9),
                "team_id": pc.take(tid, pa.array(p_team)),
                "builder": emails(blk.builder_no[pslot, p_week]),
                "triggered_at": _ts(p_at),
                "incident_id": pc.take(inc_ids, pa.array(p_inc)),
                "off_hours": pa.array((hour < 8) | (hour >= 18) | (dow >= 5)),
            }
        )

        # --- AI assistant usage (daily, by tool login) -------------------------------------------
        s_idx, w_idx = np.nonzero(blk.active_ai)
        days = 1 + rng.binomial(4, 0.7, size=s_idx.size)
        rows = np.repeat(np.arange(s_idx.size), days)
        within = np.arange(rows.size) - np.repeat(np.cumsum(days) - days, days)
        day_us = _week_us(cfg, w_idx[rows]) + within * _US_PER_DAY
        out["tool_usage"] = pa.table(
            {
                "builder": logins(blk.builder_no[s_idx[rows], w_idx[rows]]),
                "tool": pa.array(np.full(rows.size, TOOL)),
                "day": pa.array(day_us.astype("datetime64[us]").astype("datetime64[D]")),
                "active": pa.array(np.ones(rows.size, bool)),
                "events": pa.array(rng.poisson(25, rows.size)),
                "accepted_lines": pa.array(rng.poisson(30, rows.size)),
            }
        )

        # --- licence costs: seats held each week --------------------------------------------------
        lt, lw = np.nonzero(blk.seats)
        weekly_seat = LICENSE_PER_SEAT_MONTH * 12 / 52
        out["costs"] = pa.table(
            {
                "scope": pa.array(np.full(lt.size, "team")),
                "scope_id": pc.take(tid, pa.array(lt)),
                "kind": pa.array(np.full(lt.size, "license")),
                "period_start": pa.array(_week_us(cfg, lw).astype("datetime64[us]").astype("datetime64[D]")),
                "amount": pa.array(np.round(blk.seats[lt, lw] * weekly_seat, 2)),
                "currency": pa.array(np.full(lt.size, "USD")),
                "tool": pa.array(np.full(lt.size, TOOL)),
            }
        )
        if blk.tools:
            self._extra_tool_rows(blk, block_no, tid, out)
        return out

    def _extra_tool_rows(self, blk: Block, block_no: int, tid: pa.Array, out: dict[str, pa.Table]) -> None:
        """Usage rows of the extra tools, from their own random stream.

        Their licences are not written (the simulated organisations keep the
        assistant's licence as their only tool cost); ``truth.json`` gives their
        seat price, for ``--license``.
        """
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, block_no, 2])
        usage = [out["tool_usage"]]
        for name, tool in blk.tools.items():
            s_idx, w_idx = np.nonzero(tool["slot_active"])
            days = 1 + rng.binomial(4, 0.7, size=s_idx.size)
            rows = np.repeat(np.arange(s_idx.size), days)
            within = np.arange(rows.size) - np.repeat(np.cumsum(days) - days, days)
            day_us = _week_us(cfg, w_idx[rows]) + within * _US_PER_DAY
            usage.append(pa.table({
                "builder": logins(blk.builder_no[s_idx[rows], w_idx[rows]]),
                "tool": pa.array(np.full(rows.size, name)),
                "day": pa.array(day_us.astype("datetime64[us]").astype("datetime64[D]")),
                "active": pa.array(np.ones(rows.size, bool)),
                "events": pa.array(rng.poisson(25, rows.size)),
                "accepted_lines": pa.array(rng.poisson(30, rows.size)),
            }))
        out["tool_usage"] = pa.concat_tables(usage)

    def _people(self, blk: Block, tid: pa.Array) -> tuple[pa.Table, pa.Table]:
        """One membership row per occupant spell, and each builder's tool login."""
        cfg = self.cfg
        s, W = blk.builder_no.shape
        change = np.ones((s, W), bool)
        change[:, 1:] = blk.builder_no[:, 1:] != blk.builder_no[:, :-1]
        slot, start_w = np.nonzero(change)
        # the spell ends the week before the next occupant starts (or stays open)
        nxt = np.empty_like(start_w)
        same_slot_next = np.r_[slot[1:] == slot[:-1], False]
        nxt[:-1] = start_w[1:]
        end_w = np.where(same_slot_next, nxt - 1, -1)
        start = np.datetime64(cfg.start, "D") + start_w * 7
        end = np.datetime64(cfg.start, "D") + end_w * 7 + 6
        b = blk.builder_no[slot, start_w]
        memberships = pa.table(
            {
                "builder": emails(b),
                "team_id": pc.take(tid, pa.array(blk.slot_team[slot])),
                "start": pa.array(start),
                "end": pa.array(end, mask=end_w < 0),
                "fte": pa.array(blk.slot_fte[slot, start_w]),
                "oncall": pa.array(blk.slot_oncall[slot]),
            }
        )
        identities = pa.table(
            {
                "kind": pa.array(np.full(b.size, "login")),
                "value": logins(b),
                "builder": emails(b),
            }
        )
        return memberships, identities


def horizon(cfg: SimConfig) -> tuple[dt.date, dt.date]:
    return cfg.start, cfg.start + dt.timedelta(weeks=cfg.weeks) - dt.timedelta(days=1)
