"""HTTP for the collectors: one client with retries, rate limits, pagination and conditional requests.

Rules every collector gets from :class:`Client`:

- **Credentials** go only in the ``Authorization`` (or the service's own) header, only to the
  ``--api-url`` host. A pagination link that names another host is followed on the API host
  (same path and query), so the token never travels elsewhere; signed download links are fetched
  *without* credentials, and their query string (the signature) never appears in a message.
- **Rate limits.** A 429, or a 403 that says so (``Retry-After``, ``X-RateLimit-Remaining: 0``,
  or a body mentioning a rate limit), waits: ``Retry-After`` seconds, else until
  ``X-RateLimit-Reset``, else an exponential backoff with jitter; a successful response with
  ``X-RateLimit-Remaining: 0`` waits for the reset before the next request. A wait longer than
  ``max_wait`` stops with one error line saying when to rerun.
- **Retries** on 5xx, connection errors, timeouts and truncated bodies, with exponential backoff
  and jitter, at most ``retries`` times.
- **Conditional requests**: ``etag`` sends ``If-None-Match``; a 304 comes back as ``not_modified``.
- **Redirects** are followed (at most 5), with credentials only when they stay on the same origin.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import CtsswError

__all__ = ["AuthError", "Client", "CollectError", "Page", "redact"]

Wait = Callable[[str], None]  # told what the client is waiting for (shown on the progress bar)
LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')
RATE_WORDS = ("rate limit", "abuse detection", "too many requests")


class CollectError(RuntimeError, CtsswError):
    """A live API could not be read (HTTP failure, rate limit beyond the wait cap, bad body).

    ``status`` is the HTTP status when the API answered with an error.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(CollectError):
    """The API refused the credentials (401) or the token lacks a permission (403)."""


def redact(url: str) -> str:
    """The URL without its query string or user info (signatures, tokens)."""
    s = urlsplit(url)
    host = s.hostname or ""
    if s.port:
        host += f":{s.port}"
    return urlunsplit((s.scheme, host, s.path, "", ""))


@dataclass
class Page:
    """One response: ``data`` is the parsed JSON (or text), ``links`` the parsed Link header."""

    url: str
    status: int
    headers: httpx.Headers
    data: object = None
    text: str = ""
    links: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")


def _links(value: str | None) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(value or "")}


def _limit(h: httpx.Headers) -> tuple[str | None, str | None]:
    """(remaining, reset epoch) from GitHub's ``X-RateLimit-*`` or GitLab's ``RateLimit-*`` headers."""
    rem = h.get("x-ratelimit-remaining") or h.get("ratelimit-remaining")
    reset = h.get("x-ratelimit-reset") or h.get("ratelimit-reset")
    return rem, reset if reset and reset.isdigit() else None


