"""Exceptions and warnings raised by ctssw.

Every error ctssw raises on purpose derives from :class:`CtsswError`; where a
built-in fits, the class inherits it too, so ``except ValueError`` still works::

    CtsswError
    ├── ConfigError(ValueError)        bad argument or setting
    ├── DataError(ValueError)          an input file or table cannot be used
    │   ├── SchemaError                missing columns, unreadable format
    │   └── MissingDataError           the store lacks what a command needs (names the fix)
    ├── StoreError(RuntimeError)       the DuckDB store is missing or incompatible
    └── EstimationError(RuntimeError)  a model cannot be fitted on this data

    CtsswWarning(UserWarning)
    ├── DataWarning                    rows quarantined, metrics undefined
    ├── ConvergenceWarning             an optimiser stopped early
    ├── SingularFitWarning             a variance component is on the boundary
    └── PrivacyWarning                 output rows suppressed below the privacy floor
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConvergenceWarning",
    "CtsswError",
    "CtsswWarning",
    "DataError",
    "DataWarning",
    "EstimationError",
    "MissingDataError",
    "PrivacyWarning",
    "SchemaError",
    "SingularFitWarning",
    "StoreError",
    "first_line",
]


class CtsswError(Exception):
    """Root of every error ctssw raises on purpose."""


class ConfigError(ValueError, CtsswError):
    """An argument or setting is not allowed; the message names the allowed values."""


class DataError(ValueError, CtsswError):
    """An input cannot be used as given."""


class SchemaError(DataError):
    """An input lacks required columns or is not in the expected format."""


class MissingDataError(DataError):
    """The store lacks the data a command needs; the message names the command that supplies it."""


class StoreError(RuntimeError, CtsswError):
    """The store is missing, locked, or written by an incompatible version."""


class EstimationError(RuntimeError, CtsswError):
    """A model cannot be estimated on this data (too few units, rank deficiency, ...)."""


class CtsswWarning(UserWarning):
    """Root of ctssw's warnings."""


class DataWarning(CtsswWarning):
    """Data were quarantined, or a metric is undefined for some rows."""


class ConvergenceWarning(CtsswWarning):
    """An optimiser stopped before meeting its tolerance."""


class SingularFitWarning(CtsswWarning):
    """A fitted variance component is at (or numerically near) its boundary."""


class PrivacyWarning(CtsswWarning):
    """Rows describing fewer builders than the privacy floor were suppressed."""


def first_line(e: BaseException) -> str:
    """The first non-blank line of ``e``'s message (its class name when there is none): what a
    one-line error shows of a library's multi-line message."""
    return next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
