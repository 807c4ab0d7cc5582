"""What every collector shares: its validated settings, credentials, the run's bookkeeping, the ingest."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..store import LOADERS, LoadCounts, Store
from ._http import Client, CollectError
from ._state import Cache, State

__all__ = ["Options", "Result", "Run", "Tick", "iso_day", "token_from"]

# (resource, items so far, what it is waiting for or "", responses received for it so far) → the progress display
Tick = Callable[[str, int, str, int], None]
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_day(value: str, what: str = "--since") -> dt.date:
    """A YYYY-MM-DD date, or one clear error naming the option."""
    if not isinstance(value, str) or not DAY.match(value):
        raise ConfigError(f"{what} {value!r}: expected a date such as 2025-01-01")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{what} {value!r}: not a calendar date") from None


def token_from(service: str, env: str | None, file: Path | str | None, *, required: bool = True) -> str | None:
    """The credential from ``file`` (its first line) or the environment variable ``env``.

    Messages name the variable or the file, never the value.
    """
    if file is not None:
        try:
            tok = Path(file).read_text(encoding="utf-8").strip().splitlines()
        except OSError as e:
            raise ConfigError(f"{service}: cannot read --token-file {file} ({e.strerror or e})") from None
        if not tok or not tok[0].strip():
            raise ConfigError(f"{service}: --token-file {file} is empty")
        return tok[0].strip()
    value = os.environ.get(env or "", "").strip()
    if not value and required:
        raise ConfigError(f"{service}: no token: set ${env} or give --token-file FILE")
    return value or None


@dataclass(frozen=True)
class Options:
    """Settings every collector takes (validated by its public function)."""

    cache: Path
    api_url: str
    since: dt.date
    timeout: float = 30.0
    retries: int = 5
    max_wait: float = 900.0


@dataclass
class Result:
    """What one collect did: HTTP counts, files written, the ingest's counts and notes."""

    source: str
    cache: Path
    requests: int = 0
    fetched: int = 0
    not_modified: int = 0
    waited_s: float = 0.0
    files_written: int = 0
    items: dict[str, int] = field(default_factory=dict)
    counts: list[LoadCounts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "source": self.source, "cache": str(self.cache), "requests": self.requests, "fetched": self.fetched,
            "not_modified": self.not_modified, "waited_s": round(self.waited_s, 1), "files_written": self.files_written,
            "items": dict(self.items), "counts": [c.as_row() for c in self.counts], "notes": list(self.notes),
        }


