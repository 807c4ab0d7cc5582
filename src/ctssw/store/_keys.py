"""The identity key: kept outside the store, named by ``--identity-key`` or ``CTSSW_IDENTITY_KEY``.

A key file holds one secret per line (64 hex digits), oldest first. A raw identity is
pseudonymised by a keyed HMAC-SHA256 under the first secret; each later secret (added by
``ctssw rekey``) re-keys the result with another HMAC, so a store that was re-keyed cannot
be linked to people by anyone holding only an older secret. A first line ``legacy:HEX``
stands for the nested SHA-256 of stores written before the key left the store.

The store records only the key's *fingerprint*, which identifies the key but reveals
nothing about it.

Three forms are derived from one identity, each keyed the same way:

- ``full``: the 64-hex value id kept in ``identities.value_id``;
- ``builder``: ``b_`` + 16 hex, the builder id of an identity the roster does not map;
- ``hidden``: ``h_`` + 16 hex, what the quarantine keeps in place of a raw identity.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError

ENV = "CTSSW_IDENTITY_KEY"
HOW = f"pass --identity-key FILE (Python: Store(..., identity_key=FILE)) or set {ENV}=FILE"


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/ctssw/identity.key`` (``~/.config/ctssw/identity.key``): outside any project tree."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ctssw" / "identity.key"


def key_path(explicit: str | Path | None = None) -> Path:
    """The key file in force: ``explicit``, else ``$CTSSW_IDENTITY_KEY``, else :func:`default_key_path`."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else default_key_path()


FORMS = ("full", "builder", "hidden")


@dataclass(frozen=True)
class IdentityKey:
    """A chain of secrets (see the module docstring) and the file it came from."""

    secrets: tuple[str, ...]
    path: Path | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def fingerprint(self) -> str:
        """16 hex digits naming this key (a hash of a hash: it reveals nothing of the secrets)."""
        h = hashlib.sha256(b"ctssw identity key fingerprint\n" + "\n".join(self.secrets).encode()).hexdigest()
        return hashlib.sha256(h.encode()).hexdigest()[:16]

    def _first(self, value: str) -> str:
        s = self.secrets[0]
        if s.startswith("legacy:"):
            k = s[len("legacy:"):]
            inner = hashlib.sha256((k + value).encode()).hexdigest()
            return hashlib.sha256((k + inner).encode()).hexdigest()
        return hmac.new(bytes.fromhex(s), value.encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, value: str, form: str = "full") -> str:
        """The pseudonym of an already normalised (trimmed, lower-cased) identity; each value is hashed once."""
        return self.pseudonyms(value)[FORMS.index(form)]

    def pseudonyms(self, value: str) -> tuple[str, str, str]:
        """The ``full``, ``builder`` and ``hidden`` pseudonyms of a normalised identity, from one
        keyed hash of it (an ingest asks for all three of every distinct identity)."""
        got = self._cache.get(value)
        if got is not None:
            return got
        h = self._first(value)
        out = (h, "b_" + h[:16], "h_" + h[:16])
        for s in self.secrets[1:]:
            out = tuple(rekey_one(bytes.fromhex(s), x) for x in out)
        if len(self._cache) > 2_000_000:
            self._cache.clear()
        self._cache[value] = out
        return out

    def extended(self) -> tuple[IdentityKey, bytes]:
        """This chain with one new secret appended, and that secret."""
        new = secrets.token_bytes(32)
        return IdentityKey((*self.secrets, new.hex())), new


def rekey_one(secret: bytes, stored: str) -> str:
    """A stored pseudonym (full, ``b_`` or ``h_`` form) re-keyed under one more secret."""
    if stored[:2] in ("b_", "h_"):
        return stored[:2] + hmac.new(secret, stored.encode(), hashlib.sha256).hexdigest()[:16]
    return hmac.new(secret, stored.encode(), hashlib.sha256).hexdigest()


def read_key(path: Path) -> IdentityKey:
    """Read a key file; refuse one that others can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as e:
        raise StoreError(f"cannot read identity key {path} ({e.strerror or e}); {HOW}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreError(f"identity key {path} is readable by others (mode {stat.S_IMODE(mode):o}): run `chmod 600 {path}`")
    lines = tuple(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    ok = bool(lines) and all(_valid(ln, i) for i, ln in enumerate(lines))
    if not ok:
        raise StoreError(f"{path} is not a ctssw identity key (expected lines of 64 hex digits); {HOW}")
    return IdentityKey(lines, path)


def _valid(line: str, i: int) -> bool:
    if line.startswith("legacy:"):
        line = line[len("legacy:"):]
        if i:
            return False
    try:
        return len(bytes.fromhex(line)) == 32
    except ValueError:
        return False


# the first bytes of every key file (a test keeps files that start so out of the repository)
HEADER = "# ctssw identity key:"


def write_key(path: Path, key: IdentityKey) -> IdentityKey:
    """Create ``path`` (mode 0600, its folder 0700 when new) holding ``key``; never overwrite.

    The key is written whole to a temporary file beside ``path`` and then linked to its name,
    which fails if the name exists: a process that finds ``path`` never reads half a key, even
    while another is writing one (two commands started together on a fresh machine).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".identity-", dir=path.parent)  # mode 0600
    except OSError as e:
        raise StoreError(f"cannot create identity key {path} ({e.strerror or e}); {HOW}") from None
    try:
        with os.fdopen(fd, "w") as f:
            _write(f, key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # a file system without hard links: created in place, as exclusive as the name allows
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                _write(f, key)
    except FileExistsError:
        raise KeyExists(f"{path} exists already: choose a new file for the key") from None
    except OSError as e:
        raise StoreError(f"cannot create identity key {path} ({e.strerror or e}); {HOW}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return IdentityKey(key.secrets, path)


def _write(f, key: IdentityKey) -> None:
    f.write(f"{HEADER} keep it secret and apart from the store; losing it means\n")
    f.write("# new loads can no longer be matched to the people already in the store.\n")
    f.write("\n".join(key.secrets) + "\n")


class KeyExists(StoreError):
    """The key file :func:`write_key` was to create exists already."""


def new_key(path: Path) -> IdentityKey:
    """A fresh random key written to ``path``."""
    return write_key(path, IdentityKey((secrets.token_bytes(32).hex(),)))


def key_for_new_store(path: Path) -> IdentityKey:
    """The key at ``path``, created when there is none. Where another process created it
    meanwhile, its key (complete: see :func:`write_key`) is the one used."""
    if path.exists():
        return read_key(path)
    try:
        return new_key(path)
    except KeyExists:
        return read_key(path)


def per_distinct(fn):
    """An Arrow function (for a DuckDB ``type="arrow"`` UDF) applying ``fn`` to each distinct
    non-null string of its input once; NULL stays NULL."""

    def apply(arr):
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        d = arr.dictionary_encode()
        vals = [None if v is None else fn(v) for v in d.dictionary.to_pylist()]
        return pc.take(pa.array(vals, pa.string()), d.indices)

    return apply


def register(con, key: IdentityKey) -> None:
    """SQL functions ``ctssw_pseudonym``, ``ctssw_builder`` and ``ctssw_hidden`` on ``con``: the
    three forms of a normalised identity under ``key``, each distinct value hashed once."""
    import duckdb

    def udf(form: str):
        return per_distinct(lambda v: key.pseudonym(v, form))

    for name, form in (("ctssw_pseudonym", "full"), ("ctssw_builder", "builder"), ("ctssw_hidden", "hidden")):
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass
        con.create_function(name, udf(form), ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
