"""Pure helpers: periods, numbers."""
