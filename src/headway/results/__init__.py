"""Computed KPI values per period and group, with provenance; recompute services."""
