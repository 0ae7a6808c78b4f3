"""The append-only audit log and the service that writes it."""
