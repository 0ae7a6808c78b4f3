"""Headway: open-source KPI management."""

__version__ = "0.1.0"
