"""Background jobs claimed from the app database, and the worker loop that runs them."""
