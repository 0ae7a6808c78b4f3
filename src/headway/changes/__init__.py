"""Generations: numbers that move whenever the database changes, so that cached pages,
sessions and users are known to be current with one cheap query (see `generations`)."""
