"""`python -m devstack up|down|status|env`: the local stack (Kafka, PostgreSQL, the chain) of
this checkout, its endpoints in `.stack/env`. `up` is idempotent; `down` stops everything."""

from __future__ import annotations

import sys

from reservesync import cli

from devstack import envfile, stack
from devstack.paths import StackSettings
from devstack.procs import StackError


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m devstack", __doc__, StackSettings)
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            stack.up()
            for name, version in stack.versions().items():
                print(f"  {name:<10} {version}")
        elif args.command == "down":
            stack.down()
        elif args.command == "status":
            for name, version in stack.versions().items():
                print(f"{name:<10} {version}")
            for key, value in envfile.read().items():
                secret = ("ADMIN", "KEY", "PASSWORD", "WIF")
                if not key.endswith("DATABASE_URL") and not any(s in key for s in secret):
                    print(f"{key}={value}")
        else:
            for key, value in envfile.read().items():
                print(f"{key}={value}")
    except StackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
