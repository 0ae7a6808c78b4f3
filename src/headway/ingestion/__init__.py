"""Data collection: imports of files into the warehouse (see docs/ingestion.md)."""
