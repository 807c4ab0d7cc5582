"""Fixtures for the collector tests: a replay server on 127.0.0.1 and a token that must never leak."""

from __future__ import annotations

import pytest

from .replay import Replay, github_routes

TOKEN = "ghp_collectTestSecret0123456789abcdefXYZ"


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.fixture()
def replay(httpserver):
    rp = Replay()
    rp.install(httpserver)
    return rp


@pytest.fixture()
def github(replay, httpserver):
    github_routes(replay)
    return replay


@pytest.fixture()
def api_url(httpserver) -> str:
    return f"http://127.0.0.1:{httpserver.port}"


@pytest.fixture()
def token(monkeypatch) -> str:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return TOKEN


class Sleeps(list):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture()
def sleeps() -> Sleeps:
    return Sleeps()
