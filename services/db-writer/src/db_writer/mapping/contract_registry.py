"""`registry.contract/v1` → rows (see the table in `db_writer.mapping`)."""

from __future__ import annotations

from reservesync.messages import RegisteredContract

from db_writer.mapping.rows import Rows, Source


def registry_rows(record: RegisteredContract, source: Source) -> Rows:
    rows = Rows()
    rows.add(
        "system_contracts",
        {
            "chain_id": record.chain_id,
            "name": record.name.value,
            "address": record.address,
            "deployed_block": record.deployed_block,
            "code_present": record.code_present,
            "observed_at": record.observed_at,
            **source.columns(),
        },
    )
    return rows
