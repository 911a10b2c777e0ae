"""Jars from Maven Central: `mvn dependency:copy-dependencies` of a pom into a directory."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from devstack import procs

log = logging.getLogger(__name__)


def copy_dependencies(pom: Path, into: Path, *options: str) -> Path:
    """The runtime jars of `pom` in `into`, resolved once per change of the pom (Maven caches
    the downloads in ~/.m2); `options` are extra `-D...` flags of the goal."""
    stamp = into / ".pom"
    wanted = pom.read_text() + "\n".join(options)
    if stamp.exists() and stamp.read_text() == wanted:
        return into
    if shutil.which("mvn") is None:
        raise procs.StackError(f"Maven (mvn) is needed to fetch {pom}'s jars from Maven Central")
    if into.exists():
        shutil.rmtree(into)
    log.info("resolving %s from Maven Central", pom)
    settings = pom.parent / "maven-settings.xml"
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            *(["-s", str(settings)] if settings.exists() else []),
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={into}",
            *options,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.StackError(f"mvn could not resolve {pom}:\n{result.stdout}\n{result.stderr}")
    stamp.write_text(wanted)
    return into