class Client:
    """A small HTTP client for one API.

    Parameters
    ----------
    service : str
        Name used in messages (``github``).
    base_url : str
        The API root (``https://api.github.com``, ``https://ghe.example.com/api/v3``).
    headers : dict
        Headers sent on every API request, credentials included; never logged.
    timeout : float
        Seconds for connect and read.
    retries : int
        Retries after a 5xx, a connection error, a timeout or a truncated body.
    max_wait : float
        The longest single rate-limit wait, in seconds; a longer one stops the run.
    on_wait : callable, optional
        Called with a description of each wait (``rate limit: waiting 60 s``).
    on_response : callable, optional
        Called with no argument after each response (every status), so a progress display
        can count pages as they arrive.
    sleep, clock : callable
        ``time.sleep`` and ``time.time``, replaceable in tests.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float = 30.0,
        retries: int = 5,
        max_wait: float = 900.0,
        backoff: float = 1.0,
        on_wait: Wait | None = None,
        on_response: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        base = urlsplit(self.base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise CollectError(f"{service}: --api-url {redact(base_url)!r} is not an http(s) URL")
        self._origin = (base.scheme, base.netloc)
        self._headers = headers
        self.retries, self.max_wait, self.backoff = retries, max_wait, backoff
        self.on_wait, self.on_response, self.sleep, self.clock = on_wait, on_response, sleep, clock
        self.requests = 0  # responses received, every status
        self.fetched = 0  # 200 responses with a body
        self.not_modified = 0
        self.waited = 0.0
        self.last: str | None = None  # the last URL asked, without its query string
        self._hops = 0  # redirects followed for the current request
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- URLs ------------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        """An absolute URL on the API host (links naming another host keep their path and query)."""
        if "://" not in path_or_url:
            return self.base_url + "/" + path_or_url.lstrip("/")
        s = urlsplit(path_or_url)
        if (s.scheme, s.netloc) == self._origin:
            return path_or_url
        return urlunsplit((*self._origin, s.path, s.query, ""))

    # -- requests --------------------------------------------------------------------------
    def get(self, path: str, *, params: dict | None = None, etag: str | None = None, raw: bool = False) -> Page:
        """GET an API path (credentials sent); see the class docstring for what is retried."""
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        return self._send("GET", self.url(path), params=params, headers=headers, raw=raw)

    def post(self, path: str, body: dict) -> Page:
        """POST a JSON body to an API path (for APIs that read with POST, such as Cursor's)."""
        return self._send("POST", self.url(path), json_body=body, headers=dict(self._headers))

    def download(self, url: str) -> Page:
        """GET a signed link without credentials; the body is returned as text."""
        return self._send("GET", url, headers={"Accept": "*/*"}, raw=True, signed=True)

    def pages(self, path: str, *, params: dict | None = None, etag: str | None = None) -> Iterator[Page]:
        """Follow ``Link: rel="next"`` (else GitLab's ``X-Next-Page``) from ``path``; a 304 on the
        first page ends the walk."""
        url: str | None = path
        query, first = params, True
        while url:
            page = self.get(url, params=query, etag=etag if first else None)
            first = False
            yield page
            if page.not_modified:
                return
            nxt = page.links.get("next")
            np = (page.headers.get("x-next-page") or "").strip()
            if nxt:
                url, query = self.url(nxt), None
            elif np.isdigit() and np != (page.headers.get("x-page") or "").strip():
                url, query = path, {**(params or {}), "page": np}
            else:
                url = None

    def _wait(self, seconds: float, why: str, where: str) -> None:
        seconds = max(0.0, seconds)
        if seconds > self.max_wait:
            until = time.strftime("%H:%M:%S UTC", time.gmtime(self.clock() + seconds))
            raise CollectError(
                f"{self.service}: {why} on {where}: the wait of {seconds:.0f} s exceeds the cap of "
                f"{self.max_wait:.0f} s; rerun after {until} (the run resumes where it stopped)"
            )
        if self.on_wait:
            self.on_wait(f"{why}: waiting {seconds:.0f} s")
        self.waited += seconds
        self.sleep(seconds)
        if self.on_wait:
            self.on_wait("")

    def _backoff(self, attempt: int) -> float:
        return min(self.max_wait, self.backoff * 2**attempt) * (0.5 + random.random())

    def _rate_wait(self, r: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait if ``r`` is a rate-limit refusal, else None."""
        h = r.headers
        rem, reset = _limit(h)
        body = r.text[:2000].lower() if r.status_code in (403, 429) else ""
        limited = r.status_code == 429 or (
            r.status_code == 403 and ("retry-after" in h or rem == "0" or any(w in body for w in RATE_WORDS))
        )
        if not limited:
            return None
        if h.get("retry-after"):
            ra = h["retry-after"].strip()
            if ra.isdigit():
                return float(ra)
            try:
                return email.utils.parsedate_to_datetime(ra).timestamp() - self.clock()
            except (TypeError, ValueError):
                pass  # not a date either: fall through to the reset time or a backoff
        if rem == "0" and reset:
            return int(reset) - self.clock() + 1
        # GitHub: without a reset time, wait at least a minute, then back off exponentially
        return max(60.0, self._backoff(attempt)) if r.status_code == 403 else self._backoff(attempt)

    def _send(self, method: str, url: str, *, params=None, headers=None, json_body=None, raw=False, signed=False) -> Page:
        where = redact(url)
        self.last = where
        attempt = 0
        limited = 0
        while True:
            try:
                r = self._http.request(method, url, params=params, headers=headers, json=json_body)
                content = r.content  # a body cut short raises here (RemoteProtocolError)
            except (httpx.TransportError, httpx.DecodingError) as e:
                if attempt >= self.retries:
                    raise CollectError(f"{self.service}: {where}: {type(e).__name__} after {attempt + 1} attempts") from None
                self._wait(self._backoff(attempt), f"{type(e).__name__}, retry {attempt + 1}/{self.retries}", where)
                attempt += 1
                continue
            self.requests += 1
            if self.on_response:
                self.on_response()
            status = r.status_code
            wait = None if signed else self._rate_wait(r, limited)
            if wait is not None:
                limited += 1
                if limited > self.retries + 5:
                    raise CollectError(f"{self.service}: {where}: still rate limited after {limited} waits")
                self._wait(wait, "rate limit" if status == 429 or "retry-after" not in r.headers else "secondary rate limit", where)
                continue
            if status >= 500:
                if attempt >= self.retries:
                    raise CollectError(f"{self.service}: HTTP {status} from {where} after {attempt + 1} attempts")
                self._wait(self._backoff(attempt), f"HTTP {status}, retry {attempt + 1}/{self.retries}", where)
                attempt += 1
                continue
            if status == 304:
                self.not_modified += 1
                return Page(url, status, r.headers)
            if status in (301, 302, 303, 307, 308) and r.headers.get("location"):
                # follow a redirect ourselves: credentials go along only to the same origin
                hops = self._hops + 1
                if hops > 5:
                    raise CollectError(f"{self.service}: {where}: more than 5 redirects")
                target = str(r.url.join(r.headers["location"]))
                same = urlsplit(target)[:2] == urlsplit(url)[:2]
                self._hops = hops
                try:
                    return self._send("GET" if status == 303 else method, target, params=None,
                                      headers=headers if same else {"Accept": "*/*"}, json_body=json_body,
                                      raw=raw, signed=signed or not same)
                finally:
                    self._hops = 0
            if status >= 400:
                raise self._refused(r, where, signed)
            text = content.decode(r.encoding or "utf-8", errors="replace")
            page = Page(url, status, r.headers, text=text, links=_links(r.headers.get("link")))
            if not raw:
                try:
                    page.data = json.loads(text) if text.strip() else None
                except json.JSONDecodeError:
                    # a body cut short (or garbled) by a proxy: retry like a dropped connection
                    if attempt >= self.retries:
                        raise CollectError(f"{self.service}: {where}: the response body is not complete JSON after {attempt + 1} attempts") from None
                    self._wait(self._backoff(attempt), f"truncated body, retry {attempt + 1}/{self.retries}", where)
                    attempt += 1
                    continue
            self.fetched += 1
            rem, reset = _limit(r.headers)
            if not signed and rem == "0" and reset:
                self._wait(int(reset) - self.clock() + 1, "rate limit used up", where)
            return page

    def _refused(self, r: httpx.Response, where: str, signed: bool) -> CollectError:
        try:
            msg = r.json().get("message") or r.json().get("error")
        except (ValueError, AttributeError):
            msg = None
        msg = str(msg)[:200] if msg else r.reason_phrase
        if signed:
            return CollectError(f"{self.service}: HTTP {r.status_code} downloading {where} (the signed link may have expired)", r.status_code)
        if r.status_code == 401:
            return AuthError(f"{self.service}: HTTP 401 {msg} from {where}: the token was refused; check it and its expiry", 401)
        if r.status_code == 403:
            need = r.headers.get("x-accepted-github-permissions") or r.headers.get("x-accepted-oauth-scopes")
            extra = f" (needs: {need})" if need else ""
            return AuthError(f"{self.service}: HTTP 403 {msg} from {where}: the token lacks a permission{extra}", 403)
        return CollectError(f"{self.service}: HTTP {r.status_code} {msg} from {where}", r.status_code)

