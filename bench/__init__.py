"""Benchmarks: each prints its figures and the command that produced them (`make bench`)."""

from pathlib import Path

BENCH_STACK_DIR = Path(__file__).resolve().parent.parent / ".stack-bench"
"""The benchmarks' own local stack: a developer's `.stack/` is never touched."""
