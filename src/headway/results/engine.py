"""The engine as the application runs it: on the warehouse its settings name."""

from __future__ import annotations

from django.conf import settings

from headway.engine.compute import Engine
from headway.engine.workspace import Workspace


def app_engine(workspace: Workspace) -> Engine:
    """An Engine for a workspace built from the app database, on HEADWAY_WAREHOUSE_URL
    (the embedded DuckDB when it is empty), so every number the app shows — stored results,
    formula previews, "my share" — comes from the same backend."""
    return Engine(workspace, warehouse=settings.HEADWAY_WAREHOUSE_URL or None)
