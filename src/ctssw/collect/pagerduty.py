"""``ctssw collect pagerduty``: incidents with their log entries, and on-call shifts, incrementally.

- Incidents created since the watermark (``GET /incidents?since=&until=``, in windows of at most
  179 days, PagerDuty's limit), plus every cached incident not yet resolved, each cached with its
  log entries as ``incidents/<id>.json`` (``{"incidents": [...]}``) and, when it has any,
  ``log_entries/<id>.json`` (``{"log_entries": [...]}``), the layouts the pagerduty connector reads.
- On-call shifts (``GET /oncalls?since=&until=``) for the same windows, cached as
  ``oncalls/<from>.json`` (the pagerduty connector does not read them).

Pagination is PagerDuty's classic ``limit`` / ``offset`` / ``more``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from ..errors import CtsswError
from ..store import Store
from ._base import Result, Run, Tick, check_common, token_from
from ._http import CollectError

__all__ = ["collect_pagerduty"]

WINDOW = dt.timedelta(days=179)


def _offset_pages(run: Run, path: str, key: str, params: dict) -> Iterator[dict]:
    offset = 0
    while True:
        page = run.client.get(path, params={**params, "limit": 100, "offset": offset})
        data = page.data if isinstance(page.data, dict) else {}
        items = data.get(key)
        if not isinstance(items, list):
            raise CollectError(f"pagerduty: {path}: expected a {key!r} list")
        yield from (x for x in items if isinstance(x, dict))
        if not data.get("more") or not items:
            return
        offset += len(items)


def _windows(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[str, str]]:
    while start < end:
        stop = min(start + WINDOW, end)
        yield start.strftime("%Y-%m-%dT%H:%M:%SZ"), stop.strftime("%Y-%m-%dT%H:%M:%SZ")
        start = stop


def collect_pagerduty(
    store: Store,
    *,
    since: str,
    cache: str | Path = "ctssw-cache",
    token_env: str = "PAGERDUTY_TOKEN",
    token_file: str | Path | None = None,
    api_url: str = "https://api.pagerduty.com",
    oncalls: bool = True,
    team_map: list[str] | None = None,
    tz: str = "UTC",
    workday: tuple[int, int] = (9, 18),
    timeout: float = 30.0,
    retries: int = 5,
    max_wait: float = 900.0,
    progress: Tick | None = None,
    _client: dict | None = None,
    _now: dt.datetime | None = None,
) -> Result:
    """Collect PagerDuty incidents, log entries and on-call shifts into ``cache``; ingest them into ``store``.

    Parameters
    ----------
    since : str
        YYYY-MM-DD: the first run's start; later runs start from the newest incident seen.
    token_env, token_file
        Where the REST API key (read-only is enough) is read from.
    api_url : str
        The API root (``https://api.eu.pagerduty.com`` for the EU service region).
    oncalls : bool
        Collect on-call shifts too.
    team_map, tz, workday
        Passed to :func:`ctssw.store.load_pagerduty`.
    timeout, retries, max_wait, progress
        As for :func:`ctssw.collect.collect_github`.
    """
    opts = check_common("pagerduty", since=since, cache=cache, api_url=api_url, timeout=timeout, retries=retries, max_wait=max_wait)
    token = token_from("pagerduty", token_env, token_file)
    headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2",
               "User-Agent": "ctssw-collect"}
    run = Run("pagerduty", store, opts, headers, progress, _client)
    try:
        now = _now or dt.datetime.now(dt.UTC)
        mark = run.state.watermark("account", "incidents", run.cache.root / "incidents")
        start = dt.datetime.fromisoformat(mark.replace("Z", "+00:00")) if mark else \
            dt.datetime.combine(opts.since, dt.time(), dt.UTC)
        inc_dir, log_dir = run.cache.root / "incidents", run.cache.root / "log_entries"
        todo: dict[str, dict] = {}
        run.start("incidents")
        newest = mark
        for a, b in _windows(start, now):
            for inc in _offset_pages(run, "/incidents", "incidents", {"since": a, "until": b, "time_zone": "UTC"}):
                todo[str(inc["id"])] = inc
                created = str(inc.get("created_at") or "")
                newest = max(newest or created, created)
        # incidents cached before and not resolved then: read them again
        for p in sorted(inc_dir.glob("*.json")) if inc_dir.exists() else []:
            doc = run.cache.read_json(p)
            old = (doc or {}).get("incidents", [None])[0] if isinstance(doc, dict) else None
            if isinstance(old, dict) and old.get("status") != "resolved" and str(old.get("id")) not in todo:
                page = run.client.get(f"/incidents/{old['id']}")
                if isinstance(page.data, dict) and isinstance(page.data.get("incident"), dict):
                    todo[str(old["id"])] = page.data["incident"]
        for iid, inc in todo.items():
            cached = run.cache.read_json(inc_dir / f"{iid}.json")
            if isinstance(cached, dict) and cached.get("incidents") == [inc]:
                continue  # cached whole (log entries first, then the incident) by an earlier run
            logs = list(_offset_pages(run, f"/incidents/{iid}/log_entries", "log_entries", {"time_zone": "UTC"}))
            if logs:  # the connector reads no empty log file
                run.cache.write_json(log_dir / f"{iid}.json", {"log_entries": logs})
            run.cache.write_json(inc_dir / f"{iid}.json", {"incidents": [inc]})
            run.tick("incidents")
        run.state.advance("account", "incidents", newest, None)
        if oncalls:
            run.start("on-call shifts")
            omark = run.state.watermark("account", "oncalls", run.cache.root / "oncalls")
            ostart = dt.datetime.fromisoformat(omark.replace("Z", "+00:00")) if omark else \
                dt.datetime.combine(opts.since, dt.time(), dt.UTC)
            for a, b in _windows(ostart, now):
                shifts = list(_offset_pages(run, "/oncalls", "oncalls", {"since": a, "until": b, "time_zone": "UTC"}))
                run.cache.write_json(run.cache.root / "oncalls" / f"{a[:10]}.json", {"oncalls": shifts})
                run.tick("on-call shifts", len(shifts))
            # the last window is still open: start the next run at its beginning
            last = max((a for a, _ in _windows(ostart, now)), default=None)
            run.state.advance("account", "oncalls", last, None)
            run.note("pagerduty: on-call shifts are kept in the cache (oncalls/); the pagerduty connector does not read them")
        # folders, not files: the store's source label (and its quarantine's) stays the same run after run
        folders = [d for d in (inc_dir, log_dir) if d.exists() and any(d.glob("*.json"))]
        kw = {"team_map": team_map or None, "tz": tz, "workday": workday}
        return run.ingest([("pagerduty", folders, kw)] if folders else [])
    except CtsswError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise run.shape_error(e) from None
    finally:
        run.close()
