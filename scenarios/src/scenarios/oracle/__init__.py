"""An oracle that behaves like the reference one, for the demo and the tests.

It holds users and their Bitcoin addresses (`book`), reads their confirmed balances from the
stack's regtest node (`bitcoin`), syncs each user's balance on chain as the committee
(`committee`), which mints, burns, or emergency-burns when the fee vault is empty, reports every
operation to the oracle-logger unless started "legacy" (`simulator`), and serves its state
encrypted as the reference oracle does (`server`). The users' keys are the simulator's: it moves
their coins with real transactions on the same chain (`wallet`). `seed` replays the world of the
seed report.
"""
