"""The db-writer service."""
