"""`python -m chain_listener`: follows the EVM chain and publishes every protocol event to
Kafka exactly once (a Kafka transaction per block range, with its checkpoint)."""

from __future__ import annotations

from reservesync import cli, worker

from chain_listener.config import Settings
from chain_listener.listener import ChainListener


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m chain_listener", __doc__, Settings, argv)
    # Built inside the event loop: its Kafka clients need a running loop.
    worker.run("chain-listener", settings, lambda stop: ChainListener(settings).run(stop))


if __name__ == "__main__":
    main()
