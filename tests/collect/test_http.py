"""The collectors' HTTP client against recorded responses served from 127.0.0.1."""

from __future__ import annotations

import pytest

from ctssw.collect import AuthError, CollectError
from ctssw.collect._http import Client

from .replay import exchange, reply

TOKEN = "ghp_clientTestSecret0123456789"


def client(api_url, sleeps, **kw) -> Client:
    waits: list[str] = kw.pop("waits", [])
    return Client("github", api_url, {"Authorization": f"Bearer {TOKEN}"}, sleep=sleeps, on_wait=waits.append, **kw)


def test_link_pagination_follows_next_on_the_api_host(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub/releases", reply("github/releases_page1.json"))
    replay.add("/repositories/3544490/releases", reply("github/releases_page2.json"), page="2")
    replay.add("/repositories/3544490/releases", reply("github/releases_page3.json"), page="3")
    with client(api_url, sleeps) as c:
        pages = list(c.pages("/repos/PyGithub/PyGithub/releases", params={"per_page": 10}))
    assert [len(p.data) for p in pages] == [10, 10, 10]
    # the recorded links name api.github.com: they were followed on the replay host, with the token
    assert [e["path"] for e in replay.log] == ["/repos/PyGithub/PyGithub/releases", *["/repositories/3544490/releases"] * 2]
    assert [e["query"] for e in replay.log][1:] == ["per_page=10&page=2", "per_page=10&page=3"]
    assert all(e["auth"] == f"Bearer {TOKEN}" for e in replay.log)
    assert len({r["id"] for p in pages for r in p.data}) == 30 and sleeps == []


def test_secondary_rate_limit_waits_retry_after(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub/pulls", reply("github/error_403_secondary_rate_limit_retry_after.json"),
               reply("github/pulls_open.json"))
    waits: list[str] = []
    with client(api_url, sleeps, waits=waits) as c:
        page = c.get("/repos/PyGithub/PyGithub/pulls")
    assert page.data[0]["number"] == 32
    assert sleeps == [60.0]  # Retry-After: 60, as recorded
    assert "secondary rate limit: waiting 60 s" in waits


def test_primary_rate_limit_waits_until_reset(replay, api_url, sleeps):
    rec = exchange("github/pulls_3370_commits.json")
    headers = [[k, "0" if k == "X-RateLimit-Remaining" else v] for k, v in rec["headers"]]
    limited = {**exchange("github/error_403_primary_rate_limit_2012.json"), "headers": headers}
    replay.add("/repos/PyGithub/PyGithub/pulls", reply(limited), reply("github/pulls_open.json"))
    reset = 1767880692
    with client(api_url, sleeps, clock=lambda: reset - 42.0) as c:
        page = c.get("/repos/PyGithub/PyGithub/pulls")
    assert page.status == 200 and sleeps == [43.0]


def test_primary_rate_limit_without_reset_waits_a_minute(replay, api_url, sleeps):
    replay.add("/user", reply("github/error_403_primary_rate_limit_2012.json"), reply("github/pulls_open.json"))
    with client(api_url, sleeps) as c:
        c.get("/user")
    assert len(sleeps) == 1 and sleeps[0] >= 60.0


def test_a_wait_beyond_the_cap_stops_with_when_to_rerun(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub/pulls", reply("github/error_403_secondary_rate_limit_retry_after.json"))
    with client(api_url, sleeps, max_wait=30) as c, pytest.raises(CollectError, match=r"exceeds the cap of 30 s; rerun after"):
        c.get("/repos/PyGithub/PyGithub/pulls")
    assert sleeps == []


def test_502_then_success_is_retried_with_backoff(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub", reply("github/error_502_bad_gateway.json"), reply("github/error_500_then_ok.json"),
               reply("github/pull_31.json"))
    with client(api_url, sleeps, backoff=1.0) as c:
        page = c.get("/repos/PyGithub/PyGithub")
    assert page.data["number"] == 31
    assert [e["status"] for e in replay.log] == [502, 500, 200]
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0  # 1 s, 2 s, with jitter


def test_5xx_retries_are_capped(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub", reply("github/error_502_bad_gateway.json"))
    with client(api_url, sleeps, retries=2) as c, pytest.raises(CollectError, match="HTTP 502 .* after 3 attempts"):
        c.get("/repos/PyGithub/PyGithub")
    assert len(replay.log) == 3 and len(sleeps) == 2


def test_truncated_body_is_fetched_again(replay, api_url, sleeps):
    ok = reply("github/pulls_closed.json")
    cut = reply("github/pulls_closed.json", truncate=True)
    replay.add("/repos/PyGithub/PyGithub/pulls", cut, ok)
    waits: list[str] = []
    with client(api_url, sleeps, waits=waits) as c:
        page = c.get("/repos/PyGithub/PyGithub/pulls")
    assert [p["number"] for p in page.data] == [39, 32, 31]
    assert len(replay.log) == 2 and len(sleeps) == 1
    assert any(w.startswith("truncated body, retry 1/5") for w in waits)


def test_body_cut_short_of_its_content_length_is_fetched_again(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub/pulls", reply("github/pulls_closed.json", cut_short=True), reply("github/pulls_closed.json"))
    waits: list[str] = []
    with client(api_url, sleeps, timeout=5, waits=waits) as c:
        page = c.get("/repos/PyGithub/PyGithub/pulls")
    assert [p["number"] for p in page.data] == [39, 32, 31]
    assert len(replay.log) == 2 and len(sleeps) == 1
    assert any(w.startswith("RemoteProtocolError, retry 1/5") for w in waits)


def test_connection_errors_are_retried_then_reported(sleeps):
    # nothing listens on this port: every attempt is refused
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with client(f"http://127.0.0.1:{port}", sleeps, retries=2, timeout=2) as c, pytest.raises(CollectError, match="ConnectError after 3 attempts"):
        c.get("/user")
    assert len(sleeps) == 2


def test_401_is_one_clear_error_without_the_token(replay, api_url, sleeps):
    replay.add("/user", reply("github/error_401_bad_credentials.json"))
    with client(api_url, sleeps) as c, pytest.raises(AuthError) as e:
        c.get("/user", params={"x": "1"})
    msg = str(e.value)
    assert msg.startswith("github: HTTP 401 Bad credentials from http://127.0.0.1:") and "\n" not in msg
    assert TOKEN not in msg and "x=1" not in msg and len(replay.log) == 1 and sleeps == []


def test_etag_gives_not_modified(replay, api_url, sleeps):
    replay.add("/repos/PyGithub/PyGithub/pulls", reply("github/pulls_open.json"))
    replay.not_modified = reply("github/not_modified_304.json")
    with client(api_url, sleeps) as c:
        first = c.get("/repos/PyGithub/PyGithub/pulls")
        again = c.get("/repos/PyGithub/PyGithub/pulls", etag=first.etag)
    assert first.etag == '"a659c559e34da168eba22cba60faf027"' and again.not_modified and again.data is None
    assert c.not_modified == 1 and c.fetched == 1


def test_signed_downloads_carry_no_credentials_and_hide_the_signature(replay, api_url, sleeps):
    replay.add("/blob/report.ndjson", reply("copilot/expired_signed_link_403.json"))
    with client(api_url, sleeps) as c, pytest.raises(CollectError) as e:
        c.download(f"{api_url}/blob/report.ndjson?sv=2020-06-12&se=2020-07-09&sig=SECRETSIG")
    assert replay.log[0]["auth"] is None
    assert "SECRETSIG" not in str(e.value) and "signed link may have expired" in str(e.value)


def test_public_names_are_pinned():
    import ctssw.collect as c
    from ctssw.errors import CtsswError

    assert c.__all__ == sorted(c.__all__)
    assert set(c.__all__) == {"AuthError", "COLLECTORS", "CollectError", "Result", "collect_claude", "collect_cursor",
                              "collect_github", "collect_gitlab", "collect_pagerduty"}
    assert sorted(c.COLLECTORS) == ["claude", "cursor", "github", "gitlab", "pagerduty"]
    assert issubclass(c.AuthError, c.CollectError) and issubclass(c.CollectError, CtsswError)
    assert issubclass(c.CollectError, RuntimeError)


def test_redirects_keep_credentials_on_the_same_host_only(replay, api_url, sleeps, httpserver):
    from .replay import Reply

    moved = Reply(301, [("Location", f"{api_url}/repositories/3544490/pulls")], b"")
    replay.add("/repos/PyGithub/OldName/pulls", moved)
    replay.add("/repositories/3544490/pulls", reply("github/pulls_open.json"))
    # a link to another origin (here: the same server by its other name) gets no credentials
    other = f"http://localhost:{httpserver.port}/blob/x"
    replay.add("/blob/go", Reply(302, [("Location", other)], b""))
    replay.add("/blob/x", reply("github/pulls_open.json"))
    with client(api_url, sleeps) as c:
        assert c.get("/repos/PyGithub/OldName/pulls").data[0]["number"] == 32
        c.get("/blob/go")
    auth = {e["path"]: e["auth"] for e in replay.log}
    assert auth["/repositories/3544490/pulls"] == f"Bearer {TOKEN}" and auth["/blob/go"] == f"Bearer {TOKEN}"
    assert auth["/blob/x"] is None
