"""Telling a real secret key from a placeholder."""

from __future__ import annotations

WEAK_KEYS = frozenset({"changeme", "secret", "headway", "django-insecure"})


def strong_secret(key: str) -> bool:
    """At least 50 characters, not a known default, and not a few characters repeated."""
    return (
        len(key) >= 50
        and key.lower() not in WEAK_KEYS
        and not key.startswith("django-insecure")
        and len(set(key)) >= 10
    )