class Run:
    """One collect: the client, the cache, the watermarks, the progress and the result."""

    def __init__(self, source: str, store: Store, opts: Options, headers: dict[str, str], progress: Tick | None,
                 client_kw: dict | None = None) -> None:
        self.source, self.store, self.opts = source, store, opts
        self.cache = Cache(opts.cache / source)
        self.state = State.load(store, source)
        self.progress = progress
        self._current = ""
        self.pages: dict[str, int] = {}  # responses received while each resource was being read
        self.result = Result(source, self.cache.root)
        self.client = Client(source, opts.api_url, headers, timeout=opts.timeout, retries=opts.retries,
                             max_wait=opts.max_wait, on_wait=self._waiting, on_response=self._responded, **(client_kw or {}))

    def _show(self, resource: str, waiting: str = "") -> None:
        if self.progress:
            self.progress(resource, self.result.items.get(resource, 0), waiting, self.pages.get(resource, 0))

    def _waiting(self, what: str) -> None:
        self._show(self._current, what)

    def _responded(self) -> None:
        self.pages[self._current] = self.pages.get(self._current, 0) + 1
        self._show(self._current)

    def tick(self, resource: str, n: int = 1) -> None:
        """Count ``n`` more items of ``resource`` (shown on its progress bar)."""
        self._current = resource
        self.result.items[resource] = self.result.items.get(resource, 0) + n
        self._show(resource)

    def start(self, resource: str) -> None:
        self._current = resource
        self.result.items.setdefault(resource, 0)
        self._show(resource)

    def note(self, text: str) -> None:
        if text not in self.result.notes:
            self.result.notes.append(text)

    def items(self, path: str, *, params: dict | None = None, key: str | None = None) -> Iterator[dict]:
        """Every record of a Link-paginated listing (``key`` names the list in a wrapping object)."""
        for page in self.client.pages(path, params=params):
            data = page.data.get(key) if key and isinstance(page.data, dict) else page.data
            if not isinstance(data, list):
                raise CollectError(f"{self.source}: {path}: expected a list{f' in {key!r}' if key else ''}, got {type(data).__name__}")
            yield from (x for x in data if isinstance(x, dict))

    def newest_first(self, path: str, scope: str, resource: str, folder: Path, mark: str, key: str,
                     params: dict | None = None) -> Walk:
        """The items of a newest-first listing down to the watermark ``mark`` (see :class:`Walk`)."""
        return Walk(self, path, scope, resource, folder, mark, key, params or {"per_page": 100})

    def ingest(self, steps: list[tuple[str, list[Path], dict]]) -> Result:
        """Load the cache with the existing connectors and save the watermarks, in one transaction.

        ``steps`` are (connector kind, paths, options); a kind this ctssw has no connector for is
        left in the cache with a note.
        """
        r = self.result
        files = [str(p) for _, paths, _ in steps for p in paths]
        # journalled before the transaction begins: a collect killed while loading is named by every reader
        with self.store.run(f"collect {self.source}", f"collect:{self.source}", files) as journal, self.store.transaction():
            for kind, paths, kw in steps:
                paths = [p for p in paths if p.exists() and (p.is_file() or any(p.rglob("*.*")))]
                if not paths:
                    continue
                if kind not in LOADERS:
                    self.note(f"{kind}: raw files kept in {paths[0]}; this ctssw has no `{kind}` connector yet, "
                              f"so they were not ingested (run `ctssw ingest {kind}` once it has one)")
                    continue
                if self.progress:
                    self.progress(f"ingest {kind}", 0, "", 0)
                r.counts += LOADERS[kind](self.store, paths, **kw)
            self.state.save(self.store)
            journal["counts"] = [x.as_row() for x in r.counts]
            journal["finish"]()
        c = self.client
        r.requests, r.fetched, r.not_modified, r.waited_s = c.requests, c.fetched, c.not_modified, c.waited
        r.files_written = self.cache.written
        return r

    def shape_error(self, e: Exception) -> CollectError:
        """One error line for a response that lacks what the API documents (a field, a type)."""
        last = self.client.last or self.opts.api_url
        return CollectError(f"{self.source}: unexpected response from {last} ({type(e).__name__}: {str(e)[:120]}); "
                            "nothing was ingested, and the next run starts from the same watermarks")

    def close(self) -> None:
        self.client.close()


def check_patterns(service: str, **patterns: str | None) -> None:
    """Each given regular expression compiles, or one error naming its option."""
    for name, pat in patterns.items():
        if pat is None:
            continue
        try:
            re.compile(pat)
        except re.error as e:
            raise ConfigError(f"{service}: --{name.replace('_', '-')} {pat!r} is not a regular expression ({e})") from None


def check_common(service: str, *, since: str, cache: Path | str, api_url: str, timeout: float, retries: int,
                 max_wait: float) -> Options:
    """Validate the options every collector shares."""
    if timeout <= 0 or retries < 0 or max_wait < 0:
        raise ConfigError(f"{service}: timeout must be > 0, retries and max-wait ≥ 0")
    if not re.match(r"^https?://[^/\s]+", api_url or ""):
        raise ConfigError(f"{service}: --api-url {api_url!r}: expected an http(s) URL such as https://api.github.com")
    return Options(Path(cache), api_url, iso_day(since), timeout, retries, max_wait)


class Walk:
    """Walk a listing that GitHub returns newest first, down to the watermark: yield each item
    whose ``key`` is at or after ``mark``, stop at the first older one or at a 304 (the listing
    has not changed since the ETag kept for it), then :meth:`advance` records the newest value and
    the first page's ETag for the next run."""

    def __init__(self, run: Run, path: str, scope: str, resource: str, folder: Path, mark: str, key: str,
                 params: dict) -> None:
        self.run, self.path, self.scope, self.resource, self.folder = run, path, scope, resource, folder
        self.mark, self.key, self.params = mark, key, params
        self.newest: str | None = None
        self.first_etag: str | None = None

    def __iter__(self) -> Iterator[dict]:
        run = self.run
        for page in run.client.pages(self.path, params=self.params, etag=run.state.etag(self.scope, self.resource, self.folder)):
            if page.not_modified:
                return
            self.first_etag = self.first_etag or page.etag
            for item in page.data if isinstance(page.data, list) else []:
                value = str(item.get(self.key) or "")
                if value < self.mark:
                    return
                self.newest = max(self.newest or value, value)
                yield item

    def advance(self) -> None:
        self.run.state.advance(self.scope, self.resource, self.newest, self.first_etag)
