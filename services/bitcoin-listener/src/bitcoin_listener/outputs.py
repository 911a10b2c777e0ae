"""The unspent outputs of the watched addresses: blocks applied in order, and taken back.

An output is the address's when its scriptPubKey is the address's script
(`reservesync.bitcoin_address`); a spend is recognised by its outpoint, which is why every
unspent output of a watched address is kept, from the start height on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bitcoin_listener.checkpoint import Movement, Outpoints, ProcessedBlock
from bitcoin_listener.node import Block


class WatchedOutputs:
    def __init__(self, outputs: Mapping[str, Outpoints]) -> None:
        self.outputs: dict[str, Outpoints] = {a: dict(o) for a, o in outputs.items()}
        self.owner = {op: a for a, outs in self.outputs.items() for op in outs}

    @property
    def addresses(self) -> set[str]:
        return set(self.outputs)

    def balance(self, address: str) -> int:
        return sum(self.outputs.get(address, {}).values())

    def watch(self, addresses: Iterable[str]) -> None:
        for address in addresses:
            self.outputs.setdefault(address, {})

    def drop(self, address: str) -> None:
        for outpoint in self.outputs.pop(address, {}):
            self.owner.pop(outpoint, None)

    def apply(self, block: Block, scripts: Mapping[bytes, str]) -> ProcessedBlock:
        """Spend and create the outputs `block` moves for the addresses of `scripts` (script
        -> address); returns the record that lets `undo` take it back."""
        done = ProcessedBlock(height=block.height, hash=block.hash, time=block.time)
        watched = set(scripts.values())
        for tx in block.transactions:
            for outpoint in tx.spends:
                address = self.owner.get(outpoint)
                if address is None or address not in watched:
                    continue
                sats = self.outputs[address].pop(outpoint)
                del self.owner[outpoint]
                done.spent.append(Movement(address=address, outpoint=outpoint, sats=sats))
            for output in tx.outputs:
                address = scripts.get(output.script)
                if address is None:
                    continue
                self.outputs[address][output.outpoint] = output.sats
                self.owner[output.outpoint] = address
                done.created.append(
                    Movement(address=address, outpoint=output.outpoint, sats=output.sats)
                )
        return done

    def undo(self, block: ProcessedBlock) -> None:
        """Take back what `apply` did (for addresses still watched)."""
        for moved in reversed(block.created):
            if self.outputs.get(moved.address, {}).pop(moved.outpoint, None) is not None:
                self.owner.pop(moved.outpoint, None)
        for moved in reversed(block.spent):
            if moved.address in self.outputs:
                self.outputs[moved.address][moved.outpoint] = moved.sats
                self.owner[moved.outpoint] = moved.address

    def snapshot(self) -> dict[str, Outpoints]:
        return {a: dict(o) for a, o in self.outputs.items()}
