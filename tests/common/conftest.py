"""Fixtures of the store, scheduler and watch tests (both stores: SQLite and PostgreSQL)."""

from __future__ import annotations

from support.store_fixtures import *  # noqa: F403
