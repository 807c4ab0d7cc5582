"""Metrics over the panel: org and hierarchy roll-ups (ratios of sums, never means of ratios)."""

from __future__ import annotations

from .rollup import cts_change, org_weekly

__all__ = ["cts_change", "org_weekly"]
