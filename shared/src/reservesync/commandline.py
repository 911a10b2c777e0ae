"""A service's command line: `--help` lists its settings and exits without side effects, and a
bad setting is one clear line on stderr with exit status 2, not a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from enum import Enum
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def settings_help(settings_type: type[BaseSettings]) -> str:
    lines = ["settings (environment variables):"]
    for name, field in settings_type.model_fields.items():
        value = None if field.is_required() else field.get_default(call_default_factory=True)
        shown = value.value if isinstance(value, Enum) else value
        default = "required" if field.is_required() else f"default {shown!r}"
        about = f": {field.description}" if field.description else ""
        lines.append(f"  {name.upper()} ({default}){about}")
    return "\n".join(lines)


def settings_from_environment(
    settings_type: type[S], prog: str, description: str, argv: Sequence[str] | None = None
) -> S:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=settings_help(settings_type),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        return settings_type()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).upper() or "settings"
        parser.exit(2, f"{prog}: bad setting {where}: {first['msg']}\n")
