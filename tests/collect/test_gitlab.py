"""``collect_gitlab`` against recorded gitlab.com records (DevLake's e2e raw tables) on 127.0.0.1."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from ctssw.collect import collect_gitlab

from .replay import HERE, SHARED, Reply

RAW = json.loads((HERE / "gitlab" / "devlake_raw_project_12345678.json").read_text())
PAGING = json.loads((SHARED / "gitlab" / "pagination_headers_python_gitlab.json").read_text())
TOKEN = "glpat-collectTestSecret0123"
P = "/api/v4/projects/12345678"


def _json(body, headers=()) -> Reply:
    return Reply(200, [("Content-Type", "application/json"), *headers], json.dumps(body).encode())


def _listing(records: list, cutoff: str | None):
    """GitLab's listing: ``updated_after`` applied, newest first, two pages with X-Page / X-Next-Page."""

    def answer(request) -> Reply:
        q = parse_qs(request.query_string.decode())
        after = q.get("updated_after", [""])[0]
        recs = [r for r in records if r.get("updated_at") and (cutoff is None or r["updated_at"] < cutoff)]
        recs = sorted((r for r in recs if r["updated_at"] > after), key=lambda r: r["updated_at"], reverse=True)
        half = (len(recs) + 1) // 2
        page = q.get("page", ["1"])[0]
        hdr = {k: v for k, v in PAGING[0 if page == "1" else 1]["headers"].items() if k != "Link"}
        return _json(recs[:half] if page == "1" else recs[half:], hdr.items())

    return answer


def routes(rp, cutoff: str | None) -> None:
    for path, key in (("merge_requests", "merge_requests"), ("deployments", "deployments"), ("pipelines", "pipelines")):
        rp.set(f"{P}/{path}", _listing(RAW[key], cutoff))
        rp.set(f"{P}/{path}", _listing(RAW[key], cutoff), page="2")
    for mr in RAW["merge_requests"]:
        rp.set(f"{P}/merge_requests/{mr['iid']}/notes", _json(RAW["notes"].get(str(mr["iid"]), [])))
        rp.set(f"{P}/merge_requests/{mr['iid']}/commits", _json(RAW["commits"].get(str(mr["iid"]), [])))
    for pl in RAW["pipelines"]:
        rp.set(f"{P}/pipelines/{pl['id']}/jobs", _json([]))
    members = json.loads((SHARED / "gitlab" / "members_list_docs_example.json").read_text())
    rp.set("/api/v4/groups/gitlab-data/members/all", _json(members))


def test_gitlab_collect_then_only_what_changed(replay, api_url, tmp_path, monkeypatch, new_store):
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    routes(replay, cutoff="2022-01-01")
    kw = dict(group="gitlab-data", projects=["12345678"], since="2019-01-01", cache=tmp_path / "cache",
              api_url=f"{api_url}/api/v4", pipeline_ref="^main$")
    with new_store(tmp_path / "s.duckdb") as s:
        first = collect_gitlab(s, **kw)
        n1 = s.count("changes")
        reviewed = s.con.execute("SELECT count(*) FROM changes WHERE first_review_at IS NOT NULL").fetchall()[0][0]
        members = s.count("memberships")
        n = len(replay.log)
        routes(replay, cutoff=None)  # the project as recorded later: four more merge requests updated in 2022
        second = collect_gitlab(s, **kw)
        n2 = s.count("changes")
        ids = {r[0] for r in s.con.execute("SELECT change_id FROM changes").fetchall()}
    assert first.items["merge requests"] == 14 and n1 == 14 and reviewed >= 1 and members == 2
    assert second.items["merge requests"] == 4 and n2 == 18
    asked = {e["path"] for e in replay.log[n:]}
    assert {f"{P}/merge_requests/{i}/notes" for i in (18, 19, 20, 21)} <= asked
    assert not any(f"/merge_requests/{i}/" in p for p in asked for i in (1, 3, 14, 16))  # unchanged: not asked
    # the second run asked for records updated after the first run's watermark
    q = [e["query"] for e in replay.log[n:] if e["path"] == f"{P}/merge_requests"][0]
    assert "updated_after=2021-10-04T16%3A23%3A41.057Z" in q
    assert "gitlab-data/snowflake_spend!21" in ids
    # two pages by X-Next-Page; the last page's stale X-Next-Page (equal to X-Page) ends the walk
    mr_pages = [e["query"] for e in replay.log[:n] if e["path"] == f"{P}/merge_requests"]
    assert len(mr_pages) == 2 and "page=2" in mr_pages[1]
    assert all(e["auth"] is None for e in replay.log)  # GitLab's token goes in PRIVATE-TOKEN
    assert not any(TOKEN.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
