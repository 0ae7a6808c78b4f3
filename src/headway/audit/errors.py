"""Errors that every service may raise, in words for people."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class NotAllowed(PermissionDenied):
    """The acting person may not do this."""


class ConflictError(Exception):
    """Someone else changed the object since it was read (optimistic concurrency)."""

    def __init__(self, label: str, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"{label} was changed by someone else (version {current}, you edited version "
            f"{expected}); reload it and make your change again"
        )


def check_version(label: str, expected: int | None, current: int) -> None:
    if expected is not None and expected != current:
        raise ConflictError(label, expected, current)
