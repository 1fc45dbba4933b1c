"""Warnings for keys and certificates that expire soon, for `config check`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

__all__ = ["WARN_DAYS", "expiry_warnings"]

# `config check` warns this long before a key or certificate expires.
WARN_DAYS = 30


def expiry_warnings(
    items: Iterable[tuple[str, datetime | None]], *, now: datetime | None = None,
    days: int = WARN_DAYS,
) -> list[str]:
    """One warning per (what, not_after) that ends within ``days`` of ``now``."""
    moment = now or datetime.now(UTC)
    warnings = []
    for what, end in items:
        if end is None:
            continue
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        left = end - moment
        if left <= timedelta(days=days):
            when = "expired" if left.total_seconds() < 0 else "expires"
            warnings.append(f"{what} {when} on {end:%Y-%m-%d %H:%M} UTC "
                            f"({left.days} day(s) from now); renew or replace it before then")
    return warnings
