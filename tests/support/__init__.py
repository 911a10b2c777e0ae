"""Test support: the real stack (testcontainers or the local stack) and helpers to drive it."""
