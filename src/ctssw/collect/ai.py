"""``ctssw collect claude`` and ``ctssw collect cursor``: AI-assistant usage reports, one day at a time.

Both keep the vendor's own JSON in the cache, one file per day (or per date window), and ingest it
with the ``claude`` / ``cursor`` connector when this ctssw has one (``ctssw.store.LOADERS``);
otherwise the files stay in the cache and the output says so.

- **claude**: the Claude Code usage report of the Admin API
  (``GET /v1/organizations/usage_report/claude_code?starting_at=DAY&limit=1000``, cursor
  ``page`` = the previous ``next_page`` while ``has_more``), one file per finished UTC day:
  ``claude/usage_report/<day>.json`` (``{"data": [...all pages...]}``).
- **cursor**: the Admin API's daily usage (``POST /teams/daily-usage-data`` with ``startDate`` /
  ``endDate`` in epoch milliseconds, at most 30 days each) and the AI Code Tracking API's commits
  (``GET /analytics/ai-code/commits?startDate=&endDate=&page=&pageSize=100``, paged until
  ``page × pageSize ≥ totalCount``): ``cursor/daily-usage-data/<from>.json``,
  ``cursor/ai-code-commits/<from>.json``.

Watermark: the last finished day collected; a day is collected once it has ended (UTC).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from ..errors import CtsswError
from ..store import Store
from ._base import Result, Run, Tick, check_common, token_from
from ._http import CollectError

__all__ = ["collect_claude", "collect_cursor"]


def _days(run: Run, scope: str, resource: str, today: dt.date, folder: Path) -> list[dt.date]:
    mark = run.state.watermark(scope, resource, folder)
    first = dt.date.fromisoformat(mark) + dt.timedelta(days=1) if mark else run.opts.since
    return [first + dt.timedelta(days=i) for i in range((today - first).days)]


def collect_claude(
    store: Store,
    *,
    since: str,
    cache: str | Path = "ctssw-cache",
    token_env: str = "ANTHROPIC_ADMIN_KEY",
    token_file: str | Path | None = None,
    api_url: str = "https://api.anthropic.com",
    timeout: float = 30.0,
    retries: int = 5,
    max_wait: float = 900.0,
    progress: Tick | None = None,
    _client: dict | None = None,
    _today: dt.date | None = None,
) -> Result:
    """Collect the Claude Code usage report, day by day, into ``cache`` (and ingest it when a connector exists).

    Parameters
    ----------
    since : str
        YYYY-MM-DD: the first day of the first run; later runs continue after the last day collected.
    token_env, token_file
        Where the Admin API key (``sk-ant-admin...``) is read from.
    api_url, timeout, retries, max_wait, progress
        As for :func:`ctssw.collect.collect_github`.
    """
    opts = check_common("claude", since=since, cache=cache, api_url=api_url, timeout=timeout, retries=retries, max_wait=max_wait)
    key = token_from("claude", token_env, token_file)
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "User-Agent": "ctssw-collect"}
    run = Run("claude", store, opts, headers, progress, _client)
    try:
        run.start("days")
        folder = run.cache.root / "usage_report"
        for day in _days(run, "organization", "claude_code", _today or dt.datetime.now(dt.UTC).date(), folder):
            records, cursor = [], None
            while True:
                params = {"starting_at": day.isoformat(), "limit": 1000, **({"page": cursor} if cursor else {})}
                data = run.client.get("/v1/organizations/usage_report/claude_code", params=params).data
                if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                    raise CollectError(f"claude: usage report for {day}: expected an object with a 'data' list")
                records += data["data"]
                cursor = data.get("next_page")
                if not data.get("has_more") or not cursor:
                    break
            run.cache.write_json(folder / f"{day.isoformat()}.json", {"data": records})
            run.state.advance("organization", "claude_code", day.isoformat(), None)
            run.tick("days")
        files = sorted(folder.glob("*.json")) if folder.exists() else []
        return run.ingest([("claude", files, {})] if files else [])
    except CtsswError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise run.shape_error(e) from None
    finally:
        run.close()


def collect_cursor(
    store: Store,
    *,
    since: str,
    cache: str | Path = "ctssw-cache",
    token_env: str = "CURSOR_API_KEY",
    token_file: str | Path | None = None,
    api_url: str = "https://api.cursor.com",
    commits: bool = True,
    timeout: float = 30.0,
    retries: int = 5,
    max_wait: float = 900.0,
    progress: Tick | None = None,
    _client: dict | None = None,
    _today: dt.date | None = None,
) -> Result:
    """Collect Cursor's daily usage and AI code tracking into ``cache`` (and ingest them when a connector exists).

    Parameters
    ----------
    since : str
        YYYY-MM-DD: the first day of the first run; later runs continue after the last day collected.
    token_env, token_file
        Where the Admin API key is read from (sent as HTTP Basic user name, as Cursor asks).
    commits : bool
        Collect the AI Code Tracking commits too (Enterprise teams).
    api_url, timeout, retries, max_wait, progress
        As for :func:`ctssw.collect.collect_github`.
    """
    opts = check_common("cursor", since=since, cache=cache, api_url=api_url, timeout=timeout, retries=retries, max_wait=max_wait)
    key = token_from("cursor", token_env, token_file)
    basic = base64.b64encode(f"{key}:".encode()).decode()
    run = Run("cursor", store, opts, {"Authorization": f"Basic {basic}", "User-Agent": "ctssw-collect"}, progress, _client)
    try:
        run.start("days")
        days = _days(run, "team", "daily-usage", _today or dt.datetime.now(dt.UTC).date(), run.cache.root / "daily-usage-data")
        for i in range(0, len(days), 30):
            window = days[i:i + 30]
            start = dt.datetime.combine(window[0], dt.time(), dt.UTC)
            end = dt.datetime.combine(window[-1], dt.time(), dt.UTC) + dt.timedelta(days=1) - dt.timedelta(milliseconds=1)
            ms = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
            usage = run.client.post("/teams/daily-usage-data", {"startDate": ms[0], "endDate": ms[1]}).data
            if not isinstance(usage, dict) or not isinstance(usage.get("data"), list):
                raise CollectError("cursor: /teams/daily-usage-data: expected an object with a 'data' list")
            run.cache.write_json(run.cache.root / "daily-usage-data" / f"{window[0].isoformat()}.json", usage)
            if commits:
                items, page = [], 1
                while True:
                    params = {"startDate": window[0].isoformat(), "endDate": window[-1].isoformat(), "page": page, "pageSize": 100}
                    data = run.client.get("/analytics/ai-code/commits", params=params).data
                    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                        raise CollectError("cursor: /analytics/ai-code/commits: expected an object with an 'items' list")
                    items += data["items"]
                    if not data["items"] or page * int(data.get("pageSize") or 100) >= int(data.get("totalCount") or 0):
                        break
                    page += 1
                run.cache.write_json(run.cache.root / "ai-code-commits" / f"{window[0].isoformat()}.json",
                                     {"items": items, "totalCount": len(items)})
            run.state.advance("team", "daily-usage", window[-1].isoformat(), None)
            run.tick("days", len(window))
        files = sorted(run.cache.root.glob("*/*.json"))
        return run.ingest([("cursor", files, {})] if files else [])
    except CtsswError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise run.shape_error(e) from None
    finally:
        run.close()
