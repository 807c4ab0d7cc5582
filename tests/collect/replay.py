"""A replay server for the collector tests: recorded API exchanges served from 127.0.0.1.

Each route maps a request path (and, where it matters, its ``page`` parameter) to a queue of
recorded responses: every request takes the next one and the last one repeats. Responses carry
their recorded headers, less the ones that described the original transfer (``Content-Encoding``,
``Transfer-Encoding``, ``Content-Length``, ``Connection``, ``Status``: the body is re-sent as
plain JSON). A request whose ``If-None-Match`` equals the ETag the route would send gets the
recorded 304 instead, as GitHub does. Every request is logged.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

HERE = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1] / "fixtures"
DROP = {"content-encoding", "transfer-encoding", "content-length", "connection", "status"}


def exchange(name: str) -> dict:
    """A recorded exchange: ``github/pull_31.json`` from tests/collect/fixtures, else tests/fixtures."""
    p = HERE / name if (HERE / name).exists() else SHARED / name
    return json.loads(p.read_text())


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0
    truncate: bool = False
    cut_short: bool = False  # announce the whole body's Content-Length, send half, close

    @property
    def etag(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "etag"), None)


def reply(ex: dict | str, *, body: object = ..., status: int | None = None, **kw) -> Reply:
    """A recorded exchange as a reply; ``body`` replaces the recorded body (for composed pages)."""
    ex = exchange(ex) if isinstance(ex, str) else ex
    b = ex["body"] if body is ... else body
    raw = b.encode() if isinstance(b, str) else (b"" if b is None else json.dumps(b).encode())
    headers = [(k, v) for k, v in ex["headers"] if k.lower() not in DROP]
    return Reply(status or ex["status"], headers, raw, **kw)


@dataclass
class Replay:
    """Routes and the request log; install with :meth:`install` on a pytest-httpserver."""

    # a route is a queue of replies, or one function of the request returning a reply
    routes: dict[tuple[str, str], list] = field(default_factory=dict)
    log: list[dict] = field(default_factory=list)
    not_modified: Reply | None = None
    hit: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    block_after: int | None = None  # requests served before the server stalls (kill tests)

    def add(self, path: str, *replies: Reply, page: str = "") -> None:
        self.routes[(path, page)] = list(replies)

    def set(self, path: str, *replies: Reply, page: str = "") -> None:
        self.add(path, *replies, page=page)

    def handler(self, request: Request) -> Response:
        q = parse_qs(request.query_string.decode())
        page = q.get("page", [""])[0]
        if page == "1":
            page = ""
        entry = {"method": request.method, "path": request.path, "query": request.query_string.decode(),
                 "auth": request.headers.get("Authorization"), "if_none_match": request.headers.get("If-None-Match")}
        self.log.append(entry)
        if self.block_after is not None and len(self.log) > self.block_after:
            self.hit.set()
            self.release.wait(60)  # the test kills the client meanwhile
        queue = self.routes.get((request.path, page))
        if queue and callable(queue[0]):
            queue = [queue[0](request)]
        if not queue:
            entry["status"] = 404
            return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")
        r = queue.pop(0) if len(queue) > 1 else queue[0]
        if r.delay:
            time.sleep(r.delay)
        inm = request.headers.get("If-None-Match")
        if inm and r.etag and inm == r.etag and r.status == 200 and self.not_modified is not None:
            nm = self.not_modified
            entry["status"] = 304
            hs = [(k, v) for k, v in nm.headers if k.lower() != "etag"] + [("ETag", r.etag)]
            return Response(b"", status=304, headers=hs)
        entry["status"] = r.status
        body = r.body[: len(r.body) // 2] if r.truncate or r.cut_short else r.body
        if r.cut_short:
            resp = Response(body, status=r.status, headers=r.headers)
            resp.headers["Content-Length"] = str(len(r.body))
            return resp
        return Response(body, status=r.status, headers=r.headers)

    def install(self, httpserver) -> None:
        import re

        httpserver.expect_request(re.compile(".*")).respond_with_handler(self.handler)

    def fetched(self, status: int = 200) -> list[str]:
        return [e["path"] + (f"?{e['query']}" if e["query"] else "") for e in self.log if e.get("status") == status]


REPO = "/repos/PyGithub/PyGithub"
ORG = "BeaverSoftware"


def github_routes(rp: Replay, *, changed: bool = False) -> None:
    """The recorded PyGithub/PyGithub exchanges behind the github collector's requests.

    ``changed=False`` is the repository as of 2012-05-27 10:58 (pull #32 open, #31 merged): the
    listing is composed of the two recorded records in the order GitHub sorts them (updated,
    newest first). ``changed=True`` serves the later recorded listing, in which #32 has merged
    and #39 exists.
    """
    open_, closed = exchange("github/pulls_open.json"), exchange("github/pulls_closed.json")
    by_num = {p["number"]: p for p in closed["body"]}
    if changed:
        rp.set(f"{REPO}/pulls", reply(closed))
    else:
        rp.set(f"{REPO}/pulls", reply(open_, body=[open_["body"][0], by_num[31]]))
    empty = reply("github/empty_list.json")
    rp.set(f"{REPO}/pulls/31", reply("github/pull_31.json"))
    for n in (32, 39):
        # no single-pull recording for these: the listing's own record stands in for it
        rec = open_["body"][0] if (n == 32 and not changed) else by_num[n]
        rp.set(f"{REPO}/pulls/{n}", reply(open_ if n == 32 and not changed else closed, body=rec))
    for n in (31, 32, 39):
        rp.set(f"{REPO}/pulls/{n}/reviews", empty)
        rp.set(f"{REPO}/pulls/{n}/comments", reply("github/pull_31_review_comments.json") if n == 31 else empty)
        rp.set(f"/repos/PyGithub/PyGithub/issues/{n}/comments", reply("github/issue_31_comments.json") if n == 31 else empty)
        rp.set(f"{REPO}/pulls/{n}/commits", reply("github/pull_31_commits.json") if n == 31 else empty)
    rp.set(f"{REPO}/deployments", reply("github/deployments_list.json"))
    rp.set(f"{REPO}/deployments/263877258/statuses", reply("github/deployment_263877258_statuses.json"))
    rp.set(f"{REPO}/deployments/262350588/statuses", empty)
    rp.set(f"{REPO}/releases", reply("github/releases_page1.json"))
    rp.set("/repositories/3544490/releases", reply("github/releases_page2.json"), page="2")
    rp.set("/repositories/3544490/releases", reply("github/releases_page3.json"), page="3")
    run = exchange("github/run_3881497935.json")["body"]
    rp.set(f"{REPO}/actions/runs", reply("github/runs_created_list.json", body={"total_count": 1, "workflow_runs": [run]}))
    rp.set(f"{REPO}/actions/runs/3881497935/jobs", reply("github/run_3881497935_jobs.json"))
    rp.set(f"/orgs/{ORG}/teams", reply("github/org_teams.json"))
    rp.set(f"/orgs/{ORG}/teams/members/members", reply("github/team_members.json"))
    rp.set(f"/orgs/{ORG}/teams/owners/members", empty)
    rp.not_modified = reply("github/not_modified_304.json")
