"""An oracle that behaves like the reference one, for the demo and the tests.

It holds users and their Bitcoin addresses (`book`), reads balances from a mempool.space-
compatible HTTP API (`bitcoin`, with a fake node the caller controls), syncs each user's
balance on chain as the committee (`committee`), which mints, burns, or emergency-burns when
the fee vault is empty, reports every operation to the oracle-logger unless started "legacy"
(`simulator`), and serves its state encrypted as the reference oracle does (`server`). `seed`
replays the world of the seed report.
"""
