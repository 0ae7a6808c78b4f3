"""The KPI catalogue: datasets and measures, KPIs, versioned targets; workspace files."""
