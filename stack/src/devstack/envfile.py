"""`.stack/env`: the endpoints the stack chose, as shell-quoted KEY=VALUE lines."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from devstack.paths import env_file


def read(path: Path | None = None) -> dict[str, str]:
    path = path or env_file()
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition("=")
        parsed = shlex.split(raw)
        values[key.strip()] = parsed[0] if parsed else ""
    return values


def update(changes: dict[str, str], path: Path | None = None) -> dict[str, str]:
    """Merge `changes` into the file; keys set to "" are removed."""
    path = path or env_file()
    values = read(path)
    values.update(changes)
    values = {k: v for k, v in values.items() if v != ""}
    body = "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(values.items()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by devstack; endpoints of the running local stack\n" + body)
    os.chmod(tmp, 0o600)  # it holds database passwords
    tmp.replace(path)
    return values
