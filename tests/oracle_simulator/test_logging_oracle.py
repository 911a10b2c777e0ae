"""An oracle that logs: every operation it performs reaches the operations topic through the
real oracle-logger process, exactly once."""

from __future__ import annotations

import secrets
from collections import Counter

from devstack import services
from devstack.protocol import Protocol
from reservesync.messages import InvalidMessage, OracleAction, OracleOperation, decode
from reservesync.topics import ORACLE_OPERATIONS
from scenarios.oracle.running import logger_credentials, running_oracle

from tests.support.stack import Endpoints
from tests.support.topics import read_all
from tests.support.waiting import eventually


async def test_every_operation_reaches_the_topic_once(
    endpoints: Endpoints, protocol: Protocol
) -> None:
    oracle_id, token = f"oracle-log-{secrets.token_hex(3)}", secrets.token_hex(16)
    prefix = f"lo{secrets.token_hex(2)}"
    urls = services.start(
        ["oracle-logger"],
        logger_credentials(oracle_id, token),
        stack=endpoints.env(),
        prefix=prefix,
    )
    try:
        async with running_oracle(protocol, endpoints.bitcoin, oracle_id=oracle_id) as oracle:
            oracle.start_logging(urls["ORACLE_LOGGER_URL"], token)
            user, address = Protocol.new_user(), oracle.wallet.new_address()
            protocol.deposit_fees(user, 10**16)
            await oracle.simulator.register(user, [(address, True)])
            oracle.wallet.set_balances({address: 70_000})
            await oracle.simulator.cycle()
            oracle.wallet.set_balances({address: 65_000})
            await oracle.simulator.cycle()
            journal = [op.operation_id for op in oracle.book.journal]
            assert [op.action for op in oracle.book.journal] == [
                OracleAction.USER_REGISTERED,
                OracleAction.BTC_ADDRESS_VERIFIED,
                OracleAction.MINT,
                OracleAction.BURN,
            ]
            assert oracle.simulator.committee.synced_sats(user) == 65_000

            async def ours() -> Counter[str]:
                records = await read_all(endpoints.kafka_bootstrap_servers, ORACLE_OPERATIONS.name)
                # Other tests leave hostile records on the topic: only valid operations count.
                operations = [_operation(value) for _, value, _, _ in records]
                found = Counter(
                    op.operation_id
                    for op in operations
                    if op is not None and op.oracle_id == oracle_id
                )
                return found if sum(found.values()) >= len(journal) else Counter()

            published = await eventually(ours, within=30, what="the oracle's operations")
            assert published == Counter(journal)
    finally:
        services.stop(["oracle-logger"], prefix=prefix)


def _operation(value: bytes | None) -> OracleOperation | None:
    try:
        message = decode(value, (OracleOperation,))
    except InvalidMessage:
        return None
    return message if isinstance(message, OracleOperation) else None
