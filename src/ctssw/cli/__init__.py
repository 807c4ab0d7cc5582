"""The ``ctssw`` command line: thin commands over :mod:`ctssw.pipeline`."""

from __future__ import annotations

from ._app import app, main

__all__ = ["app", "main"]
