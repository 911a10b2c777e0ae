"""The line every benchmark prints first: what the figures were measured on."""

from __future__ import annotations

import os
import platform
import sys


def describe() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, "
        f"{platform.python_implementation()} {platform.python_version()}, {sys.platform}"
    )
