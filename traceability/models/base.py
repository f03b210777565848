"""Shared column helpers for the tables."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """Timezone-aware now; every stored instant is UTC."""
    return datetime.now(UTC)
