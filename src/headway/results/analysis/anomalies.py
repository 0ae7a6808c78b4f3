"""Values outside the expected band of their own history.

Each value is compared with the previous up to 12 values (at least 6): the band is their
median ± 3 robust standard deviations, 1.4826 × the median absolute deviation (MAD), which
equals the standard deviation for normal data but is not dragged by earlier outliers. When
half or more of the history is one value the MAD is 0; the mean absolute deviation × 1.2533
(again the standard deviation for normal data) stands in, and a history that never moved
flags any value that differs from it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW = 12
MIN_HISTORY = 6
WIDTH = 3.0
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


@dataclass(frozen=True)
class Anomaly:
    """The value at ``index`` fell outside ``[low, high]`` around the ``expected`` median."""

    index: int
    value: float
    expected: float
    low: float
    high: float


def band(history: Sequence[float]) -> tuple[float, float, float]:
    """The median of ``history`` and the band around it: (median, low, high)."""
    median = statistics.median(history)
    deviations = [abs(value - median) for value in history]
    scale = MAD_TO_SIGMA * statistics.median(deviations)
    if scale == 0:
        scale = MEAN_AD_TO_SIGMA * statistics.fmean(deviations)
    return median, median - WIDTH * scale, median + WIDTH * scale


def anomalies(
    values: Sequence[float | None], *, window: int = WINDOW, min_history: int = MIN_HISTORY
) -> list[Anomaly]:
    """Every value (by its index in ``values``) outside the band of the ``window`` known
    values before it; missing values are skipped and never flagged."""
    found: list[Anomaly] = []
    seen: list[float] = []
    for index, value in enumerate(values):
        if value is None:
            continue
        history = seen[-window:]
        if len(history) >= min_history:
            expected, low, high = band(history)
            if not low <= value <= high:
                found.append(Anomaly(index, value, expected, low, high))
        seen.append(value)
    return found
