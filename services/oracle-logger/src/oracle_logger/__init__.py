"""The oracle-logger service."""
