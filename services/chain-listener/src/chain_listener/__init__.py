"""The chain-listener service."""
