"""Fixtures of the status page, badge, /metrics and browser tests."""

from __future__ import annotations

from support.status_store import seeded_status_db

__all__ = ["seeded_status_db"]
