"""Command lines of every entry point: an argparse `--help` that lists the settings a command
reads (environment name, default, what it is for) and exits 0 before anything connects, and a bad
or missing setting answered with one line naming the variable (exit 2), not a traceback.

    parser = cli.parser("python -m db_writer", __doc__, Settings)
    args = parser.parse_args(argv)          # --help and unknown flags end here
    settings = cli.load(parser, Settings)   # a bad setting ends here, exit 2
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError

S = TypeVar("S", bound=BaseSettings)

USAGE_ERROR = 2
"""argparse's exit code for a bad command line; a bad setting is the same kind of mistake."""


def env_name(settings: type[BaseSettings], field: str) -> str:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, SecretStr) or (
        isinstance(value, dict) and any(isinstance(v, SecretStr) for v in value.values())
    ):
        return "default: (secret)"
    if value is None:
        return "default: unset"
    if isinstance(value, list | dict):
        return f"default: {json.dumps(value)}"
    return f"default: {value}"


def settings_help(*classes: type[BaseSettings]) -> str:
    """The `environment:` section of a command's help, one line per setting."""
    rows: dict[str, tuple[str, str]] = {}
    for settings in classes:
        for field, info in settings.model_fields.items():
            rows[env_name(settings, field)] = (_default(info), info.description or "")
    if not rows:
        return ""
    width = max(len(name) for name in rows)
    lines = ["environment (name, default, meaning):"]
    for name in sorted(rows):
        default, meaning = rows[name]
        lines.append(f"  {name:<{width}}  [{default}]" + (f"  {meaning}" if meaning else ""))
    return "\n".join(lines)


def parser(
    prog: str,
    description: str | None,
    *settings: type[BaseSettings],
    epilog: str = "",
) -> argparse.ArgumentParser:
    text = "\n\n".join(part for part in (epilog, settings_help(*settings)) if part)
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=text or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def parse(
    prog: str,
    description: str | None,
    settings: type[S],
    argv: Sequence[str] | None = None,
) -> S:
    """For a command with no arguments of its own: `--help`, then its settings."""
    command = parser(prog, description, settings)
    command.parse_args(argv)
    return load(command, settings)


def problem(settings: type[BaseSettings], exc: ValidationError | SettingsError) -> str:
    """One line: which variables are wrong and why (never their values: some are secrets)."""
    if isinstance(exc, SettingsError):
        # pydantic-settings names the field in quotes: 'error parsing value for field "x" ...'
        text = str(exc)
        for field in settings.model_fields:
            if f'"{field}"' in text:
                return f"{env_name(settings, field)}: not valid JSON"
        return text
    parts = []
    for error in exc.errors():
        location = error["loc"]
        field = str(location[0]) if location else ""
        message = error["msg"].removeprefix("Value error, ")
        if field in settings.model_fields:
            parts.append(f"{env_name(settings, field)}: {message}")
        else:
            parts.append(message)
    return "; ".join(parts)


def load(command: argparse.ArgumentParser, settings: type[S], **values: Any) -> S:
    """The settings from the environment (and `values`); a bad one ends the command with one
    line and exit code 2."""
    try:
        return settings(**values)
    except (ValidationError, SettingsError) as exc:
        command.exit(USAGE_ERROR, f"{command.prog}: bad setting: {problem(settings, exc)}\n")
