"""The users' Bitcoin in the simulated world: the simulator holds the keys of their addresses
and moves real coins on the regtest chain, so what the oracle reads is an on-chain fact.

"The balance of this address becomes X" is one signed transaction: more arrives from a mature
coinbase output of the stack's mining key; less is every coin of the address spent at once,
X back to it and the rest to a sink of the simulator's own (the coinbase input pays the fee, so
both amounts are exact). Then blocks are mined until the transactions have the confirmations
the oracle waits for.
"""

from __future__ import annotations

from collections.abc import Mapping

from devstack.regtest import Coin, OwnKey, Regtest


class BitcoinWallet:
    def __init__(self, regtest: Regtest, confirmations: int) -> None:
        self.regtest = regtest
        self.confirmations = confirmations
        self.sink = OwnKey()
        """Where spent Bitcoin goes: out of every user's reach, into no balance that counts."""
        self._keys: dict[str, OwnKey] = {}
        self._coins: dict[str, list[Coin]] = {}

    def new_address(self) -> str:
        """A fresh P2WPKH regtest address whose key the wallet keeps."""
        key = OwnKey()
        self._keys[key.address] = key
        self._coins[key.address] = []
        return key.address

    def sent(self, address: str) -> int:
        """What the wallet made the address hold (the node, not this, is the oracle's truth)."""
        return sum(coin.sats for coin in self._coins[address])

    def set_balances(self, balances: Mapping[str, int]) -> None:
        """Each address's balance becomes its amount, confirmed: the transactions, then the
        blocks that confirm them (none when nothing changes)."""
        moved = [address for address, sats in balances.items() if self._move(address, sats)]
        if moved:
            self.regtest.mine(self.confirmations)

    def _move(self, address: str, sats: int) -> bool:
        if sats < 0:
            raise ValueError("a balance cannot be negative")
        held = self.sent(address)
        if sats > held:
            _, paid = self.regtest.send({address: sats - held})
            self._coins[address].append(paid[address])
        elif sats < held:
            owner = self._keys[address]
            payments = {self.sink.address: held - sats, **({address: sats} if sats else {})}
            spent = [(coin, owner) for coin in self._coins[address]]
            _, paid = self.regtest.send(payments, also_spending=spent)
            self._coins[address] = [paid[address]] if sats else []
        return sats != held
