"""From messages to rows: the one place that says what each message becomes in Postgres.

| message                                  | rows                                                 |
|------------------------------------------|------------------------------------------------------|
| chain OracleAggregator.Synced, delta ≠ 0 | transactions MINT/BURN (sats, fee), balance_history, |
|                                          | balance_snapshots, users                             |
| chain OracleAggregator.Synced(u,0,-p,0,0)| balance_history (EMERGENCY_BURN), balance_snapshots: |
|                                          | the balance half of a burn whose money movement is   |
|                                          | the EmergencyBurn row just before it                 |
| chain OracleAggregator.EmergencyBurn     | transactions EMERGENCY_BURN, emergency_burns, users  |
| chain OracleAggregator.NeedsTopUp        | users                                                |
| chain FeeVault.Deposited/Spent/Withdrawn | transactions DEPOSIT/FEE_SPENT/WITHDRAW (wei), users |
| chain VaultWrBTC.Wrapped/Redeemed/Slashed| transactions WRAP/REDEEM/SLASH (sats), users         |
| chain YieldScalesPool.*                  | yield_operations_log (+ participants recomputed);    |
|                                          | YieldClaimed also transactions YIELD_CLAIM;          |
|                                          | BalanceDisputed also balance_disputes RAISED         |
| chain Transfer (rBTC, wrBTC)             | token_movements: the sender's `out`, the receiver's  |
|                                          | `in` (the zero address of mints and burns has none); |
|                                          | balances of any holder are their sums                |
| chain Approval (rBTC, wrBTC)             | nothing                                              |
| chain.reorg/v1                           | the partition's rows of orphaned blocks removed from |
|                                          | every chain table, the chain's evidence of users and |
|                                          | burns from them too; merged rows and participants    |
|                                          | recomputed                                           |
| oracle.operation/v1                      | oracle_operations_log (Bitcoin address encrypted),   |
|                                          | users                                                |
| … action EMERGENCY_BURN with amount      | also emergency_burns (reported by the oracle)        |
| … action DISPUTE_RESOLVED                | also balance_disputes RESOLVED (reason encrypted)    |
| oracle.user_state/v1                     | oracle_user_states (newest `as_of` wins), users,     |
|                                          | bitcoin_addresses (encrypted + keyed hash),          |
|                                          | emergency_burns the oracle knows of                  |
| tombstone on the state topic             | the user's oracle_user_states row (the user is gone) |
| registry.contract/v1                     | system_contracts (newest observation wins)           |
| bitcoin.address_balance/v1               | bitcoin_address_balances (address encrypted + keyed  |
|                                          | hash; the newest record of the address wins)         |
| tombstone on the Bitcoin balances topic  | the address's bitcoin_address_balances row (no       |
|                                          | longer watched)                                      |

Users are discovered from `user` arguments only (`from`/`to`/`spender` also name contracts)
and from the oracle. "users" and "emergency_burns" above are evidence rows, one per source
partition, that `db_writer.merged` merges into those tables: a burn the chain and the oracle
both report is one row, and a reorg takes back only the chain's part of it. Every row carries
the topic, partition and offset of its message. Which events are money movements, whose user
an event names and which reports are burns is `reservesync.ledger`, shared with the health
service that counts the same things at the source.
"""

from __future__ import annotations

from reservesync.crypto import FieldCipher
from reservesync.messages import (
    BitcoinAddressBalance,
    ChainEvent,
    Message,
    OracleOperation,
    OracleUserState,
    RegisteredContract,
)

from db_writer.mapping.bitcoin import balance_rows
from db_writer.mapping.chain import chain_event_rows
from db_writer.mapping.contract_registry import registry_rows
from db_writer.mapping.oracle import operation_rows, state_rows
from db_writer.mapping.rows import Row, Rows, Source

__all__ = ["Row", "Rows", "Source", "rows_for"]


def rows_for(message: Message, source: Source, cipher: FieldCipher) -> Rows:
    if isinstance(message, ChainEvent):
        return chain_event_rows(message, source)
    if isinstance(message, OracleOperation):
        return operation_rows(message, source, cipher)
    if isinstance(message, OracleUserState):
        return state_rows(message, source, cipher)
    if isinstance(message, RegisteredContract):
        return registry_rows(message, source)
    if isinstance(message, BitcoinAddressBalance):
        return balance_rows(message, source, cipher)
    raise TypeError(f"no mapping for {type(message).__name__}")
