"""The web UI's pages as paths, for links that lower layers write (notifications, e-mails,
comments) without importing the web layer, which sits above them.

tests/lib/test_paths.py checks each builder against `django.urls.reverse` of the web URL
it stands for, so the two cannot drift apart.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


def _part(value: str | int) -> str:
    # As `reverse` writes a path argument: percent-encoded but for RFC 3986's
    # sub-delimiters and "/~:@".
    return quote(str(value), safe="!$&'()*+,;=/~:@")


def kpi_path(key: str, *, period: str = "") -> str:
    """A KPI's page (web:kpi), at a period's discussion when `period` is given."""
    query = f"?{urlencode({'period': period})}" if period else ""
    return f"/kpis/{_part(key)}/{query}"


def goal_path(key: str) -> str:
    """A goal's page (web:goal)."""
    return f"/goals/{_part(key)}/"


def meeting_path(meeting_id: int) -> str:
    """A review meeting's page (web:review_meeting)."""
    return f"/reviews/meetings/{int(meeting_id)}/"


def proposal_path(proposal_id: int) -> str:
    """A proposal's page (web:proposal)."""
    return f"/proposals/{int(proposal_id)}/"


def workshop_path(workshop_id: int, page: str = "") -> str:
    """A workshop's page (web:workshop), or one of its pages below it: "board/"
    (web:workshop_board)."""
    return f"/workshops/{int(workshop_id)}/{page}"
