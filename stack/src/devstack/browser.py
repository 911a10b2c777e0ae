"""Headless Chromium for tests that check what a person sees on a page (Debian `chromium`,
installed with apt-get when missing, as `postgres.py` installs PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devstack import procs

NAMES = ("chromium", "chromium-browser")


def ensure_chromium() -> Path:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    if os.geteuid() != 0:
        raise procs.StackError("no Chromium found; install the Debian package chromium")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        check=True,
        env=environment,
    )
    found = shutil.which("chromium")
    if found is None:
        raise procs.StackError("apt-get installed chromium, but it is not on PATH")
    return Path(found)


def rendered_dom(
    url: str, *, budget_ms: int = 5000, timeout_s: float = 90, width: int = 1280
) -> str:
    """The page's DOM after its scripts ran for `budget_ms` of virtual time (the browser
    fast-forwards timers and waits for pending fetches within the budget), in a window
    `width` pixels wide."""
    chromium = ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                str(chromium),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--window-size={width},1000",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if result.returncode != 0 or not result.stdout.strip():
        raise procs.StackError(
            f"chromium could not render {url} (exit {result.returncode}): {result.stderr[-2000:]}"
        )
    return result.stdout
