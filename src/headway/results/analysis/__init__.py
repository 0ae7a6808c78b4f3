"""The analysis of KPIs: how a value moved, where it is heading, and why.

For a KPI in a period, :func:`analyse_kpi` gives a :class:`KpiAnalysis`:

- change against the previous period and the same period a year before (:mod:`.series`);
- for additive KPIs (counts and sums, see :mod:`.shape`), the year to date against its
  target, following the fiscal year, and pacing inside a period under way;
- a forecast to the end of the target period with 80% and 95% bands and the probability of
  meeting the target (:mod:`.forecast`, AutoETS);
- target realism over the last 12 periods (:mod:`.realism`);
- anomalies against each value's own history (:mod:`.anomalies`);
- the groups that moved it most, and a ratio's change split into rate and mix (:mod:`.drivers`);
- sentences in English and Traditional Chinese from those facts (:mod:`.insights`).

Every module but :mod:`.kpis` is pure arithmetic on numbers and periods, with no Django, and
can be imported without Django being set up (the backtest does): :func:`analyse_kpi` and
:class:`KpiAnalysis` are loaded from :mod:`.kpis` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headway.results.analysis.anomalies import Anomaly
from headway.results.analysis.drivers import Driver, GroupRateMix, RateMix
from headway.results.analysis.forecast import Forecast, ForecastPoint
from headway.results.analysis.realism import Realism, Verdict
from headway.results.analysis.series import Change, Pacing, Ytd

if TYPE_CHECKING:
    from headway.results.analysis.kpis import KpiAnalysis, analyse_kpi

__all__ = [
    "Anomaly",
    "Change",
    "Driver",
    "Forecast",
    "ForecastPoint",
    "GroupRateMix",
    "KpiAnalysis",
    "Pacing",
    "RateMix",
    "Realism",
    "Verdict",
    "Ytd",
    "analyse_kpi",
]


def __getattr__(name: str) -> Any:
    if name in ("KpiAnalysis", "analyse_kpi"):
        from headway.results.analysis import kpis

        return getattr(kpis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
