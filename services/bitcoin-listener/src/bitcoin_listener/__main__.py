"""`python -m bitcoin_listener`: follows a Bitcoin node (Bitcoin Core's JSON-RPC, which btcd
also speaks) and publishes the confirmed balance of every verified Bitcoin address of the
oracle's user states to rbtc.bitcoin.balances.v1, exactly once."""

from __future__ import annotations

from reservesync import cli, worker

from bitcoin_listener.config import Settings
from bitcoin_listener.listener import BitcoinListener


def main(argv: list[str] | None = None) -> None:
    settings = cli.parse("python -m bitcoin_listener", __doc__, Settings, argv)
    # Built inside the event loop: its Kafka clients need a running loop.
    worker.run("bitcoin-listener", settings, lambda stop: BitcoinListener(settings).run(stop))


if __name__ == "__main__":
    main()
