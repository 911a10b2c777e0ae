"""Real Bitcoin transactions on the stack's regtest node: blocks mined to the stack's key, its
mature coinbase outputs spent to any address, and outputs of keys of our own spent again; every
transaction built and signed here (embit) and sent with `sendrawtransaction`. The demo's oracle
and the tests share it."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from embit import ec, script
from embit.networks import NETWORKS
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from reservesync.bitcoin_address import script_for
from reservesync.messages import Network

from devstack import bitcoin

FEE_SATS = 10_000
COINBASE_MATURITY = 100
NET = NETWORKS["regtest"]


@dataclass(frozen=True)
class BitcoinNode:
    """How to reach a regtest node and spend what it mines (`.stack/env`'s BITCOIN_* keys)."""

    rpc_url: str
    rpc_user: str
    rpc_password: str
    network: str
    mining_wif: str
    mining_address: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BitcoinNode:
        return cls(
            rpc_url=env["BITCOIN_RPC_URL"],
            rpc_user=env["BITCOIN_RPC_USER"],
            rpc_password=env["BITCOIN_RPC_PASSWORD"],
            network=env["BITCOIN_NETWORK"],
            mining_wif=env["BITCOIN_MINING_WIF"],
            mining_address=env["BITCOIN_MINING_ADDRESS"],
        )

    def env(self) -> dict[str, str]:
        """What a reader of the node needs (the mining key stays out)."""
        return {
            "BITCOIN_RPC_URL": self.rpc_url,
            "BITCOIN_RPC_USER": self.rpc_user,
            "BITCOIN_RPC_PASSWORD": self.rpc_password,
            "BITCOIN_NETWORK": self.network,
        }


@dataclass(frozen=True)
class Coin:
    txid: str
    vout: int
    sats: int


@dataclass
class OwnKey:
    """A P2WPKH key of our own: it can receive and spend."""

    key: ec.PrivateKey = field(default_factory=lambda: ec.PrivateKey(secrets.token_bytes(32)))

    @property
    def script(self) -> script.Script:
        return script.p2wpkh(self.key.get_public_key())

    @property
    def address(self) -> str:
        return str(self.script.address(NET))


def five_kinds() -> dict[str, str]:
    """One fresh regtest address of each kind: P2PKH, P2SH, P2WPKH, P2WSH, P2TR."""
    pub = [ec.PrivateKey(secrets.token_bytes(32)).get_public_key() for _ in range(5)]
    return {
        "p2pkh": str(script.p2pkh(pub[0]).address(NET)),
        "p2sh": str(script.p2sh(script.p2wpkh(pub[1])).address(NET)),
        "p2wpkh": str(script.p2wpkh(pub[2]).address(NET)),
        "p2wsh": str(script.p2wsh(script.p2pkh(pub[3])).address(NET)),
        "p2tr": str(script.p2tr(pub[4]).address(NET)),
    }


class Regtest:
    def __init__(self, node: BitcoinNode) -> None:
        self.node = node
        self.miner = OwnKey(ec.PrivateKey.from_wif(node.mining_wif))
        self.miner_script = self.miner.script
        self.used: set[tuple[str, int]] = set()

    def rpc(self, method: str, *params: Any) -> Any:
        return bitcoin.rpc(
            self.node.rpc_url, self.node.rpc_user, self.node.rpc_password, method, *params
        )

    def height(self) -> int:
        return int(self.rpc("getblockcount"))

    def mine(self, blocks: int) -> list[str]:
        """Blocks mined to the stack's key (btcd: `generate`; Bitcoin Core: generatetoaddress)."""
        try:
            return list(self.rpc("generate", blocks))
        except RuntimeError:
            return list(self.rpc("generatetoaddress", blocks, self.node.mining_address))

    def block_of(self, txid: str, *, within: int = 20) -> int:
        """The height of the block holding `txid`, among the last `within` blocks."""
        head = self.height()
        for height in range(head, max(0, head - within), -1):
            block = self.rpc("getblock", self.rpc("getblockhash", height), 1)
            if txid in block["tx"]:
                return height
        raise AssertionError(f"{txid} is in none of the last {within} blocks")

    def ensure_mature_coins(self) -> int:
        """Mines until the stack's key has spendable coinbase outputs; returns the height."""
        head = self.height()
        if head < COINBASE_MATURITY + 10:
            self.mine(COINBASE_MATURITY + 10 - head)
            head = self.height()
        return head

    def _mature_coin(self) -> Coin:
        head = self.ensure_mature_coins()
        for height in range(head - COINBASE_MATURITY, 0, -1):
            block = self.rpc("getblock", self.rpc("getblockhash", height), 2)
            coinbase = (block.get("tx") or block.get("rawtx"))[0]
            output = coinbase["vout"][0]
            if output["scriptPubKey"]["hex"] != self.miner_script.data.hex():
                continue
            if (coinbase["txid"], 0) in self.used or self.rpc(
                "gettxout", coinbase["txid"], 0
            ) is None:
                continue
            self.used.add((coinbase["txid"], 0))
            return Coin(coinbase["txid"], 0, round(output["value"] * 100_000_000))
        raise AssertionError("no unspent mature coinbase output of the stack's key")

    def send(
        self, payments: dict[str, int], *, also_spending: Sequence[tuple[Coin, OwnKey]] = ()
    ) -> tuple[str, dict[str, Coin]]:
        """One transaction from a mature coinbase of the stack's key paying `payments`
        (address -> sats), change back to the key; returns its txid and each payment's coin.
        `also_spending`: coins of other keys it spends too (the coinbase pays the fee)."""
        while True:
            coin = self._mature_coin()
            try:
                return self._spend([(coin, self.miner), *also_spending], payments, self.miner)
            except RuntimeError as refused:
                # Spent by a transaction waiting in the mempool (a block of an earlier test
                # was invalidated and its transactions went back there): take another coin.
                if "already spent" not in str(refused):
                    raise

    def spend(self, coin: Coin, owner: OwnKey, payments: dict[str, int]) -> str:
        """Spend a key's coin: `payments`, and the rest (less the fee) back to it."""
        txid, _ = self._spend([(coin, owner)], payments, owner)
        return txid

    def _spend(
        self,
        inputs: Sequence[tuple[Coin, OwnKey]],
        payments: dict[str, int],
        change: OwnKey,
    ) -> tuple[str, dict[str, Coin]]:
        outputs = [
            TransactionOutput(sats, script.Script(script_for(address, Network.REGTEST)))
            for address, sats in payments.items()
        ]
        rest = sum(coin.sats for coin, _ in inputs) - sum(payments.values()) - FEE_SATS
        assert rest >= 0, f"coins of {[c.sats for c, _ in inputs]} sats cannot pay {payments}"
        if rest > 0:
            outputs.append(TransactionOutput(rest, change.script))
        tx = Transaction(
            vin=[TransactionInput(bytes.fromhex(coin.txid), coin.vout) for coin, _ in inputs],
            vout=outputs,
        )
        for index, (coin, owner) in enumerate(inputs):
            public = owner.key.get_public_key()
            digest = tx.sighash_segwit(index, script.p2pkh(public), coin.sats)
            tx.vin[index].witness = script.witness_p2wpkh(owner.key.sign(digest), public)
        txid = str(self.rpc("sendrawtransaction", tx.serialize().hex()))
        coins = {address: Coin(txid, n, sats) for n, (address, sats) in enumerate(payments.items())}
        return txid, coins
