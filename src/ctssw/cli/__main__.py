"""``python -m ctssw.cli``: the ``ctssw`` command."""

from __future__ import annotations

from ._app import main

main()
