"""Entrypoint: `python -m chain_listener`."""

from __future__ import annotations

from reservesync import worker

from chain_listener.config import Settings
from chain_listener.listener import ChainListener


def main() -> None:
    settings = Settings()
    # Built inside the event loop: its Kafka clients need a running loop.
    worker.run("chain-listener", settings, lambda stop: ChainListener(settings).run(stop))


if __name__ == "__main__":
    main()
