"""Is a target realistic? How often the last periods' values would have met it.

A target met in fewer than 20% of the last 12 periods is flagged too hard, one met in more
than 90% too easy; the target that would have been met half the time is the median of those
values (met in at least half of them, either way round).
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from headway.engine.model import Direction
from headway.results.analysis.series import meets

WINDOW = 12
MIN_PERIODS = 6
TOO_HARD_BELOW = 0.2
TOO_EASY_ABOVE = 0.9


class Verdict(enum.StrEnum):
    TOO_HARD = "too_hard"
    REALISTIC = "realistic"
    TOO_EASY = "too_easy"


@dataclass(frozen=True)
class Realism:
    """``met`` of the last ``periods`` values would have met ``target``."""

    target: float
    periods: int
    met: int
    half_time_target: float
    verdict: Verdict

    @property
    def share(self) -> float:
        return self.met / self.periods


def realism(
    values: Sequence[float | None],
    target: float,
    direction: Direction,
    *,
    window: int = WINDOW,
    min_periods: int = MIN_PERIODS,
) -> Realism | None:
    """How the last ``window`` values (oldest first; missing ones skipped) fare against
    ``target``; None with fewer than ``min_periods`` values."""
    recent = [value for value in values if value is not None][-window:]
    if len(recent) < min_periods:
        return None
    met = sum(1 for value in recent if meets(value, target, direction))
    share = met / len(recent)
    if share < TOO_HARD_BELOW:
        verdict = Verdict.TOO_HARD
    elif share > TOO_EASY_ABOVE:
        verdict = Verdict.TOO_EASY
    else:
        verdict = Verdict.REALISTIC
    return Realism(target, len(recent), met, float(statistics.median(recent)), verdict)
