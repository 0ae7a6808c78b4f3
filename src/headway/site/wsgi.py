"""The WSGI application for gunicorn."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headway.site.settings")
os.environ.setdefault("HEADWAY_MODE", "production")
application = get_wsgi_application()


def _warm_forecast() -> None:
    """Imports and runs the forecast model once, before gunicorn forks its workers.

    statsforecast takes seconds to import (pandas, scipy, statsmodels): done in every worker
    on its first KPI page, that stalls the page for seconds (past gunicorn's timeout on a loaded
    machine). `headway serve` preloads this module, so the workers inherit the warm model."""
    from headway.results.analysis.forecast import fit

    fit([float(10 + index % 12 + index) for index in range(36)], horizon=3, season=12)


if os.environ.get("HEADWAY_WARM_FORECAST") == "1":
    _warm_forecast()
