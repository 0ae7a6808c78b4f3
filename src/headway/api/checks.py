"""A last check on every write: the KPI system must still be one the engine can compute.

The app database is looser than the workspace rules the engine enforces (a target's group
dimension must exist in the KPI's data, names have lengths, keys have shapes...). The
API's schemas mirror those rules, and this check catches whatever slips past them: the
write and the check run in one transaction, and a write that adds a problem is rolled
back and refused with 422, naming each problem. Problems that were there before the write
(from elsewhere) do not block it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from headway.api.errors import EngineRefused
from headway.engine.problems import HeadwayError, Problem
from headway.results.services import app_workspace


def _problems() -> tuple[Problem, ...]:
    try:
        app_workspace()
    except HeadwayError as error:
        return error.problems
    return ()


@contextmanager
def engine_checked() -> Iterator[None]:
    before = set(_problems())
    with transaction.atomic():
        yield
        added = [problem for problem in _problems() if problem not in before]
        if added:
            raise EngineRefused(added)
