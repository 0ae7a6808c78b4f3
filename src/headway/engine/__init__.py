"""The KPI engine: workspace model, parsers, planner, execution, targets. No Django."""
