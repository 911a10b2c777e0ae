"""An oracle process for the outbox test: logs operations `{run}-{i}` for one user through
`OracleLoggerClient` with an outbox file, one every few milliseconds, printing `logged i` once
`log_operation` returned; then flushes and prints `flushed`.

    python outbox_oracle.py URL ORACLE_ID TOKEN OUTBOX USER RUN START END
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from oracle_logger.client import OracleLoggerClient
from reservesync.messages import OracleOperation


def operation(oracle_id: str, user: str, operation_id: str) -> OracleOperation:
    return OracleOperation.model_validate(
        {
            "operation_id": operation_id,
            "action": "SYNC",
            "user_address": user,
            "amount_sats": 1000,
            "previous_sats": 0,
            "consensus_reached": True,
            "sources_used": ["mempool"],
            "status": "success",
            "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "oracle_id": oracle_id,
        }
    )


async def main(argv: list[str]) -> None:
    url, oracle_id, token, outbox, user, run, start, end = argv
    async with OracleLoggerClient(
        url, oracle_id, token=token, outbox=outbox, max_delay_s=0.05, backoff_max_s=1.0
    ) as client:
        for i in range(int(start), int(end)):
            await client.log_operation(operation(oracle_id, user, f"{run}-{i}"))
            print(f"logged {i}", flush=True)
            await asyncio.sleep(0.01)
        await client.flush()
    print("flushed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:9]))
