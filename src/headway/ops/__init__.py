"""Operating an installation: backups and their restore."""
